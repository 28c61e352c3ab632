// Viewing a 4×4 map's channels as rows needs rows of 16 pixels, not 12.
use hepaseg_core::{tensor::map_as_mat, Map, Mat};

fn main() {
    let x: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    let m: &Mat<2, 12> = map_as_mat(&x);
    assert_eq!(m[0][0], 1.0);
}
