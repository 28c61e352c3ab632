// A 3×3 conv with dilation 2 spans 5 pixels: with padding 1 (instead of 2) it shrinks
// 8×8 to 6×6, not 8×8.
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
    let w: ConvWeight<2, 2, 3> = [[[[0.5; 3]; 3]; 2]; 2];
    let mut y: Map<2, 8, 8> = [[[0.0; 8]; 8]; 2];
    Conv2d::<1, 1, 2>::forward(&x, &w, None, &mut y);
}
