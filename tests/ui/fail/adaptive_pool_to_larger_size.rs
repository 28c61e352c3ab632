// Adaptive pooling only shrinks: 4×4 cannot be pooled to 8×8 (that is a resize).
use hepaseg_core::{ops::adaptive_avg_pool, Map};

fn main() {
    let x: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    let mut y: Map<2, 8, 8> = [[[0.0; 8]; 8]; 2];
    adaptive_avg_pool(&x, &mut y);
}
