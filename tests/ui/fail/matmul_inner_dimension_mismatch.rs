// (4×3) · (5×2): the inner dimensions 3 and 5 differ.
use hepaseg_core::{ops::matmul, Mat};

fn main() {
    let a: Mat<4, 3> = [[1.0; 3]; 4];
    let b: Mat<5, 2> = [[1.0; 2]; 5];
    let mut y: Mat<4, 2> = [[0.0; 2]; 4];
    matmul(&a, &b, &mut y);
}
