// A 5×5 kernel without padding does not fit a 3×3 map (the output size would underflow).
use hepaseg_core::{ops::Conv2d, ConvWeight, Map};

fn main() {
    let x: Map<1, 3, 3> = [[[1.0; 3]; 3]; 1];
    let w: ConvWeight<1, 1, 5> = [[[[0.5; 5]; 5]; 1]; 1];
    let mut y: Map<1, 1, 1> = [[[0.0; 1]; 1]; 1];
    Conv2d::<1, 0>::forward(&x, &w, None, &mut y);
}
