// An attention gate is one channel broadcast over all channels; a 2-channel gate is rejected.
use hepaseg_core::{ops::mul_pixel, Map};

fn main() {
    let mut x: Map<8, 4, 4> = [[[1.0; 4]; 4]; 8];
    let gate: Map<2, 4, 4> = [[[0.5; 4]; 4]; 2];
    mul_pixel(&mut x, &gate);
}
