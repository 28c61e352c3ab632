//! Runs core's f32 ops on arbitrary data: no input value (NaN, ±∞, subnormal, huge) may make
//! an op panic. Outputs may be NaN; a few invariants are checked where the inputs make them
//! hold (finite, moderate values).
//!
//! The input bytes are read as little-endian f32 (missing bytes are 0): first the 2×8×8 input
//! map, then the convolution weights and biases, then layer-norm affine parameters. The first
//! byte also picks the offset of a byte arena, to check that a misaligned arena is an error
//! value, not a panic.
#![no_main]

use hepaseg_core::ops::{self, AlignCorners, Axis, Conv2d, DepthwiseConv2d};
use hepaseg_core::tensor::{map_ref, Flat};
use hepaseg_core::{ConvWeight, Error, Map, Mat, Scratch, Tokens};
use libfuzzer_sys::fuzz_target;

/// Reads little-endian f32 values from the fuzz input, then zeros.
struct Floats<'a> {
    bytes: core::slice::ChunksExact<'a, u8>,
}

impl Floats<'_> {
    fn next(&mut self) -> f32 {
        self.bytes
            .next()
            .map_or(0.0, |c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
    }

    fn fill(&mut self, out: &mut [f32]) {
        for v in out {
            *v = self.next();
        }
    }
}

/// Values for which sums of a few hundred terms cannot overflow.
fn moderate(v: &[f32]) -> bool {
    v.iter().all(|x| x.is_finite() && x.abs() < 1e30)
}

