// 2 groups over 4 input channels is fine, but 3 output channels cannot be shared by 2 groups.
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<4, 8, 8> = [[[1.0; 8]; 8]; 4];
    let w: ConvWeight<3, 2, 3> = [[[[0.5; 3]; 3]; 2]; 3];
    let mut y: Map<3, 8, 8> = [[[0.0; 8]; 8]; 3];
    Conv2d::<1, 1, 1, 2>::forward(&x, &w, None, &mut y);
}
