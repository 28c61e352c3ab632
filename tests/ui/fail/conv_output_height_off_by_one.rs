// 3×3 conv, stride 1, pad 1 keeps 8×8 at 8×8; the output buffer claims 7 rows.
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
    let w: ConvWeight<4, 2, 3> = [[[[0.5; 3]; 3]; 2]; 4];
    let mut y: Map<4, 7, 8> = [[[0.0; 8]; 7]; 4];
    Conv2d::<1, 1>::forward(&x, &w, None, &mut y);
}
