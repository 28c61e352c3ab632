// A consistent 4-channel batch norm applied to an 8-channel map.
use hepaseg_core::{
    ops::{batch_norm, BatchNorm, BN_EPS},
    Map,
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
    let mut x: Map<8, 2, 2> = [[[1.0; 2]; 2]; 8];
    batch_norm(&mut x, &bn);
}
