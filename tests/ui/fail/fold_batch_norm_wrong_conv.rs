// Folding a 4-channel batch norm into a conv with 8 output channels.
use hepaseg_core::{
    ops::{fold_batch_norm, BatchNorm, BN_EPS},
    ConvWeight,
};

fn main() {
    let ones = [1.0f32; 4];
    let zeros = [0.0f32; 4];
    let bn = BatchNorm {
        gamma: &ones,
        beta: &zeros,
        mean: &zeros,
        var: &ones,
        eps: BN_EPS,
    };
    let mut w: ConvWeight<8, 2, 3> = [[[[0.5; 3]; 3]; 2]; 8];
    let mut bias = [0.0f32; 8];
    fold_batch_norm(&mut w, &mut bias, &bn);
}
