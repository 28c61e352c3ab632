// A batch norm over 4 channels whose running variance has only 3 entries.
use hepaseg_core::{
    ops::{batch_norm, BatchNorm, BN_EPS},
    Map,
};

fn main() {
    let gamma = [1.0f32; 4];
    let beta = [0.0f32; 4];
    let mean = [0.0f32; 4];
    let var = [1.0f32; 3];
    let bn = BatchNorm {
        gamma: &gamma,
        beta: &beta,
        mean: &mean,
        var: &var,
        eps: BN_EPS,
    };
    let mut x: Map<4, 2, 2> = [[[1.0; 2]; 2]; 4];
    batch_norm(&mut x, &bn);
}
