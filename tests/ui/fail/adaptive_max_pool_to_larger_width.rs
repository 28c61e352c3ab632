// Max pooling has the same rule, per axis: 8 rows to 4 is fine, 4 columns to 6 is not.
use hepaseg_core::{ops::adaptive_max_pool, Map};

fn main() {
    let x: Map<2, 8, 4> = [[[1.0; 4]; 8]; 2];
    let mut y: Map<2, 4, 6> = [[[0.0; 6]; 4]; 2];
    adaptive_max_pool(&x, &mut y);
}
