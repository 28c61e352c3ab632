// Query–key scores q · kᵀ need queries and keys of the same width (8 vs 6 here).
use hepaseg_core::{ops::matmul_bt, Mat};

fn main() {
    let q: Mat<16, 8> = [[1.0; 8]; 16];
    let k: Mat<4, 6> = [[1.0; 6]; 4];
    let mut scores: Mat<16, 4> = [[0.0; 4]; 16];
    matmul_bt(&q, &k, &mut scores);
}
