// The mean over zero pixels is undefined, so pooling an empty map does not build.
use hepaseg_core::{ops::global_avg_pool, Map};

fn main() {
    let x: Map<3, 0, 4> = [[[1.0; 4]; 0]; 3];
    let mut y = [0.0f32; 3];
    global_avg_pool(&x, &mut y);
}
