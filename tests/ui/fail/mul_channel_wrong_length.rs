// Squeeze-excitation weights must have one entry per channel (16), not 4 (the squeezed width).
use hepaseg_core::{ops::mul_channel, Map};

fn main() {
    let mut x: Map<16, 2, 2> = [[[1.0; 2]; 2]; 16];
    let se = [0.5f32; 4];
    mul_channel(&mut x, &se);
}
