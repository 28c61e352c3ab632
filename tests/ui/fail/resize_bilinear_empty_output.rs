// Resampling to an empty map is rejected (there is no pixel grid to map onto).
use hepaseg_core::{
    ops::{resize_bilinear, AlignCorners},
    Map,
};

fn main() {
    let x: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    let mut y: Map<2, 0, 8> = [[[0.0; 8]; 0]; 2];
    resize_bilinear(&x, &mut y, AlignCorners::True);
}
