// A depthwise conv has one single-channel filter per channel (`ConvWeight<C, 1, K>`); passing
// a dense conv's weights `[C][C][K][K]` is a type error.
use hepaseg_core::{ops::DepthwiseConv2d, ConvWeight, Map};

fn main() {
    let x: Map<4, 8, 8> = [[[1.0; 8]; 8]; 4];
    let w: ConvWeight<4, 4, 3> = [[[[0.5; 3]; 3]; 4]; 4];
    let mut y: Map<4, 8, 8> = [[[0.0; 8]; 8]; 4];
    DepthwiseConv2d::<1, 1>::forward(&x, &w, None, &mut y);
}
