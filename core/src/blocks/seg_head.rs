//! Segmentation head of CAFCT-Net, on the map the network has already upsampled to the input
//! size: Conv3×3(C→C, no bias) + BN + ReLU, then Conv1×1(C→1, bias) — one logit map.
//!
//! The hidden map is streamed in bands of [`BAND_ROWS`] rows: the 3×3 convolution of every
//! hidden channel for one band (the fast kernel computes exactly the bits the full convolution
//! would), then per channel `c` normalised, rectified and accumulated into the band's logits with
//! weight `out[0][c]`, in channel order, rounded as the convolution kernel rounds. That is the
//! same arithmetic, in the same order, as the two full convolutions, with `C × 8` rows of scratch
//! instead of a `C × H × W` map (the head runs at full resolution). A band of all channels keeps
//! the convolution's register tiles full; one channel at a time would run them at a sixth of
//! their width.

use super::unit::{conv_macs, ConvBnParams};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::conv_fast::{conv_rows, mul_add_into};
use crate::ops::conv_geometry::Geometry;
use crate::param_struct;
use crate::params::ConvBias;
use crate::tensor::{Flat, Map};

param_struct! {
    /// Parameters of the head on `C` channels.
    pub struct SegHeadParams<'a, const C: usize> {
        conv: ConvBnParams<'a, C, C, 3>,
        out: ConvBias<'a, 1, C, 1>,
    }
}

/// The head on `C × H × W`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SegHead<const C: usize, const H: usize, const W: usize>;

/// Rows of the hidden map computed at a time.
pub const BAND_ROWS: usize = 8;

impl<const C: usize, const H: usize, const W: usize> SegHead<C, H, W> {
    /// One band of the hidden map (all channels).
    pub const SCRATCH_BYTES: usize = map_bytes(C, if H < BAND_ROWS { H } else { BAND_ROWS }, W);
    /// Both convolutions.
    pub const MACS: u64 = conv_macs(C, C, 3, H, W) + conv_macs(C, 1, 1, H, W);

    /// Writes the logits.
    pub fn forward(
        p: &SegHeadParams<'_, C>,
        x: &Map<C, H, W>,
        y: &mut Map<1, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const BAND: usize = BAND_ROWS;
        let geom = const { Geometry::checked((1, 1, 1, 1), (C, H, W), (C, H, W), C, 3) };
        let hidden = scratch.take_f32(C * BAND.min(H) * W)?;
        let bn = p.conv.bn.norm();
        y.flat_mut().fill(p.out.bias[0]);
        for r0 in (0..H).step_by(BAND) {
            let rows = r0..(r0 + BAND).min(H);
            let band = &mut hidden[..C * rows.len() * W];
            conv_rows(
                &geom,
                x.flat(),
                p.conv.conv.weight.flat(),
                None,
                rows.clone(),
                band,
            );
            let out = &mut y.flat_mut()[rows.start * W..rows.end * W];
            for (c, plane) in band.chunks_exact_mut(rows.len() * W).enumerate() {
                let (scale, shift) = bn.affine(c);
                for h in plane.iter_mut() {
                    *h = (*h * scale + shift).max(0.0);
                }
                // The 1×1 convolution's term for channel c, rounded as the convolution kernel
                // rounds it (fused on FMA builds).
                mul_add_into(out, p.out.weight[0][c][0][0], plane);
            }
        }
        Ok(())
    }
}
