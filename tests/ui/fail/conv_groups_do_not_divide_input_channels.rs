// 2 groups cannot split 3 input channels: no per-group weight width CIG gives CIG × 2 = 3.
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<3, 8, 8> = [[[1.0; 8]; 8]; 3];
    let w: ConvWeight<4, 1, 3> = [[[[0.5; 3]; 3]; 1]; 4];
    let mut y: Map<4, 8, 8> = [[[0.0; 8]; 8]; 4];
    Conv2d::<1, 1, 1, 2>::forward(&x, &w, None, &mut y);
}
