//! Mix-FFN (PVT-v2's `Mlp` with `DWConv`): Linear(C, CH) → depthwise Conv3×3 (pad 1, bias) on
//! the token map → exact GELU → Linear(CH, C), with `CH = 4C` in CAFCT-Net.
//!
//! The hidden layer is streamed **one hidden channel at a time**: channel `j` of fc1 is
//! computed as an `H × W` plane, convolved with its own depthwise filter, passed through GELU
//! and immediately accumulated into the output through column `j` of fc2. So the block needs
//! two planes of scratch instead of two `CH × H × W` maps, and every output is still summed in
//! the order a plain `Linear(CH, C)` uses (hidden index ascending, then the bias). fc1 reads the
//! tokens as a channel-major map (one transposed copy, `C × H × W` of scratch), so each hidden
//! plane is vector multiply–adds over 32 pixels at a time, kept in registers across the `C`
//! features ([`ops::linalg::mix_channels`]), each token still summing its terms in feature
//! order, then the bias.

use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops::{self, DepthwiseConv2d};
use crate::param_struct;
use crate::params::{ConvBias, Linear};
use crate::tensor::{Flat, Tokens};

/// Hidden channels whose planes are kept before they are added into the outputs together:
/// the output tile is then loaded and stored once per group instead of once per channel.
pub const GROUP: usize = 8;

param_struct! {
    /// Parameters of a Mix-FFN on `C` features with `CH` hidden features.
    pub struct MixFfnParams<'a, const C: usize, const CH: usize> {
        fc1: Linear<'a, CH, C>,
        dwconv: ConvBias<'a, CH, 1, 3>,
        fc2: Linear<'a, C, CH>,
    }
}

/// A Mix-FFN on the `H × W` tokens of a map.
#[derive(Debug, Clone, Copy, Default)]
pub struct MixFfn<const C: usize, const CH: usize, const H: usize, const W: usize>;

impl<const C: usize, const CH: usize, const H: usize, const W: usize> MixFfn<C, CH, H, W> {
    /// One hidden plane before the depthwise convolution, [`GROUP`] after it, and the tokens
    /// as a channel-major map.
    pub const SCRATCH_BYTES: usize = map_bytes(1 + GROUP, H, W) + map_bytes(C, H, W);
    /// fc1, the depthwise convolution (`CH·9·N`) and fc2.
    pub const MACS: u64 = (H * W * C * CH + CH * 9 * H * W + H * W * CH * C) as u64;

    /// `y = fc2(GELU(dwconv(fc1(x))))`: the hidden channels in groups of [`GROUP`], each
    /// group's planes added into the outputs by register tiles
    /// ([`ops::linalg::accumulate_planes`]) — the same bits as [`Self::forward_reference`].
    pub fn forward<const N: usize>(
        p: &MixFfnParams<'_, C, CH>,
        x: &Tokens<N, C>,
        y: &mut Tokens<N, C>,
        scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        Self::run::<N, GROUP>(p, x, y, scratch, ops::linalg::accumulate_planes)
    }

    /// The one-hidden-channel-at-a-time form: each plane added into all `N × C` outputs before
    /// the next is computed. Kept as the reference the grouped [`Self::forward`] is tested
    /// against, bit for bit.
    pub fn forward_reference<const N: usize>(
        p: &MixFfnParams<'_, C, CH>,
        x: &Tokens<N, C>,
        y: &mut Tokens<N, C>,
        scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        Self::run::<N, 1>(p, x, y, scratch, |y, columns, planes| {
            for (column, plane) in columns.iter().zip(planes) {
                for (yn, g) in y.iter_mut().zip(plane.iter()) {
                    for (o, w) in yn.iter_mut().zip(column) {
                        *o += w * g;
                    }
                }
            }
        })
    }

    /// The hidden planes `G` at a time: fc1 of the group (all `G` rows together over the
    /// channel-major tokens when the group is whole and `G` is [`GROUP`]:
    /// [`ops::linalg::mix_channels_group`]; one row at a time otherwise), then per plane its
    /// bias, depthwise filter and GELU (through `pre`, copied back), then the group handed to
    /// `add` with its fc2 columns; fc2's bias last.
    fn run<const N: usize, const G: usize>(
        p: &MixFfnParams<'_, C, CH>,
        x: &Tokens<N, C>,
        y: &mut Tokens<N, C>,
        mut scratch: Scratch<'_>,
        add: impl Fn(&mut [[f32; C]], &[[f32; C]], &[&[f32]]),
    ) -> Result<(), Error> {
        const { assert!(N == H * W, "one token per map pixel") };
        const { assert!(G >= 1 && G <= GROUP, "a group fits the scratch") };
        let pre = scratch.take_map::<1, H, W>()?;
        let group = scratch.take_map::<G, H, W>()?;
        let xmap = scratch.take_map::<C, H, W>()?;
        ops::tokens_to_map(x, xmap);
        for row in y.iter_mut() {
            row.fill(0.0);
        }
        let mut columns = [[0.0f32; C]; G];
        for (j0, rows) in (0..).step_by(G).zip(p.fc1.weight.chunks(G)) {
            match <&[[f32; C]; G]>::try_from(rows) {
                Ok(whole) if G == GROUP => ops::linalg::mix_channels_group(xmap, whole, group),
                _ => {
                    for (w1, plane) in rows.iter().zip(group.iter_mut()) {
                        ops::linalg::mix_channels(xmap, w1, plane.as_flattened_mut());
                    }
                }
            }
            let hidden = p
                .fc1
                .bias
                .iter()
                .zip(p.dwconv.weight.iter())
                .zip(p.dwconv.bias);
            let hidden = hidden.skip(j0).take(rows.len());
            // Hidden channel k's plane after depthwise + GELU goes one plane down (`pre` for
            // the first): that plane's fc1 output has been read by then, so nothing is copied.
            for (k, ((b1, wd), bd)) in hidden.enumerate() {
                let (done, rest) = group.split_at_mut(k);
                let Some(plane) = rest.first_mut() else { break };
                let plane = core::array::from_mut(plane);
                for v in plane.flat_mut() {
                    *v += b1;
                }
                let out = match done.last_mut() {
                    Some(below) => core::array::from_mut(below),
                    None => &mut *pre,
                };
                DepthwiseConv2d::<1, 1>::forward(
                    plane,
                    core::array::from_ref(wd),
                    Some(core::array::from_ref(bd)),
                    out,
                );
                ops::gelu(out);
                columns[k] = core::array::from_fn(|c| p.fc2.weight[c][j0 + k]);
            }
            let mut planes: [&[f32]; G] = [&[]; G];
            planes[0] = pre.flat();
            for (dst, plane) in planes.iter_mut().skip(1).zip(group.iter()) {
                *dst = plane.as_flattened();
            }
            add(y, &columns[..rows.len()], &planes[..rows.len()]);
        }
        for yn in y.iter_mut() {
            for (o, b) in yn.iter_mut().zip(p.fc2.bias) {
                *o += b;
            }
        }
        Ok(())
    }
}
