// Batch norm applied, and folded into the conv before it (same result); the element-wise ops
// with channel and pixel broadcast.
use hepaseg_core::{
    ops::{
        add, add_channel, add_into, add_pixel, batch_norm, fold_batch_norm, mul, mul_channel,
        mul_pixel, scale, sigmoid, BatchNorm, Conv2d, BN_EPS,
    },
    ConvWeight, Map,
};

fn main() {
    let x: Map<2, 4, 4> = [[[1.0; 4]; 4]; 2];
    let mut w: ConvWeight<3, 2, 3> = [[[[0.5; 3]; 3]; 2]; 3];
    let (gamma, beta, mean, var) = ([2.0f32; 3], [0.5f32; 3], [1.0f32; 3], [4.0f32; 3]);
    let bn = BatchNorm {
        gamma: &gamma,
        beta: &beta,
        mean: &mean,
        var: &var,
        eps: BN_EPS,
    };

    let mut y: Map<3, 4, 4> = [[[0.0; 4]; 4]; 3];
    Conv2d::<1, 1>::forward(&x, &w, None, &mut y);
    batch_norm(&mut y, &bn);

    let mut bias = [0.0f32; 3];
    fold_batch_norm(&mut w, &mut bias, &bn);
    let mut folded: Map<3, 4, 4> = [[[0.0; 4]; 4]; 3];
    Conv2d::<1, 1>::forward(&x, &w, Some(&bias), &mut folded);
    for (a, b) in y
        .iter()
        .flatten()
        .flatten()
        .zip(folded.iter().flatten().flatten())
    {
        assert!((a - b).abs() <= 1e-5 * a.abs().max(1.0));
    }

    let mut gate: Map<1, 4, 4> = [[[0.0; 4]; 4]; 1];
    sigmoid(&mut gate);
    mul_pixel(&mut y, &gate);
    add_pixel(&mut y, &gate);
    mul_channel(&mut y, &[1.0, 2.0, 3.0]);
    add_channel(&mut y, &[0.0; 3]);
    let snapshot = y;
    add(&mut y, &snapshot);
    mul(&mut y, &snapshot);
    scale(&mut y, 0.5);
    let mut sum: Map<3, 4, 4> = [[[0.0; 4]; 4]; 3];
    add_into(&y, &snapshot, &mut sum);
    assert!(sum.iter().flatten().flatten().all(|v| v.is_finite()));
}
