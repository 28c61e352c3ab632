// The bias has one entry per *input* channel instead of per output channel.
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
    let w: ConvWeight<4, 2, 3> = [[[[0.5; 3]; 3]; 2]; 4];
    let bias = [0.0f32; 2];
    let mut y: Map<4, 8, 8> = [[[0.0; 8]; 8]; 4];
    Conv2d::<1, 1>::forward(&x, &w, Some(&bias), &mut y);
}
