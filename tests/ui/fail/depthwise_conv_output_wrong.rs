// Depthwise 3×3, stride 1, pad 1 keeps 8×8; the output buffer is sized as if unpadded (6×6).
use hepaseg_core::{ops::DepthwiseConv2d, ConvWeight, Map};

fn main() {
    let x: Map<4, 8, 8> = [[[1.0; 8]; 8]; 4];
    let w: ConvWeight<4, 1, 3> = [[[[0.5; 3]; 3]; 1]; 4];
    let mut y: Map<4, 6, 6> = [[[0.0; 6]; 6]; 4];
    DepthwiseConv2d::<1, 1>::forward(&x, &w, None, &mut y);
}
