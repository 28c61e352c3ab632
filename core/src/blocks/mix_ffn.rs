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
use crate::tensor::{Flat, Map, Tokens};

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
            for (column, plane) in columns.iter().zip(planes.chunks_exact(N)) {
                for (yn, g) in y.iter_mut().zip(plane) {
                    for (o, w) in yn.iter_mut().zip(column) {
                        *o += w * g;
                    }
                }
            }
        })
    }

    /// The hidden planes `G` at a time, each full group (and the last, partial one) handed to
    /// `add` with its fc2 columns, then fc2's bias.
    fn run<const N: usize, const G: usize>(
        p: &MixFfnParams<'_, C, CH>,
        x: &Tokens<N, C>,
        y: &mut Tokens<N, C>,
        mut scratch: Scratch<'_>,
        add: impl Fn(&mut [[f32; C]], &[[f32; C]], &[f32]),
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
        let hidden = p
            .fc1
            .weight
            .iter()
            .zip(p.fc1.bias)
            .zip(p.dwconv.weight.iter().zip(p.dwconv.bias));
        let mut columns = [[0.0f32; C]; G];
        let (mut j0, mut filled) = (0, 0);
        for ((w1, b1), (wd, bd)) in hidden {
            let post = core::array::from_mut(&mut group[filled]);
            Self::hidden_plane(xmap, w1, *b1, wd, *bd, pre, post);
            columns[filled] = core::array::from_fn(|c| p.fc2.weight[c][j0 + filled]);
            filled += 1;
            if filled == G || j0 + filled == CH {
                add(y, &columns[..filled], &group.flat()[..filled * N]);
                j0 += filled;
                filled = 0;
            }
        }
        for yn in y.iter_mut() {
            for (o, b) in yn.iter_mut().zip(p.fc2.bias) {
                *o += b;
            }
        }
        Ok(())
    }

    /// Hidden channel `j`'s plane after GELU: fc1 row `w1` and bias `b1` over the channel-major
    /// tokens, then its depthwise filter `wd` with bias `bd` (`pre` holds the plane between).
    fn hidden_plane(
        xmap: &Map<C, H, W>,
        w1: &[f32; C],
        b1: f32,
        wd: &[[[f32; 3]; 3]; 1],
        bd: f32,
        pre: &mut Map<1, H, W>,
        post: &mut Map<1, H, W>,
    ) {
        let plane = pre.flat_mut();
        ops::linalg::mix_channels(xmap, w1, plane);
        for v in plane.iter_mut() {
            *v += b1;
        }
        DepthwiseConv2d::<1, 1>::forward(
            pre,
            core::array::from_ref(wd),
            Some(core::array::from_ref(&bd)),
            post,
        );
        ops::gelu(post);
    }
}
