// A residual add of a 4×4 map onto an 8×8 map (e.g. a skip that missed a downsample).
use hepaseg_core::{ops::add, Map};

fn main() {
    let mut a: Map<2, 8, 8> = [[[1.0; 8]; 8]; 2];
    let b: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    add(&mut a, &b);
}
