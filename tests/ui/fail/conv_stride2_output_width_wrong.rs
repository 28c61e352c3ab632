// 3×3 conv, stride 2, pad 1 takes 8×8 to 4×4; the output buffer keeps the input width (8).
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
    let w: ConvWeight<4, 2, 3> = [[[[0.5; 3]; 3]; 2]; 4];
    let mut y: Map<4, 4, 8> = [[[0.0; 8]; 4]; 4];
    Conv2d::<2, 1>::forward(&x, &w, None, &mut y);
}
