// Layer norm over 64 features with a 32-entry scale.
use hepaseg_core::{
    ops::{layer_norm, LN_EPS},
    Tokens,
};

fn main() {
    let mut x: Tokens<4, 64> = [[1.0; 64]; 4];
    let gamma = [1.0f32; 32];
    let beta = [0.0f32; 64];
    layer_norm(&mut x, &gamma, &beta, LN_EPS);
}
