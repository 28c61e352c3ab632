// A small encoder stage wired with correct types, output sizes named with `conv_out`:
// 3×3 conv (8×8 → 8×8), 3×3 stride-2 conv (→ 4×4), grouped 1×1 conv, depthwise 3×3,
// dilated 3×3 with matching padding. Checks a few values so the program must also run right.
use hepaseg_core::{
    ops::{conv_out, relu, Conv2d, DepthwiseConv2d},
    ConvWeight, Map,
};

const H0: usize = 8;
const H1: usize = conv_out(H0, 3, 2, 1, 1);

fn main() {
    assert_eq!(H1, 4);
    let x: Map<2, H0, H0> = [[[1.0; H0]; H0]; 2];

    // 3×3, stride 1, pad 1, with bias.
    let w1: ConvWeight<4, 2, 3> = [[[[0.5; 3]; 3]; 2]; 4];
    let b1 = [1.0f32; 4];
    let mut y1: Map<4, { conv_out(H0, 3, 1, 1, 1) }, { conv_out(H0, 3, 1, 1, 1) }> =
        [[[0.0; H0]; H0]; 4];
    Conv2d::<1, 1>::forward(&x, &w1, Some(&b1), &mut y1);
    relu(&mut y1);
    assert_eq!(y1[0][3][3], 1.0 + 2.0 * 9.0 * 0.5); // interior: every tap inside
    assert_eq!(y1[0][0][0], 1.0 + 2.0 * 4.0 * 0.5); // corner: 2×2 taps inside

    // 3×3, stride 2, pad 1: 8×8 → 4×4.
    let w2: ConvWeight<8, 4, 3> = [[[[0.25; 3]; 3]; 4]; 8];
    let mut y2: Map<8, H1, H1> = [[[0.0; H1]; H1]; 8];
    Conv2d::<2, 1>::forward(&y1, &w2, None, &mut y2);
    assert!(y2
        .iter()
        .flatten()
        .flatten()
        .all(|v| v.is_finite() && *v > 0.0));

    // Grouped 1×1 conv: 8 → 4 channels in 2 groups (CIG = 4).
    let w3: ConvWeight<4, 4, 1> = [[[[1.0; 1]; 1]; 4]; 4];
    let mut y3: Map<4, H1, H1> = [[[0.0; H1]; H1]; 4];
    Conv2d::<1, 0, 1, 2>::forward(&y2, &w3, None, &mut y3);
    // Channel 0 sums input channels 0..4, channel 3 sums 4..8 (all equal here).
    assert_eq!(y3[0][1][1], 4.0 * y2[0][1][1]);
    assert_eq!(y3[3][1][1], 4.0 * y2[7][1][1]);

    // Depthwise 3×3, pad 1 (the Mix-FFN conv).
    let wd: ConvWeight<4, 1, 3> = [[[[1.0; 3]; 3]; 1]; 4];
    let mut yd: Map<4, H1, H1> = [[[0.0; H1]; H1]; 4];
    DepthwiseConv2d::<1, 1>::forward(&y3, &wd, Some(&[0.0; 4]), &mut yd);
    assert!(yd[2][1][1] > y3[2][1][1]);

    // Dilation 2 with padding 2 keeps the size.
    let w4: ConvWeight<1, 4, 3> = [[[[1.0; 3]; 3]; 4]; 1];
    let mut y4: Map<1, { conv_out(H1, 3, 1, 2, 2) }, H1> = [[[0.0; H1]; H1]; 1];
    Conv2d::<1, 2, 2>::forward(&yd, &w4, None, &mut y4);
    assert!(y4[0][0][0] > 0.0);
}
