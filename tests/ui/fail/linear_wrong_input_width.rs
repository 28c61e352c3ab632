// A linear layer with PyTorch weights [out = 16][in = 32] applied to 64-feature tokens.
use hepaseg_core::{ops::linear, Mat, Tokens};

fn main() {
    let x: Tokens<4, 64> = [[1.0; 64]; 4];
    let w: Mat<16, 32> = [[0.0; 32]; 16];
    let mut y: Tokens<4, 16> = [[0.0; 16]; 4];
    linear(&x, &w, None, &mut y);
}
