// Concatenating along channels needs equal H and W: a 16×16 skip cannot join an 8×16 map.
use hepaseg_core::{ops::concat2, Map};

fn main() {
    let a: Map<2, 16, 16> = [[[1.0; 16]; 16]; 2];
    let b: Map<3, 8, 16> = [[[2.0; 16]; 8]; 3];
    let mut y: Map<5, 16, 16> = [[[0.0; 16]; 16]; 5];
    concat2(&a, &b, &mut y);
}
