// Concatenating 2 and 3 channels gives 5, not 6.
use hepaseg_core::{ops::concat2, Map};

fn main() {
    let a: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    let b: Map<3, 4, 4> = [[[2.0; 4]; 4]; 3];
    let mut y: Map<6, 4, 4> = [[[0.0; 4]; 4]; 6];
    concat2(&a, &b, &mut y);
}
