// A 2-group conv over 4 channels needs weights [CO][4/2][K][K]; these are the ungrouped
// [CO][4][K][K], so CIG × G = 8 ≠ 4.
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<4, 8, 8> = [[[1.0; 8]; 8]; 4];
    let w: ConvWeight<4, 4, 3> = [[[[0.5; 3]; 3]; 4]; 4];
    let mut y: Map<4, 8, 8> = [[[0.0; 8]; 8]; 4];
    Conv2d::<1, 1, 1, 2>::forward(&x, &w, None, &mut y);
}