fuzz_target!(|data: &[u8]| {
    let mut floats = Floats {
        bytes: data.chunks_exact(4),
    };

    // A byte arena at an input-chosen offset: misaligned offsets must be an error value.
    // 259 bytes hold exactly 64 f32 (the partial trailing word is ignored).
    let mut bytes = vec![0u8; 259 + 8];
    let offset = usize::from(data.first().copied().unwrap_or(0) % 8);
    let base = bytes.as_ptr() as usize;
    match Scratch::from_bytes(&mut bytes[offset..offset + 259]) {
        Ok(mut s) => {
            assert_eq!((base + offset) % 4, 0);
            assert!(s.take_map::<1, 8, 8>().is_ok());
            assert!(matches!(
                s.take_map::<1, 1, 1>(),
                Err(Error::ArenaTooSmall { .. })
            ));
        }
        Err(e) => {
            assert_eq!(e, Error::ArenaMisaligned);
            assert_ne!((base + offset) % 4, 0);
        }
    }

    // Everything else comes from an f32 arena, as in a forward pass.
    let mut backing = vec![0.0f32; 4096];
    let mut scratch = Scratch::from_f32(&mut backing);
    let x = scratch
        .take_map::<2, 8, 8>()
        .expect("arena holds the input");
    floats.fill(x.flat_mut());
    let finite = moderate(x.flat());

    // Convolutions: plain 3×3, strided, dilated, grouped, depthwise, 1×1.
    let mut w3: ConvWeight<3, 2, 3> = Default::default();
    floats.fill(w3.flat_mut());
    let mut b3 = [0.0f32; 3];
    floats.fill(&mut b3);
    let y = scratch.take_map::<3, 8, 8>().expect("arena");
    Conv2d::<1, 1>::forward(x, &w3, Some(&b3), y);
    let ys = scratch.take_map::<3, 4, 4>().expect("arena");
    Conv2d::<2, 1>::forward(x, &w3, None, ys);
    let yd = scratch.take_map::<3, 8, 8>().expect("arena");
    Conv2d::<1, 2, 2>::forward(x, &w3, Some(&b3), yd);
    let mut wg: ConvWeight<4, 1, 3> = Default::default();
    floats.fill(wg.flat_mut());
    let yg = scratch.take_map::<4, 6, 6>().expect("arena");
    Conv2d::<1, 0, 1, 2>::forward(x, &wg, None, yg);
    let mut wdw: ConvWeight<2, 1, 3> = Default::default();
    floats.fill(wdw.flat_mut());
    let ydw = scratch.take_map::<2, 8, 8>().expect("arena");
    DepthwiseConv2d::<1, 1>::forward(x, &wdw, None, ydw);
    let mut w1: ConvWeight<2, 2, 1> = Default::default();
    floats.fill(w1.flat_mut());
    let y1 = scratch.take_map::<2, 8, 8>().expect("arena");
    Conv2d::<1, 0>::forward(x, &w1, None, y1);

    // Activations.
    ops::relu(y);
    assert!(y.flat().iter().all(|v| *v >= 0.0 || v.is_nan()));
    ops::sigmoid(ys);
    assert!(ys
        .flat()
        .iter()
        .all(|v| (0.0..=1.0).contains(v) || v.is_nan()));
    ops::gelu(yd);

    // Bilinear resampling, both conventions, up and down.
    let up = scratch.take_map::<2, 13, 13>().expect("arena");
    ops::resize_bilinear(x, up, AlignCorners::True);
    let up2 = scratch.take_map::<2, 16, 16>().expect("arena");
    ops::resize_bilinear(x, up2, AlignCorners::False);
    let down = scratch.take_map::<2, 3, 5>().expect("arena");
    ops::resize_bilinear(x, down, AlignCorners::False);
    let one = scratch.take_map::<2, 1, 1>().expect("arena");
    ops::resize_bilinear(x, one, AlignCorners::True);
    if finite {
        // align_corners = true puts the output corners on the input corners.
        assert_eq!(up[0][0][0], x[0][0][0]);
        assert_eq!(up[1][12][12], x[1][7][7]);
    }

    // Adaptive pools (overlapping bins for 8 → 3 and 8 → 5) and the global average.
    let avg = scratch.take_map::<2, 3, 3>().expect("arena");
    ops::adaptive_avg_pool(x, avg);
    let max = scratch.take_map::<2, 3, 3>().expect("arena");
    ops::adaptive_max_pool(x, max);
    let max5 = scratch.take_map::<2, 5, 5>().expect("arena");
    ops::adaptive_max_pool(x, max5);
    let gap = scratch.take_vec::<2>().expect("arena");
    ops::global_avg_pool(x, gap);
    if finite {
        for (a, m) in avg.flat().iter().zip(max.flat()) {
            // An average of equal values may round one ulp above them.
            assert!(
                *a <= m + m.abs() * 1e-5 + 1e-37,
                "average {a} above maximum {m}"
            );
        }
        let global_max = x.flat().iter().copied().fold(f32::NEG_INFINITY, f32::max);
        assert!(max5.flat().iter().all(|m| *m <= global_max));
    }

    // Softmax over rows and over columns of the input viewed as a matrix.
    let rows: &mut Mat<8, 16> = scratch.take_mat::<8, 16>().expect("arena");
    rows.flat_mut().copy_from_slice(x.flat());
    ops::softmax(rows, Axis::Rows);
    let cols: &mut Mat<8, 16> = scratch.take_mat::<8, 16>().expect("arena");
    cols.flat_mut().copy_from_slice(x.flat());
    ops::softmax(cols, Axis::Cols);
    if finite {
        for row in rows.iter() {
            let sum: f32 = row.iter().sum();
            assert!((sum - 1.0).abs() < 1e-4, "row sums to {sum}");
        }
        for c in 0..16 {
            let sum: f32 = cols.iter().map(|r| r[c]).sum();
            assert!((sum - 1.0).abs() < 1e-4, "column sums to {sum}");
        }
    }
    ops::softmax_in_place(&mut []);

    // Layer norm over tokens with input-chosen affine parameters.
    let tokens: &mut Tokens<16, 8> = scratch.take_mat::<16, 8>().expect("arena");
    tokens.flat_mut().copy_from_slice(x.flat());
    let mut gamma = [0.0f32; 8];
    let mut beta = [0.0f32; 8];
    floats.fill(&mut gamma);
    floats.fill(&mut beta);
    ops::layer_norm(tokens, &gamma, &beta, ops::LN_EPS);
    let unit: &mut Tokens<16, 8> = scratch.take_mat::<16, 8>().expect("arena");
    unit.flat_mut().copy_from_slice(x.flat());
    ops::layer_norm(unit, &[1.0; 8], &[0.0; 8], ops::LN_EPS);
    if finite {
        // Each normalised token has mean ≈ 0 and every value is bounded by √D.
        for t in unit.iter() {
            assert!(t.iter().all(|v| v.abs() <= 8f32.sqrt() + 1e-3), "{t:?}");
        }
    }

    // The typed views over flat memory reject wrong lengths instead of panicking.
    assert!(map_ref::<f32, 2, 8, 8>(&x.flat()[1..]).is_none());
    let _: Option<&Map<2, 8, 8>> = map_ref(x.flat());
});
