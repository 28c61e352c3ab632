// Resampling changes H and W, never the channel count: 4 channels in, 2 out.
use hepaseg_core::{
    ops::{resize_bilinear, AlignCorners},
    Map,
};

fn main() {
    let x: Map<4, 4, 4> = [[[1.0; 4]; 4]; 4];
    let mut y: Map<2, 8, 8> = [[[0.0; 8]; 8]; 2];
    resize_bilinear(&x, &mut y, AlignCorners::False);
}
