//! CAFCT-Net in int8: the blocks of [`super::cafct`] with integer-only kernels, reading their
//! quantized tensors from an int8 blob (naming scheme: [`crate::int8::graph`]).
//!
//! Every preset of [`super::cafct`] gets, inside its module, `int8::PLAN_INT8`,
//! `int8::ARENA_BYTES_INT8`, `int8::ParamsQ`, `Net::forward_int8` and the
//! [`Int8Network`](super::int8::Int8Network) impl, from
//! [`cafct_int8_body!`](crate::cafct_int8_body).
//!
//! # The int8 graph and its activation points
//!
//! ```text
//! input (f32) ─quantize─ act.input
//! CNN branch P (cnn, cnn2): stem conv+BN+ReLU       act.P.stem
//!   BasicBlocks P.level1.0, P.level{2,3,4}.{0,1}    act.<block>.{conv1,conv2,downsample,out}
//! transformer stage S = trans.stage{1..4}:
//!   embed conv (bias) → tokens → LN                 act.S.embed.conv, act.S.embed.norm
//!   block B = S.block{0,1}:
//!     LN                                            act.B.norm1
//!     SRA A = B.attn: q linear                      act.A.q
//!       [sr conv (bias), LN]                        act.A.sr, act.A.norm
//!       kv linear (keys, then values)               act.A.kv
//!       scores q·k/√d per head                      act.A.score    (A.score.requant, A.score.exp)
//!       softmax (1/256, −128), A·V                  act.A.attn     (A.attn.requant)
//!       proj linear                                 act.A.proj
//!     x + attn                                      act.B.res1     (B.res1.add)
//!     LN                                            act.B.norm2
//!     Mix-FFN F = B.ffn: fc1, depthwise 3×3, GELU   act.F.fc1, act.F.dwconv, act.F.gelu (F.gelu.lut)
//!       fc2                                         act.F.fc2
//!     x + ffn                                       act.B.res2     (B.res2.add)
//!   final LN → map                                  act.S.norm
//! AFF X = aff.{0..3}: [cnn; second] rescaled        act.X.cat      (X.cat.rescale [2, 2])
//!   GAP (keeps X.cat), squeeze (ReLU), excite, σ    act.X.squeeze, act.X.excite, act.X.gate (X.gate.lut)
//!   Z ⊙ e                                           act.X.scaled   (X.scaled.mul)
//!   fuse conv+BN+ReLU                               act.X.fuse
//! ASPP: convs.0..3 (+BN+ReLU), GAP → convs.4        act.aspp.convs.{0..4}
//!   concat (each rescaled)                          act.aspp.cat   (aspp.cat.rescale [5, 2])
//!   project conv+BN+ReLU                            act.aspp.project
//!   (ablation: one conv+BN+ReLU                     act.aspp)
//! decoder D = decoder.{0,1,2}: up ×2 (align_corners = false, keeps its input's point)
//!   AG: w_x, w_g conv+BN                            act.D.ag.w_x, act.D.ag.w_g
//!       ReLU(x1 + g1)                               act.D.ag.sum   (D.ag.sum.add)
//!       psi conv+BN, σ                              act.D.ag.psi, act.D.ag.gate (D.ag.gate.lut)
//!       skip ⊙ ψ                                    act.D.ag.out   (D.ag.out.mul)
//!   concat [gated skip, up] (each rescaled)         act.D.cat      (D.cat.rescale [2, 2])
//!   conv1, conv2 (conv+BN+ReLU)                     act.D.conv1, act.D.conv2
//! up ×2 to the input size (keeps act.decoder.2.conv2)
//! head: conv3×3+BN+ReLU (streamed per channel)      act.head.conv
//!   conv1×1 — the logits                            act.head.out
//! ```
//!
//! Probe order: token-major for tokens (`q` and `attn` one token at a time, scores one token
//! and head at a time), channel-major for maps (`F.dwconv`, `F.gelu` and `head.conv` one
//! channel at a time).

// Errors carry the failing tensor's name (no allocation), which makes `Int8Error` larger
// than clippy's default; it is only built on the error path.
#![allow(clippy::result_large_err)]

use crate::arena::{i32_bytes, i8_bytes, map_bytes_i8, max, Scratch};
use crate::error::Error;
use crate::int8::concat::requantize_in_place;
use crate::int8::conv::{Conv2dQ, DepthwiseConv2dQ};
use crate::int8::elementwise;
use crate::int8::graph::{
    probe, rescale, AddQ, AttentionQ, Int8Error, LayerNormQ, LinearQ, LutQ, MulQ, Point, Probe,
    QName, Reader, UnitQ,
};
use crate::int8::linalg::{tensor_outputs, transpose_columns, weighted_values, HeadKeys};
use crate::int8::pool;
use crate::int8::quant::{Clamp, PerChannelQuant, Requant, TensorQuant, MAX_ACT_DOT_TERMS};
use crate::int8::softmax::{ExpTable, OUTPUT_ZERO_POINT};
use crate::nets::agcaf_int8::BasicBlockQ;
use crate::tensor::{
    channels_at_mut, mat_mut, mat_ref, split_channels_mut, vec_mut, Flat, Map, Mat, Tokens,
};

/// `y[n][c] = x[c][n]` for int8 maps.
pub fn map_to_tokens_i8<const C: usize, const H: usize, const W: usize, const N: usize>(
    x: &Map<C, H, W, i8>,
    y: &mut Tokens<N, C, i8>,
) {
    const { assert!(N == H * W, "token count must equal H*W") };
    for (c, plane) in x.iter().enumerate() {
        for (p, v) in plane.as_flattened().iter().enumerate() {
            y[p][c] = *v;
        }
    }
}

/// `y[c][n] = x[n][c]` for int8 tokens.
pub fn tokens_to_map_i8<const C: usize, const H: usize, const W: usize, const N: usize>(
    x: &Tokens<N, C, i8>,
    y: &mut Map<C, H, W, i8>,
) {
    const { assert!(N == H * W, "token count must equal H*W") };
    for (c, plane) in y.iter_mut().enumerate() {
        for (p, v) in plane.as_flattened_mut().iter_mut().enumerate() {
            *v = x[p][c];
        }
    }
}

fn mat_scratch<'s, const R: usize, const C: usize>(
    s: &mut Scratch<'s>,
) -> Result<&'s mut Mat<R, C, i8>, Error> {
    mat_mut(s.take_i8(R * C)?).ok_or(Error::PlanOverlap)
}

/// Level 1 of a CNN branch at prefix `P`: stem Conv3×3(K→C, s2)+BN+ReLU, BasicBlock(C) (K
/// input channels: 1, or the slices of a 2.5D preset).
#[derive(Debug, Clone, Copy)]
pub struct CnnStemQ<'a, const K: usize, const C: usize> {
    /// The stem unit (`P.stem`).
    pub stem: UnitQ<'a, C, K, 3>,
    /// `P.level1.0`.
    pub block: BasicBlockQ<'a, C, C, false>,
}

impl<'a, const K: usize, const C: usize> CnnStemQ<'a, K, C> {
    /// Reads the stem of branch `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            stem: UnitQ::read_bn(r, &prefix.join("stem"), true)?,
            block: BasicBlockQ::read(r, &prefix.join("level1.0"))?,
        })
    }

    /// The stem's output, then the block's scratch.
    pub const fn scratch_bytes(ho: usize, wo: usize) -> usize {
        map_bytes_i8(C, ho, wo) + BasicBlockQ::<C, C, false>::scratch_bytes(ho, wo)
    }

    /// `y = block(stem(x))`.
    pub fn forward<const H: usize, const W: usize, const HO: usize, const WO: usize>(
        &self,
        x: &Map<K, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<C, HO, WO, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let mid = scratch.take_map_i8::<C, HO, WO>()?;
        let p = self.stem.run::<2, 1, 1, H, W, HO, WO>(x, xp, mid, pr);
        self.block
            .forward::<1, HO, WO, HO, WO>(mid, p, y, scratch.reborrow(), pr)
    }
}

/// Levels 2..4 of a CNN branch: BasicBlock(CI→CO, s2) + BasicBlock(CO).
#[derive(Debug, Clone, Copy)]
pub struct CnnLevelQ<'a, const CI: usize, const CO: usize> {
    /// `P.level{l}.0`.
    pub block0: BasicBlockQ<'a, CI, CO, true>,
    /// `P.level{l}.1`.
    pub block1: BasicBlockQ<'a, CO, CO, false>,
}

impl<'a, const CI: usize, const CO: usize> CnnLevelQ<'a, CI, CO> {
    /// Reads level `level` (`"level2"` …) of branch `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName, level: &str) -> Result<Self, Int8Error> {
        let name = prefix.join(level);
        Ok(Self {
            block0: BasicBlockQ::read(r, &name.index(0))?,
            block1: BasicBlockQ::read(r, &name.index(1))?,
        })
    }

    /// The first block's output, then the larger block scratch.
    pub const fn scratch_bytes(ho: usize, wo: usize) -> usize {
        map_bytes_i8(CO, ho, wo)
            + max(
                BasicBlockQ::<CI, CO, true>::scratch_bytes(ho, wo),
                BasicBlockQ::<CO, CO, false>::scratch_bytes(ho, wo),
            )
    }

    /// `y = block1(block0(x))`.
    pub fn forward<const H: usize, const W: usize, const HO: usize, const WO: usize>(
        &self,
        x: &Map<CI, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<CO, HO, WO, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let mid = scratch.take_map_i8::<CO, HO, WO>()?;
        let p = self
            .block0
            .forward::<2, H, W, HO, WO>(x, xp, mid, scratch.reborrow(), pr)?;
        self.block1
            .forward::<1, HO, WO, HO, WO>(mid, p, y, scratch.reborrow(), pr)
    }
}

/// Overlapping patch embedding at prefix `E`: Conv K×K (stride 2, bias) → tokens → LN.
#[derive(Debug, Clone, Copy)]
pub struct PatchEmbedQ<'a, const CI: usize, const C: usize, const K: usize> {
    /// `E.conv`.
    pub conv: UnitQ<'a, C, CI, K>,
    /// `E.norm`.
    pub norm: LayerNormQ<'a, C>,
}

impl<'a, const CI: usize, const C: usize, const K: usize> PatchEmbedQ<'a, CI, C, K> {
    /// Reads the embedding at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            conv: UnitQ::read_plain(r, &prefix.join("conv"), false)?,
            norm: r.layer_norm(&prefix.join("norm"))?,
        })
    }

    /// The convolution's output map.
    pub const fn scratch_bytes(ho: usize, wo: usize) -> usize {
        map_bytes_i8(C, ho, wo)
    }

    /// `y = LN(tokens(conv(x)))` with stride `S`, padding `P`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const S: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        const N: usize,
    >(
        &self,
        x: &Map<CI, H, W, i8>,
        xp: Point<'_>,
        y: &mut Tokens<N, C, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let map = scratch.take_map_i8::<C, HO, WO>()?;
        let p = self.conv.run::<S, P, 1, H, W, HO, WO>(x, xp, map, pr);
        map_to_tokens_i8(map, y);
        Ok(self.norm.run(y, p, pr))
    }
}

/// Tokens whose queries and projections [`SraQ`] computes together (each linear layer call
/// then packs its weights once per chunk instead of once per token).
const QUERY_CHUNK: usize = 16;

/// Spatial-reduction multi-head attention at prefix `A` (PVT-v2), one query at a time.
#[derive(Debug, Clone, Copy)]
pub struct SraQ<'a, const C: usize, const C2: usize, const SR: usize, const REDUCE: bool> {
    /// `A.q`.
    pub q: LinearQ<'a, C, C>,
    /// `A.sr` (when `SR > 1`).
    pub sr: Option<UnitQ<'a, C, C, SR>>,
    /// `A.norm` (when `SR > 1`).
    pub norm: Option<LayerNormQ<'a, C>>,
    /// `A.kv`: keys then values, one point.
    pub kv: LinearQ<'a, C2, C>,
    /// Scores (`1/√d` folded into their multiplier) and the attention output.
    pub attention: AttentionQ<'a>,
    /// `A.proj`.
    pub proj: LinearQ<'a, C, C>,
}

impl<'a, const C: usize, const C2: usize, const SR: usize, const REDUCE: bool>
    SraQ<'a, C, C2, SR, REDUCE>
{
    /// Reads the attention at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            q: r.linear(&prefix.join("q"))?,
            sr: if REDUCE {
                Some(UnitQ::read_plain(r, &prefix.join("sr"), false)?)
            } else {
                None
            },
            norm: if REDUCE {
                Some(r.layer_norm(&prefix.join("norm"))?)
            } else {
                None
            },
            kv: r.linear(&prefix.join("kv"))?,
            attention: AttentionQ::read(r, prefix)?,
            proj: r.linear(&prefix.join("proj"))?,
        })
    }

    /// Keys/values, then the reduction's maps or one query's rows.
    pub const fn scratch_bytes(h: usize, w: usize, nk: usize) -> usize {
        i8_bytes(nk * C2)
            + max(
                if REDUCE {
                    map_bytes_i8(C, h, w) + 2 * i8_bytes(nk * C)
                } else {
                    0
                },
                2 * i8_bytes(QUERY_CHUNK * C) + i8_bytes(nk) + Self::head_bytes(nk),
            )
    }

    /// The keys laid out for the scores ([`HeadKeys`]) and the transposed values
    /// ([`transpose_columns`]), `C × NK` `i16` of room each, one
    /// query's `i32` scores and `i16` weights, and one head's `i32` weighted sums.
    const fn head_bytes(nk: usize) -> usize {
        2 * i32_bytes((C * nk).div_ceil(2))
            + i32_bytes(nk)
            + i32_bytes(nk.div_ceil(2))
            + i32_bytes(C)
    }

    /// `x = proj(attention(x))` in place, with `HEADS` heads over `NK` keys (keys and values
    /// are computed from all of `x` first; each token's query is taken before its output
    /// overwrites it).
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const HEADS: usize,
        const H: usize,
        const W: usize,
        const HK: usize,
        const WK: usize,
        const NK: usize,
        const N: usize,
    >(
        &self,
        x: &mut Tokens<N, C, i8>,
        xp: Point<'_>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(C2 == 2 * C, "kv has 2C outputs (keys, then values)");
            assert!(N == H * W, "one token per map pixel");
            assert!(
                HEADS >= 1 && C.is_multiple_of(HEADS),
                "channels must divide into heads"
            );
            assert!(
                HK * SR == H && WK * SR == W && NK == HK * WK,
                "NK = (H/SR)·(W/SR)"
            );
            assert!(
                NK <= MAX_ACT_DOT_TERMS,
                "too many keys for exact int8 attention sums"
            );
            assert!(
                C <= MAX_ACT_DOT_TERMS,
                "heads too wide for exact int8 attention scores"
            );
        };
        let kv = mat_scratch::<NK, C2>(&mut scratch)?;
        match (&self.sr, &self.norm) {
            (Some(sr), Some(norm)) => {
                let mut s = scratch.reborrow();
                let map = s.take_map_i8::<C, H, W>()?;
                tokens_to_map_i8(&*x, map);
                let reduced = s.take_map_i8::<C, HK, WK>()?;
                let ps = sr.run::<SR, 0, 1, H, W, HK, WK>(map, xp, reduced, pr);
                let tokens = mat_scratch::<NK, C>(&mut s)?;
                map_to_tokens_i8(reduced, tokens);
                let pn = norm.run(tokens, ps, pr);
                self.kv.run(tokens, pn, kv);
            }
            _ => {
                let tokens = mat_ref::<i8, NK, C>(x.flat()).ok_or(Error::PlanOverlap)?;
                self.kv.run(tokens, xp, kv);
            }
        }
        probe(pr, self.kv.out, kv.flat());
        let kv: &Mat<NK, C2, i8> = kv;
        let qs = mat_scratch::<QUERY_CHUNK, C>(&mut scratch)?;
        let outs = mat_scratch::<QUERY_CHUNK, C>(&mut scratch)?;
        let scores = scratch.take_i8(NK)?;
        let kt = scratch.take_i32((C * NK).div_ceil(2))?;
        let vt = bytemuck::cast_slice_mut::<i32, i16>(scratch.take_i32((C * NK).div_ceil(2))?);
        let sums = scratch.take_i32(NK)?;
        let weights =
            &mut bytemuck::cast_slice_mut::<i32, i16>(scratch.take_i32(NK.div_ceil(2))?)[..NK];
        let head_sums = scratch.take_i32(C)?;
        let a = &self.attention;
        let (zq, zkv) = (self.q.out.zero_point, self.kv.out.zero_point);
        let score_q = TensorQuant {
            a_zp: zq,
            b_zp: zkv,
            output_zp: a.score.zero_point,
            requant: Requant::new(a.score_requant[0], a.score_requant[1]),
            clamp: Clamp::NONE,
        };
        let attn_q = TensorQuant {
            a_zp: zkv,
            b_zp: OUTPUT_ZERO_POINT,
            output_zp: a.attn.zero_point,
            requant: Requant::new(a.attn_requant[0], a.attn_requant[1]),
            clamp: Clamp::NONE,
        };
        let d = C / HEADS;
        // Scores as NK-wide steps over keys laid out once (`HeadKeys`: VNNI quads or
        // transposed `i16` rows), weighted sums as dot products along transposed values: the same exact integer sums as one dot product per score / per
        // output over kv's rows (C and NK are at most MAX_ACT_DOT_TERMS), so the same bits.
        let keys = HeadKeys::new(kv, C, HEADS, (zq, zkv), kt);
        transpose_columns(kv, C, zkv, vt);
        let exp = ExpTable::new(a.exp);
        // Tokens in chunks: the chunk's queries first (its tokens are not overwritten yet),
        // then each token's heads, then the chunk's projections over its tokens; the probe
        // sees q, the scores and the attention output token by token as before.
        for x_chunk in x.chunks_mut(QUERY_CHUNK) {
            let t = x_chunk.len();
            match <&Mat<QUERY_CHUNK, C, i8>>::try_from(&*x_chunk) {
                Ok(xc) => {
                    self.q.run(xc, xp, qs);
                }
                Err(_) => {
                    for (xn, qn) in x_chunk.iter().zip(qs.iter_mut()) {
                        self.q
                            .run(core::array::from_ref(xn), xp, core::array::from_mut(qn));
                    }
                }
            }
            for (qn, out) in qs[..t].iter().zip(outs.iter_mut()) {
                probe(pr, self.q.out, qn);
                for h in 0..HEADS {
                    let heads = h * d..(h + 1) * d;
                    keys.scores(h, &qn[heads.clone()], sums);
                    tensor_outputs(&score_q, sums, scores);
                    probe(pr, a.score, scores);
                    // The softmax outputs only ever meet the values as the weights `p + 128`.
                    exp.weights(scores, weights);
                    let hs = &mut head_sums[..d];
                    weighted_values(weights, &vt[h * d * NK..], hs);
                    for (o, acc) in out[heads].iter_mut().zip(hs.iter()) {
                        *o = attn_q.output(*acc);
                    }
                }
                probe(pr, a.attn, out);
            }
            match <&mut Mat<QUERY_CHUNK, C, i8>>::try_from(&mut *x_chunk) {
                Ok(xc) => {
                    self.proj.run(outs, a.attn, xc);
                }
                Err(_) => {
                    for (xn, on) in x_chunk.iter_mut().zip(outs.iter()) {
                        self.proj
                            .run(core::array::from_ref(on), a.attn, core::array::from_mut(xn));
                    }
                }
            }
        }
        probe(pr, self.proj.out, x.flat());
        Ok(self.proj.out)
    }
}

/// Mix-FFN at prefix `F`: fc1 → depthwise 3×3 (bias) → GELU (table) → fc2.
#[derive(Debug, Clone, Copy)]
pub struct MixFfnQ<'a, const C: usize, const CH: usize> {
    /// `F.fc1`.
    pub fc1: LinearQ<'a, CH, C>,
    /// `F.dwconv` (depthwise).
    pub dwconv: UnitQ<'a, CH, 1, 3>,
    /// `F.gelu`.
    pub gelu: LutQ<'a>,
    /// `F.fc2`.
    pub fc2: LinearQ<'a, C, CH>,
}

impl<'a, const C: usize, const CH: usize> MixFfnQ<'a, C, CH> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            fc1: r.linear(&prefix.join("fc1"))?,
            dwconv: UnitQ::read_plain(r, &prefix.join("dwconv"), false)?,
            gelu: LutQ::read(r, &prefix.join("gelu"))?,
            fc2: r.linear(&prefix.join("fc2"))?,
        })
    }

    /// The hidden tokens and two planes (the depthwise convolution runs one channel at a time,
    /// in place in the hidden tokens).
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        i8_bytes(h * w * CH) + 2 * i8_bytes(h * w)
    }

    /// `x = fc2(gelu(dwconv(fc1(x))))` in place.
    pub fn forward<const H: usize, const W: usize, const N: usize>(
        &self,
        x: &mut Tokens<N, C, i8>,
        xp: Point<'_>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const { assert!(N == H * W, "one token per map pixel") };
        let hid = mat_scratch::<N, CH>(&mut scratch)?;
        let p1 = self.fc1.run(&*x, xp, hid);
        probe(pr, p1, hid.flat());
        let pre = scratch.take_map_i8::<1, H, W>()?;
        let post = scratch.take_map_i8::<1, H, W>()?;
        let dw = &self.dwconv;
        for j in 0..CH {
            for (v, hn) in pre.flat_mut().iter_mut().zip(hid.iter()) {
                *v = hn[j];
            }
            let q = PerChannelQuant {
                input_zp: p1.zero_point,
                output_zp: dw.out.zero_point,
                multiplier: core::array::from_ref(&dw.conv.multiplier[j]),
                shift: core::array::from_ref(&dw.conv.shift[j]),
                bias: Some(core::array::from_ref(&dw.conv.bias[j])),
                clamp: Clamp::NONE,
            };
            DepthwiseConv2dQ::<1, 1>::forward(
                pre,
                core::array::from_ref(&dw.conv.weight[j]),
                &q,
                post,
            );
            probe(pr, dw.out, post.flat());
            self.gelu.apply(post, pr);
            for (hn, v) in hid.iter_mut().zip(post.flat()) {
                hn[j] = *v;
            }
        }
        let p = self.fc2.run(hid, self.gelu.out, x);
        probe(pr, p, x.flat());
        Ok(p)
    }
}

/// A transformer block at prefix `B`: `x += SRA(LN(x)); x += MixFFN(LN(x))`.
#[derive(Debug, Clone, Copy)]
pub struct TransformerBlockQ<
    'a,
    const C: usize,
    const C2: usize,
    const CH: usize,
    const SR: usize,
    const REDUCE: bool,
> {
    /// `B.norm1`.
    pub norm1: LayerNormQ<'a, C>,
    /// `B.attn`.
    pub attn: SraQ<'a, C, C2, SR, REDUCE>,
    /// `B.res1`.
    pub res1: AddQ<'a>,
    /// `B.norm2`.
    pub norm2: LayerNormQ<'a, C>,
    /// `B.ffn`.
    pub ffn: MixFfnQ<'a, C, CH>,
    /// `B.res2`.
    pub res2: AddQ<'a>,
}

impl<'a, const C: usize, const C2: usize, const CH: usize, const SR: usize, const REDUCE: bool>
    TransformerBlockQ<'a, C, C2, CH, SR, REDUCE>
{
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            norm1: r.layer_norm(&prefix.join("norm1"))?,
            attn: SraQ::read(r, &prefix.join("attn"))?,
            res1: AddQ::read(r, &prefix.join("res1"), false)?,
            norm2: r.layer_norm(&prefix.join("norm2"))?,
            ffn: MixFfnQ::read(r, &prefix.join("ffn"))?,
            res2: AddQ::read(r, &prefix.join("res2"), false)?,
        })
    }

    /// The normalized tokens (each branch runs in place on them), then the larger sub-step
    /// scratch.
    pub const fn scratch_bytes(h: usize, w: usize, nk: usize) -> usize {
        i8_bytes(h * w * C)
            + max(
                SraQ::<C, C2, SR, REDUCE>::scratch_bytes(h, w, nk),
                MixFfnQ::<C, CH>::scratch_bytes(h, w),
            )
    }

    /// Runs the block on `x` in place (its point moves from `xp` to `B.res2`).
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const HEADS: usize,
        const H: usize,
        const W: usize,
        const HK: usize,
        const WK: usize,
        const NK: usize,
        const N: usize,
    >(
        &self,
        x: &mut Tokens<N, C, i8>,
        xp: Point<'_>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let branch = mat_scratch::<N, C>(&mut scratch)?;
        branch.copy_from_slice(x);
        let p = self.norm1.run(branch, xp, pr);
        let pa =
            self.attn
                .forward::<HEADS, H, W, HK, WK, NK, N>(branch, p, scratch.reborrow(), pr)?;
        elementwise::add(x, branch, &self.res1.quant(xp, pa));
        probe(pr, self.res1.out, x.flat());
        branch.copy_from_slice(x);
        let p = self.norm2.run(branch, self.res1.out, pr);
        let pf = self
            .ffn
            .forward::<H, W, N>(branch, p, scratch.reborrow(), pr)?;
        elementwise::add(x, branch, &self.res2.quant(self.res1.out, pf));
        probe(pr, self.res2.out, x.flat());
        Ok(self.res2.out)
    }
}

/// A transformer stage at prefix `S`: embedding, one or two blocks, final LN, back to a map.
#[derive(Debug, Clone, Copy)]
pub struct TransformerStageQ<
    'a,
    const CI: usize,
    const C: usize,
    const C2: usize,
    const CH: usize,
    const K: usize,
    const SR: usize,
    const REDUCE: bool,
> {
    /// `S.embed`.
    pub embed: PatchEmbedQ<'a, CI, C, K>,
    /// `S.block0`.
    pub block0: TransformerBlockQ<'a, C, C2, CH, SR, REDUCE>,
    /// `S.block1` (depth 2).
    pub block1: Option<TransformerBlockQ<'a, C, C2, CH, SR, REDUCE>>,
    /// `S.norm`.
    pub norm: LayerNormQ<'a, C>,
}

impl<
        'a,
        const CI: usize,
        const C: usize,
        const C2: usize,
        const CH: usize,
        const K: usize,
        const SR: usize,
        const REDUCE: bool,
    > TransformerStageQ<'a, CI, C, C2, CH, K, SR, REDUCE>
{
    /// Reads the stage at `prefix` with `depth` blocks.
    pub fn read(r: &Reader<'a>, prefix: &QName, deep: bool) -> Result<Self, Int8Error> {
        Ok(Self {
            embed: PatchEmbedQ::read(r, &prefix.join("embed"))?,
            block0: TransformerBlockQ::read(r, &prefix.join("block0"))?,
            block1: if deep {
                Some(TransformerBlockQ::read(r, &prefix.join("block1"))?)
            } else {
                None
            },
            norm: r.layer_norm(&prefix.join("norm"))?,
        })
    }

    /// The tokens, then the embedding's or a block's scratch.
    pub const fn scratch_bytes(ho: usize, wo: usize, nk: usize) -> usize {
        i8_bytes(ho * wo * C)
            + max(
                PatchEmbedQ::<CI, C, K>::scratch_bytes(ho, wo),
                TransformerBlockQ::<C, C2, CH, SR, REDUCE>::scratch_bytes(ho, wo, nk),
            )
    }

    /// `y = map(LN(blocks(embed(x))))`; the embedding has stride 2 and padding `P`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const HEADS: usize,
        const P: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
        const HK: usize,
        const WK: usize,
        const NK: usize,
        const N: usize,
    >(
        &self,
        x: &Map<CI, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<C, HO, WO, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let tokens = mat_scratch::<N, C>(&mut scratch)?;
        let mut p =
            self.embed
                .forward::<2, P, H, W, HO, WO, N>(x, xp, tokens, scratch.reborrow(), pr)?;
        p = self.block0.forward::<HEADS, HO, WO, HK, WK, NK, N>(
            tokens,
            p,
            scratch.reborrow(),
            pr,
        )?;
        if let Some(b1) = &self.block1 {
            p = b1.forward::<HEADS, HO, WO, HK, WK, NK, N>(tokens, p, scratch.reborrow(), pr)?;
        }
        let p = self.norm.run(tokens, p, pr);
        tokens_to_map_i8(tokens, y);
        Ok(p)
    }
}

/// AFF at prefix `X`: the two branch halves rescaled into one point, an SE gate (optional),
/// and the fusing Conv1×1+BN+ReLU.
#[derive(Debug, Clone, Copy)]
pub struct AffQ<'a, const C: usize, const C2: usize, const CQ: usize> {
    /// `X.cat`.
    pub cat: Point<'a>,
    /// `X.cat.rescale` (CNN half, second half).
    pub rescale: &'a Mat<2, 2, i32>,
    /// `X.squeeze` (with ReLU), `X.excite`, `X.gate`, `X.scaled` — absent without SE.
    pub se: Option<(
        UnitQ<'a, CQ, C2, 1>,
        UnitQ<'a, C2, CQ, 1>,
        LutQ<'a>,
        MulQ<'a>,
    )>,
    /// `X.fuse`.
    pub fuse: UnitQ<'a, C, C2, 1>,
}

impl<'a, const C: usize, const C2: usize, const CQ: usize> AffQ<'a, C, C2, CQ> {
    /// Reads the fusion at `prefix` (with or without the SE gate).
    pub fn read(r: &Reader<'a>, prefix: &QName, se: bool) -> Result<Self, Int8Error> {
        let cat = prefix.join("cat");
        Ok(Self {
            cat: r.point(&cat)?,
            rescale: r.i32_mat(&cat.join("rescale"))?,
            se: if se {
                Some((
                    UnitQ::read_plain(r, &prefix.join("squeeze"), true)?,
                    UnitQ::read_plain(r, &prefix.join("excite"), false)?,
                    LutQ::read(r, &prefix.join("gate"))?,
                    MulQ::read(r, &prefix.join("scaled"))?,
                ))
            } else {
                None
            },
            fuse: UnitQ::read_bn(r, &prefix.join("fuse"), true)?,
        })
    }

    /// The SE gate's vectors.
    pub const fn scratch_bytes(se: bool) -> usize {
        if se {
            2 * map_bytes_i8(C2, 1, 1) + map_bytes_i8(CQ, 1, 1)
        } else {
            0
        }
    }

    /// `y = fuse(Z ⊙ e)`; the halves of `z` are at points `pa` (CNN) and `pb` (second
    /// branch) and are rescaled in place.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<const H: usize, const W: usize>(
        &self,
        z: &mut Map<C2, H, W, i8>,
        pa: Point<'_>,
        pb: Point<'_>,
        y: &mut Map<C, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(C2 == 2 * C, "AFF fuses two C-channel maps");
            assert!(CQ * 4 == C2, "AFF squeeze is 2C/4");
        };
        {
            let (za, zb) = split_channels_mut::<i8, C, C, C2, H, W>(z);
            requantize_in_place(za, &rescale(pa, self.cat, &self.rescale[0]));
            requantize_in_place(zb, &rescale(pb, self.cat, &self.rescale[1]));
        }
        probe(pr, self.cat, z.flat());
        let mut zp = self.cat;
        if let Some((squeeze, excite, gate, scaled)) = &self.se {
            let pooled = scratch.take_map_i8::<C2, 1, 1>()?;
            let mid = scratch.take_map_i8::<CQ, 1, 1>()?;
            let e = scratch.take_map_i8::<C2, 1, 1>()?;
            let pooled_vec = vec_mut::<i8, C2>(pooled.flat_mut()).ok_or(Error::PlanOverlap)?;
            pool::global_avg_pool(z, self.cat.zero_point, pooled_vec);
            let ps = squeeze.run::<1, 0, 1, 1, 1, 1, 1>(pooled, self.cat, mid, pr);
            excite.run::<1, 0, 1, 1, 1, 1, 1>(mid, ps, e, pr);
            let pg = gate.apply(e, pr);
            let ev: [i8; C2] = core::array::from_fn(|c| e[c][0][0]);
            elementwise::mul_channel(z, &ev, &scaled.quant(self.cat, pg));
            probe(pr, scaled.out, z.flat());
            zp = scaled.out;
        }
        Ok(self.fuse.run::<1, 0, 1, H, W, H, W>(z, zp, y, pr))
    }
}

/// ASPP at prefix `aspp` (five branches, concat, projection).
#[derive(Debug, Clone, Copy)]
pub struct AsppQ<'a, const CI: usize, const CO: usize, const CAT: usize> {
    /// `aspp.convs.0` (1×1).
    pub conv0: UnitQ<'a, CO, CI, 1>,
    /// `aspp.convs.{1,2,3}` (3×3, dilated).
    pub atrous: [UnitQ<'a, CO, CI, 3>; 3],
    /// `aspp.convs.4` (image pooling).
    pub pool: UnitQ<'a, CO, CI, 1>,
    /// `aspp.cat`.
    pub cat: Point<'a>,
    /// `aspp.cat.rescale`.
    pub rescale: &'a Mat<5, 2, i32>,
    /// `aspp.project`.
    pub project: UnitQ<'a, CO, CAT, 1>,
}

impl<'a, const CI: usize, const CO: usize, const CAT: usize> AsppQ<'a, CI, CO, CAT> {
    /// Reads the ASPP at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        let convs = prefix.join("convs");
        let cat = prefix.join("cat");
        Ok(Self {
            conv0: UnitQ::read_bn(r, &convs.index(0), true)?,
            atrous: [
                UnitQ::read_bn(r, &convs.index(1), true)?,
                UnitQ::read_bn(r, &convs.index(2), true)?,
                UnitQ::read_bn(r, &convs.index(3), true)?,
            ],
            pool: UnitQ::read_bn(r, &convs.index(4), true)?,
            cat: r.point(&cat)?,
            rescale: r.i32_mat(&cat.join("rescale"))?,
            project: UnitQ::read_bn(r, &prefix.join("project"), true)?,
        })
    }

    /// The concatenation, then the pooled vector and its branch.
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        map_bytes_i8(CAT, h, w) + map_bytes_i8(CI, 1, 1) + map_bytes_i8(CO, 1, 1)
    }

    /// `y = project([branches(x)])` with atrous rates `D1..D3`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const D1: usize,
        const D2: usize,
        const D3: usize,
        const H: usize,
        const W: usize,
    >(
        &self,
        x: &Map<CI, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<CO, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const { assert!(CAT == 5 * CO, "ASPP concatenates five branches") };
        fn slot<const CO: usize, const CAT: usize, const H: usize, const W: usize>(
            cat: &mut Map<CAT, H, W, i8>,
            k: usize,
        ) -> Result<&mut Map<CO, H, W, i8>, Error> {
            channels_at_mut::<i8, CO, CAT, H, W>(cat, k * CO).ok_or(Error::PlanOverlap)
        }
        let cat = scratch.take_map_i8::<CAT, H, W>()?;
        let mut points = [self.cat; 5];
        points[0] =
            self.conv0
                .run::<1, 0, 1, H, W, H, W>(x, xp, slot::<CO, CAT, H, W>(cat, 0)?, pr);
        points[1] =
            self.atrous[0].run::<1, D1, D1, H, W, H, W>(x, xp, slot::<CO, CAT, H, W>(cat, 1)?, pr);
        points[2] =
            self.atrous[1].run::<1, D2, D2, H, W, H, W>(x, xp, slot::<CO, CAT, H, W>(cat, 2)?, pr);
        points[3] =
            self.atrous[2].run::<1, D3, D3, H, W, H, W>(x, xp, slot::<CO, CAT, H, W>(cat, 3)?, pr);
        {
            let pooled = scratch.take_map_i8::<CI, 1, 1>()?;
            let branch = scratch.take_map_i8::<CO, 1, 1>()?;
            let pooled_vec = vec_mut::<i8, CI>(pooled.flat_mut()).ok_or(Error::PlanOverlap)?;
            pool::global_avg_pool(x, xp.zero_point, pooled_vec);
            points[4] = self.pool.run::<1, 0, 1, 1, 1, 1, 1>(pooled, xp, branch, pr);
            // Bilinear upsampling of a 1 × 1 map is a broadcast.
            for (plane, v) in slot::<CO, CAT, H, W>(cat, 4)?.iter_mut().zip(branch.iter()) {
                plane.flat_mut().fill(v[0][0]);
            }
        }
        for (k, p) in points.iter().enumerate() {
            requantize_in_place(
                slot::<CO, CAT, H, W>(cat, k)?,
                &rescale(*p, self.cat, &self.rescale[k]),
            );
        }
        probe(pr, self.cat, cat.flat());
        Ok(self
            .project
            .run::<1, 0, 1, H, W, H, W>(cat, self.cat, y, pr))
    }
}

/// The attention gate of decoder `D` (`D.ag`).
#[derive(Debug, Clone, Copy)]
pub struct AttentionGateQ<'a, const C: usize, const CG: usize, const CI: usize> {
    /// `D.ag.w_x` (conv+BN).
    pub w_x: UnitQ<'a, CI, C, 1>,
    /// `D.ag.w_g` (conv+BN).
    pub w_g: UnitQ<'a, CI, CG, 1>,
    /// `D.ag.sum` (ReLU).
    pub sum: AddQ<'a>,
    /// `D.ag.psi` (conv+BN).
    pub psi: UnitQ<'a, 1, CI, 1>,
    /// `D.ag.gate` (σ).
    pub gate: LutQ<'a>,
    /// `D.ag.out` (skip ⊙ ψ).
    pub out: MulQ<'a>,
}

impl<'a, const C: usize, const CG: usize, const CI: usize> AttentionGateQ<'a, C, CG, CI> {
    /// Reads the gate at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            w_x: UnitQ::read_bn(r, &prefix.join("w_x"), false)?,
            w_g: UnitQ::read_bn(r, &prefix.join("w_g"), false)?,
            sum: AddQ::read(r, &prefix.join("sum"), true)?,
            psi: UnitQ::read_bn(r, &prefix.join("psi"), false)?,
            gate: LutQ::read(r, &prefix.join("gate"))?,
            out: MulQ::read(r, &prefix.join("out"))?,
        })
    }

    /// x1, g1 and ψ.
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        2 * map_bytes_i8(CI, h, w) + map_bytes_i8(1, h, w)
    }

    /// `s = x ⊙ σ(psi(ReLU(w_x(x) + w_g(g))))`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        g: &Map<CG, H, W, i8>,
        gp: Point<'_>,
        s: &mut Map<C, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let x1 = scratch.take_map_i8::<CI, H, W>()?;
        let g1 = scratch.take_map_i8::<CI, H, W>()?;
        let psi = scratch.take_map_i8::<1, H, W>()?;
        let px = self.w_x.run::<1, 0, 1, H, W, H, W>(x, xp, x1, pr);
        let pg = self.w_g.run::<1, 0, 1, H, W, H, W>(g, gp, g1, pr);
        elementwise::add(x1, g1, &self.sum.quant(px, pg));
        probe(pr, self.sum.out, x1.flat());
        self.psi
            .run::<1, 0, 1, H, W, H, W>(x1, self.sum.out, psi, pr);
        let pp = self.gate.apply(psi, pr);
        s.copy_from_slice(x);
        elementwise::mul_pixel(s, psi, &self.out.quant(xp, pp));
        probe(pr, self.out.out, s.flat());
        Ok(self.out.out)
    }
}

/// A decoder block at prefix `D`: up ×2, (gated) skip, concat, two Conv3×3+BN+ReLU.
#[derive(Debug, Clone, Copy)]
pub struct DecoderQ<
    'a,
    const CS: usize,
    const CSH: usize,
    const CU: usize,
    const CCAT: usize,
    const CO: usize,
> {
    /// `D.ag` (absent in the ablation without attention gates).
    pub ag: Option<AttentionGateQ<'a, CS, CU, CSH>>,
    /// `D.cat`.
    pub cat: Point<'a>,
    /// `D.cat.rescale` (skip, up).
    pub rescale: &'a Mat<2, 2, i32>,
    /// `D.conv1`.
    pub conv1: UnitQ<'a, CO, CCAT, 3>,
    /// `D.conv2`.
    pub conv2: UnitQ<'a, CO, CO, 3>,
}

impl<
        'a,
        const CS: usize,
        const CSH: usize,
        const CU: usize,
        const CCAT: usize,
        const CO: usize,
    > DecoderQ<'a, CS, CSH, CU, CCAT, CO>
{
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName, gate: bool) -> Result<Self, Int8Error> {
        let cat = prefix.join("cat");
        Ok(Self {
            ag: if gate {
                Some(AttentionGateQ::read(r, &prefix.join("ag"))?)
            } else {
                None
            },
            cat: r.point(&cat)?,
            rescale: r.i32_mat(&cat.join("rescale"))?,
            conv1: UnitQ::read_bn(r, &prefix.join("conv1"), true)?,
            conv2: UnitQ::read_bn(r, &prefix.join("conv2"), true)?,
        })
    }

    /// The concatenation, then the gate's scratch or the middle map.
    pub const fn scratch_bytes(h: usize, w: usize, gate: bool) -> usize {
        map_bytes_i8(CCAT, h, w)
            + max(
                if gate {
                    AttentionGateQ::<CS, CU, CSH>::scratch_bytes(h, w)
                } else {
                    0
                },
                map_bytes_i8(CO, h, w),
            )
    }

    /// `y = conv2(conv1([gate(skip, up(g)); up(g)]))`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<const H: usize, const W: usize, const HI: usize, const WI: usize>(
        &self,
        skip: &Map<CS, H, W, i8>,
        sp: Point<'_>,
        g: &Map<CU, HI, WI, i8>,
        gp: Point<'_>,
        y: &mut Map<CO, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(
                CCAT == CS + CU,
                "the decoder concatenates the skip and the upsampled map"
            );
            assert!(H == 2 * HI && W == 2 * WI, "the decoder upsamples by 2");
        };
        let cat = scratch.take_map_i8::<CCAT, H, W>()?;
        {
            let (s, up) = split_channels_mut::<i8, CS, CU, CCAT, H, W>(cat);
            crate::int8::resize::resize_bilinear(
                g,
                gp.zero_point,
                up,
                crate::int8::resize::AlignCorners::False,
            );
            let ps = match &self.ag {
                Some(ag) => ag.forward(skip, sp, up, gp, s, scratch.reborrow(), pr)?,
                None => {
                    s.copy_from_slice(skip);
                    sp
                }
            };
            requantize_in_place(s, &rescale(ps, self.cat, &self.rescale[0]));
            requantize_in_place(up, &rescale(gp, self.cat, &self.rescale[1]));
        }
        probe(pr, self.cat, cat.flat());
        let mid = scratch.take_map_i8::<CO, H, W>()?;
        let p1 = self
            .conv1
            .run::<1, 1, 1, H, W, H, W>(cat, self.cat, mid, pr);
        Ok(self.conv2.run::<1, 1, 1, H, W, H, W>(mid, p1, y, pr))
    }
}

/// The segmentation head at prefix `head`: Conv3×3+BN+ReLU streamed a few hidden channels at
/// a time (one plane each, four at 256 × 256) into an `i32` accumulator of the final Conv1×1.
#[derive(Debug, Clone, Copy)]
pub struct SegHeadQ<'a, const C: usize> {
    /// `head.conv`.
    pub conv: UnitQ<'a, C, C, 3>,
    /// `head.out` (the logits).
    pub out: UnitQ<'a, 1, C, 1>,
}

impl<'a, const C: usize> SegHeadQ<'a, C> {
    /// Reads the head at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            conv: UnitQ::read_bn(r, &prefix.join("conv"), true)?,
            out: UnitQ::read_plain(r, &prefix.join("out"), false)?,
        })
    }

    /// Hidden channels per convolution call at `h × w`: four share one packing of the input
    /// and fill the fast kernel's register tile of four output channels (one at a time packed
    /// the whole input for every channel and used a quarter of each tile). Below 128 × 128
    /// (the `tiny` presets) two, where four planes would set the arena of the ablation
    /// without a transformer (the head is its largest step there); at 256 × 256 the planes
    /// fit under the arena's peak.
    const fn group(h: usize, w: usize) -> usize {
        if C.is_multiple_of(4) && h * w >= 128 * 128 {
            4
        } else if C.is_multiple_of(2) {
            2
        } else {
            1
        }
    }

    /// [`Self::group`] hidden planes and the `i32` accumulator.
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        map_bytes_i8(Self::group(h, w), h, w) + i32_bytes(h * w)
    }

    /// Writes the logits.
    pub fn forward<const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<1, H, W, i8>,
        scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(
                C <= crate::int8::quant::MAX_WEIGHT_DOT_TERMS,
                "head too wide for an exact i32 accumulator"
            )
        };
        match Self::group(H, W) {
            4 => self.forward_grouped::<4, H, W>(x, xp, y, scratch, pr),
            2 => self.forward_grouped::<2, H, W>(x, xp, y, scratch, pr),
            _ => self.forward_grouped::<1, H, W>(x, xp, y, scratch, pr),
        }
    }

    /// [`Self::forward`] with `G` hidden channels per convolution call (`G` divides `C`).
    /// Each channel's plane is still probed whole, in channel order, and accumulated into
    /// the logits in channel order: the same bits and the same probe sequence as one
    /// channel at a time (each output channel of a convolution is computed on its own).
    fn forward_grouped<const G: usize, const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<1, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let hidden = scratch.take_map_i8::<G, H, W>()?;
        let acc = scratch.take_i32(H * W)?;
        acc.fill(0);
        let (cv, zh) = (&self.conv.conv, self.conv.out.zero_point);
        for c in (0..C).step_by(G) {
            let group = c..c + G;
            let (Ok(weight), Ok(multiplier), Ok(shift), Ok(bias)) = (
                <&[_; G]>::try_from(&cv.weight[group.clone()]),
                <&[i32; G]>::try_from(&cv.multiplier[group.clone()]),
                <&[i32; G]>::try_from(&cv.shift[group.clone()]),
                <&[i32; G]>::try_from(&cv.bias[group.clone()]),
            ) else {
                return Err(Error::PlanOverlap);
            };
            let q = PerChannelQuant {
                input_zp: xp.zero_point,
                output_zp: zh,
                multiplier,
                shift,
                bias: Some(bias),
                clamp: Clamp::relu(zh),
            };
            Conv2dQ::<1, 1>::forward(x, weight, &q, hidden);
            for (ch, plane) in group.zip(hidden.iter()) {
                let plane = plane.as_flattened();
                probe(pr, self.conv.out, plane);
                let w = i32::from(self.out.conv.weight[0][ch][0][0]);
                for (a, h) in acc.iter_mut().zip(plane) {
                    *a += w * (i32::from(*h) - i32::from(zh));
                }
            }
        }
        let q = self.out.conv.quant(zh, self.out.out, false);
        for (o, a) in y.flat_mut().iter_mut().zip(acc.iter()) {
            *o = q.output(0, *a);
        }
        probe(pr, self.out.out, y.flat());
        Ok(self.out.out)
    }
}

/// Expands, inside a [`cafct_net!`](crate::cafct_net) preset module, the int8 engine of that
/// preset (`int8::ParamsQ`, `int8::PLAN_INT8`, `int8::ARENA_BYTES_INT8`, `int8::forward`,
/// `Net::forward_int8` and the [`Int8Network`](crate::nets::int8::Int8Network) impl). It uses
/// the module's constants by name.
#[doc(hidden)]
#[macro_export]
macro_rules! cafct_int8_body {
    () => {
        /// The int8 engine of this preset (see [`crate::nets::cafct_int8`]).
        pub mod int8 {
            #![allow(clippy::result_large_err)]
            use super::*;
            use $crate::arena::map_bytes_i8;
            use $crate::blob::Blob;
            use $crate::int8::graph::{
                probe, quantize_input, regions_i8, scratch_of, view_i8, Int8Error, NoProbe,
                OutputQuant, Point, Probe, QName, Reader, UnitQ,
            };
            use $crate::nets::cafct_int8::{
                AffQ, AsppQ, CnnLevelQ, CnnStemQ, DecoderQ, SegHeadQ, TransformerStageQ,
            };

            /// A CNN branch.
            #[derive(Debug, Clone, Copy)]
            pub struct CnnQ<'a> {
                /// Level 1.
                pub stem: CnnStemQ<'a, IN_CHANNELS, C1>,
                /// Level 2.
                pub level2: CnnLevelQ<'a, C1, C2>,
                /// Level 3.
                pub level3: CnnLevelQ<'a, C2, C3>,
                /// Level 4.
                pub level4: CnnLevelQ<'a, C3, C4>,
            }

            impl<'a> CnnQ<'a> {
                fn read(r: &Reader<'a>, prefix: &str) -> Result<Self, Int8Error> {
                    let p = QName::new(prefix);
                    Ok(Self {
                        stem: CnnStemQ::read(r, &p)?,
                        level2: CnnLevelQ::read(r, &p, "level2")?,
                        level3: CnnLevelQ::read(r, &p, "level3")?,
                        level4: CnnLevelQ::read(r, &p, "level4")?,
                    })
                }
            }

            /// The transformer branch.
            #[derive(Debug, Clone, Copy)]
            pub struct TransQ<'a> {
                /// Stage 1.
                pub stage1: TransformerStageQ<'a, IN_CHANNELS, C1, Z1, M1, 7, SR1, RED1>,
                /// Stage 2.
                pub stage2: TransformerStageQ<'a, C1, C2, Z2, M2, 3, SR2, RED2>,
                /// Stage 3.
                pub stage3: TransformerStageQ<'a, C2, C3, Z3, M3, 3, SR3, RED3>,
                /// Stage 4.
                pub stage4: TransformerStageQ<'a, C3, C4, Z4, M4, 3, SR4, RED4>,
            }

            /// Every quantized tensor of the network, read (and checked) before any work.
            #[derive(Debug, Clone, Copy)]
            pub struct ParamsQ<'a> {
                /// Input point.
                pub input: Point<'a>,
                /// CNN branch.
                pub cnn: CnnQ<'a>,
                /// Transformer branch (absent in the ablation without it).
                pub trans: Option<TransQ<'a>>,
                /// Second CNN branch (ablation without transformer).
                pub cnn2: Option<CnnQ<'a>>,
                /// Fusions at L1..L4.
                pub aff: (
                    AffQ<'a, C1, Z1, Q1>,
                    AffQ<'a, C2, Z2, Q2>,
                    AffQ<'a, C3, Z3, Q3>,
                    AffQ<'a, C4, Z4, Q4>,
                ),
                /// ASPP.
                pub aspp: Option<AsppQ<'a, C4, C4, CAT>>,
                /// 1×1 unit instead of the ASPP (ablation).
                pub aspp_plain: Option<UnitQ<'a, C4, C4, 1>>,
                /// Decoders at L3, L2, L1.
                pub decoder: (
                    DecoderQ<'a, C3, G3, C4, DC3, C3>,
                    DecoderQ<'a, C2, G2, C3, DC2, C2>,
                    DecoderQ<'a, C1, G1, C2, DC1, C1>,
                ),
                /// Head.
                pub head: SegHeadQ<'a, C1>,
            }

            impl<'a> ParamsQ<'a> {
                /// Reads every tensor from an int8 blob for this network.
                pub fn read(blob: &Blob<'a>) -> Result<Self, Int8Error> {
                    let r = Reader::new::<Net>(blob)?;
                    let t = QName::new("trans");
                    let aff = QName::new("aff");
                    let dec = QName::new("decoder");
                    Ok(Self {
                        input: r.point(&QName::new("input"))?,
                        cnn: CnnQ::read(&r, "cnn")?,
                        trans: if WITH_TRANSFORMER {
                            Some(TransQ {
                                stage1: TransformerStageQ::read(&r, &t.join("stage1"), DEEP1)?,
                                stage2: TransformerStageQ::read(&r, &t.join("stage2"), DEEP2)?,
                                stage3: TransformerStageQ::read(&r, &t.join("stage3"), DEEP3)?,
                                stage4: TransformerStageQ::read(&r, &t.join("stage4"), DEEP4)?,
                            })
                        } else {
                            None
                        },
                        cnn2: if WITH_TRANSFORMER {
                            None
                        } else {
                            Some(CnnQ::read(&r, "cnn2")?)
                        },
                        aff: (
                            AffQ::read(&r, &aff.index(0), WITH_AFF)?,
                            AffQ::read(&r, &aff.index(1), WITH_AFF)?,
                            AffQ::read(&r, &aff.index(2), WITH_AFF)?,
                            AffQ::read(&r, &aff.index(3), WITH_AFF)?,
                        ),
                        aspp: if WITH_ASPP {
                            Some(AsppQ::read(&r, &QName::new("aspp"))?)
                        } else {
                            None
                        },
                        aspp_plain: if WITH_ASPP {
                            None
                        } else {
                            Some(UnitQ::read_bn(&r, &QName::new("aspp"), true)?)
                        },
                        decoder: (
                            DecoderQ::read(&r, &dec.index(0), WITH_AG)?,
                            DecoderQ::read(&r, &dec.index(1), WITH_AG)?,
                            DecoderQ::read(&r, &dec.index(2), WITH_AG)?,
                        ),
                        head: SegHeadQ::read(&r, &QName::new("head"))?,
                    })
                }
            }

            type StemQ = CnnStemQ<'static, IN_CHANNELS, C1>;
            type Level2Q = CnnLevelQ<'static, C1, C2>;
            type Level3Q = CnnLevelQ<'static, C2, C3>;
            type Level4Q = CnnLevelQ<'static, C3, C4>;
            type Stage1Q = TransformerStageQ<'static, IN_CHANNELS, C1, Z1, M1, 7, SR1, RED1>;
            type Stage2Q = TransformerStageQ<'static, C1, C2, Z2, M2, 3, SR2, RED2>;
            type Stage3Q = TransformerStageQ<'static, C2, C3, Z3, M3, 3, SR3, RED3>;
            type Stage4Q = TransformerStageQ<'static, C3, C4, Z4, M4, 3, SR4, RED4>;

            const fn second(stage: usize, cnn: usize) -> usize {
                if WITH_TRANSFORMER {
                    stage
                } else {
                    cnn
                }
            }
            const Q0: usize = 32; // quantized input     0..1

            /// The int8 memory plan: the f32 plan's buffers at one byte per element, the
            /// quantized input, and the int8 blocks' scratch.
            pub const PLAN_INT8: Plan<33> = Plan::new([
                Buffer::new(map_bytes_i8(Z1, H1, H1), 0, 4),
                Buffer::new(map_bytes_i8(Z2, H2, H2), 2, 7),
                Buffer::new(map_bytes_i8(Z3, H3, H3), 5, 10),
                Buffer::new(map_bytes_i8(Z4, H4, H4), 8, 11),
                Buffer::new(map_bytes_i8(C1, H1, H1), 4, 15),
                Buffer::new(map_bytes_i8(C2, H2, H2), 7, 14),
                Buffer::new(map_bytes_i8(C3, H3, H3), 10, 13),
                Buffer::new(map_bytes_i8(C4, H4, H4), 11, 12),
                Buffer::new(map_bytes_i8(C4, H4, H4), 12, 13),
                Buffer::new(map_bytes_i8(C3, H3, H3), 13, 14),
                Buffer::new(map_bytes_i8(C2, H2, H2), 14, 15),
                Buffer::new(map_bytes_i8(C1, H1, H1), 15, 16),
                Buffer::new(map_bytes_i8(C1, SIZE, SIZE), 16, 17),
                Buffer::new(map_bytes_i8(1, SIZE, SIZE), 17, 17),
                Buffer::new(StemQ::scratch_bytes(H1, H1), 0, 0),
                Buffer::new(
                    second(
                        Stage1Q::scratch_bytes(H1, H1, NK1),
                        StemQ::scratch_bytes(H1, H1),
                    ),
                    1,
                    1,
                ),
                Buffer::new(Level2Q::scratch_bytes(H2, H2), 2, 2),
                Buffer::new(
                    second(
                        Stage2Q::scratch_bytes(H2, H2, NK2),
                        Level2Q::scratch_bytes(H2, H2),
                    ),
                    3,
                    3,
                ),
                Buffer::new(AffQ::<C1, Z1, Q1>::scratch_bytes(WITH_AFF), 4, 4),
                Buffer::new(Level3Q::scratch_bytes(H3, H3), 5, 5),
                Buffer::new(
                    second(
                        Stage3Q::scratch_bytes(H3, H3, NK3),
                        Level3Q::scratch_bytes(H3, H3),
                    ),
                    6,
                    6,
                ),
                Buffer::new(AffQ::<C2, Z2, Q2>::scratch_bytes(WITH_AFF), 7, 7),
                Buffer::new(Level4Q::scratch_bytes(H4, H4), 8, 8),
                Buffer::new(
                    second(
                        Stage4Q::scratch_bytes(H4, H4, NK4),
                        Level4Q::scratch_bytes(H4, H4),
                    ),
                    9,
                    9,
                ),
                Buffer::new(AffQ::<C3, Z3, Q3>::scratch_bytes(WITH_AFF), 10, 10),
                Buffer::new(AffQ::<C4, Z4, Q4>::scratch_bytes(WITH_AFF), 11, 11),
                Buffer::new(
                    if WITH_ASPP {
                        AsppQ::<C4, C4, CAT>::scratch_bytes(H4, H4)
                    } else {
                        0
                    },
                    12,
                    12,
                ),
                Buffer::new(
                    DecoderQ::<C3, G3, C4, DC3, C3>::scratch_bytes(H3, H3, WITH_AG),
                    13,
                    13,
                ),
                Buffer::new(
                    DecoderQ::<C2, G2, C3, DC2, C2>::scratch_bytes(H2, H2, WITH_AG),
                    14,
                    14,
                ),
                Buffer::new(
                    DecoderQ::<C1, G1, C2, DC1, C1>::scratch_bytes(H1, H1, WITH_AG),
                    15,
                    15,
                ),
                Buffer::new(0, 16, 16),
                Buffer::new(SegHeadQ::<C1>::scratch_bytes(SIZE, SIZE), 17, 17),
                Buffer::new(map_bytes_i8(IN_CHANNELS, SIZE, SIZE), 0, 1),
            ]);
            const _: () = assert!(
                PLAN_INT8.is_sound(),
                "int8 memory plan overlaps live buffers"
            );

            /// Bytes of arena the int8 forward pass needs.
            pub const ARENA_BYTES_INT8: usize = PLAN_INT8.total;

            /// Runs the int8 forward pass, reporting every activation point to `pr`.
            pub fn forward_probe<'o>(
                blob: &Blob<'_>,
                input: &Map<IN_CHANNELS, SIZE, SIZE>,
                arena: &'o mut [u8],
                pr: &mut dyn Probe,
            ) -> Result<(&'o Map<1, SIZE, SIZE, i8>, OutputQuant), Int8Error> {
                let p = ParamsQ::read(blob)?;
                if !arena.as_ptr().addr().is_multiple_of(4) {
                    return Err(Int8Error::Run(Error::ArenaMisaligned));
                }
                if arena.len() < PLAN_INT8.total {
                    return Err(Int8Error::Run(Error::ArenaTooSmall {
                        needed: PLAN_INT8.total,
                        available: arena.len(),
                    }));
                }
                let a = arena;
                let bad = Int8Error::Run(Error::PlanOverlap);
                // Level 1: both branches from the quantized input.
                let za1 = {
                    let [q0, z, t] = regions_i8(&PLAN_INT8, a, [Q0, BZ1, T0])?;
                    let q0 = view_i8::<IN_CHANNELS, SIZE, SIZE>(q0)?;
                    quantize_input(input.flat(), p.input, q0.flat_mut())?;
                    probe(pr, p.input, q0.flat());
                    let y = channels_mut::<_, 0, C1, Z1, H1, H1>(view_i8::<Z1, H1, H1>(z)?);
                    p.cnn
                        .stem
                        .forward::<SIZE, SIZE, H1, H1>(q0, p.input, y, scratch_of(t)?, pr)?
                };
                let zb1 = {
                    let [q0, z, t] = regions_i8(&PLAN_INT8, a, [Q0, BZ1, T0 + 1])?;
                    let q0 = view_i8::<IN_CHANNELS, SIZE, SIZE>(q0)?;
                    let y = channels_mut::<_, C1, C1, Z1, H1, H1>(view_i8::<Z1, H1, H1>(z)?);
                    match (&p.trans, &p.cnn2) {
                        (Some(tr), _) => tr
                            .stage1
                            .forward::<HD1, 3, SIZE, SIZE, H1, H1, HK1, HK1, NK1, N1>(
                                q0,
                                p.input,
                                y,
                                scratch_of(t)?,
                                pr,
                            )?,
                        (None, Some(c2)) => c2.stem.forward::<SIZE, SIZE, H1, H1>(
                            q0,
                            p.input,
                            y,
                            scratch_of(t)?,
                            pr,
                        )?,
                        (None, None) => return Err(bad),
                    }
                };
                // Level 2.
                let za2 = {
                    let [zi, zo, t] = regions_i8(&PLAN_INT8, a, [BZ1, BZ2, T0 + 2])?;
                    let x = channels::<_, 0, C1, Z1, H1, H1>(view_i8::<Z1, H1, H1>(zi)?);
                    let y = channels_mut::<_, 0, C2, Z2, H2, H2>(view_i8::<Z2, H2, H2>(zo)?);
                    p.cnn
                        .level2
                        .forward::<H1, H1, H2, H2>(x, za1, y, scratch_of(t)?, pr)?
                };
                let zb2 = {
                    let [zi, zo, t] = regions_i8(&PLAN_INT8, a, [BZ1, BZ2, T0 + 3])?;
                    let x = channels::<_, C1, C1, Z1, H1, H1>(view_i8::<Z1, H1, H1>(zi)?);
                    let y = channels_mut::<_, C2, C2, Z2, H2, H2>(view_i8::<Z2, H2, H2>(zo)?);
                    match (&p.trans, &p.cnn2) {
                        (Some(tr), _) => tr
                            .stage2
                            .forward::<HD2, 1, H1, H1, H2, H2, HK2, HK2, NK2, N2>(
                                x,
                                zb1,
                                y,
                                scratch_of(t)?,
                                pr,
                            )?,
                        (None, Some(c2)) => {
                            c2.level2
                                .forward::<H1, H1, H2, H2>(x, zb1, y, scratch_of(t)?, pr)?
                        }
                        (None, None) => return Err(bad),
                    }
                };
                let f1p = {
                    let [z, f, t] = regions_i8(&PLAN_INT8, a, [BZ1, BF1, T0 + 4])?;
                    p.aff.0.forward::<H1, H1>(
                        view_i8(z)?,
                        za1,
                        zb1,
                        view_i8(f)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                // Level 3.
                let za3 = {
                    let [zi, zo, t] = regions_i8(&PLAN_INT8, a, [BZ2, BZ3, T0 + 5])?;
                    let x = channels::<_, 0, C2, Z2, H2, H2>(view_i8::<Z2, H2, H2>(zi)?);
                    let y = channels_mut::<_, 0, C3, Z3, H3, H3>(view_i8::<Z3, H3, H3>(zo)?);
                    p.cnn
                        .level3
                        .forward::<H2, H2, H3, H3>(x, za2, y, scratch_of(t)?, pr)?
                };
                let zb3 = {
                    let [zi, zo, t] = regions_i8(&PLAN_INT8, a, [BZ2, BZ3, T0 + 6])?;
                    let x = channels::<_, C2, C2, Z2, H2, H2>(view_i8::<Z2, H2, H2>(zi)?);
                    let y = channels_mut::<_, C3, C3, Z3, H3, H3>(view_i8::<Z3, H3, H3>(zo)?);
                    match (&p.trans, &p.cnn2) {
                        (Some(tr), _) => tr
                            .stage3
                            .forward::<HD3, 1, H2, H2, H3, H3, HK3, HK3, NK3, N3>(
                                x,
                                zb2,
                                y,
                                scratch_of(t)?,
                                pr,
                            )?,
                        (None, Some(c2)) => {
                            c2.level3
                                .forward::<H2, H2, H3, H3>(x, zb2, y, scratch_of(t)?, pr)?
                        }
                        (None, None) => return Err(bad),
                    }
                };
                let f2p = {
                    let [z, f, t] = regions_i8(&PLAN_INT8, a, [BZ2, BF2, T0 + 7])?;
                    p.aff.1.forward::<H2, H2>(
                        view_i8(z)?,
                        za2,
                        zb2,
                        view_i8(f)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                // Level 4.
                let za4 = {
                    let [zi, zo, t] = regions_i8(&PLAN_INT8, a, [BZ3, BZ4, T0 + 8])?;
                    let x = channels::<_, 0, C3, Z3, H3, H3>(view_i8::<Z3, H3, H3>(zi)?);
                    let y = channels_mut::<_, 0, C4, Z4, H4, H4>(view_i8::<Z4, H4, H4>(zo)?);
                    p.cnn
                        .level4
                        .forward::<H3, H3, H4, H4>(x, za3, y, scratch_of(t)?, pr)?
                };
                let zb4 = {
                    let [zi, zo, t] = regions_i8(&PLAN_INT8, a, [BZ3, BZ4, T0 + 9])?;
                    let x = channels::<_, C3, C3, Z3, H3, H3>(view_i8::<Z3, H3, H3>(zi)?);
                    let y = channels_mut::<_, C4, C4, Z4, H4, H4>(view_i8::<Z4, H4, H4>(zo)?);
                    match (&p.trans, &p.cnn2) {
                        (Some(tr), _) => tr
                            .stage4
                            .forward::<HD4, 1, H3, H3, H4, H4, HK4, HK4, NK4, N4>(
                                x,
                                zb3,
                                y,
                                scratch_of(t)?,
                                pr,
                            )?,
                        (None, Some(c2)) => {
                            c2.level4
                                .forward::<H3, H3, H4, H4>(x, zb3, y, scratch_of(t)?, pr)?
                        }
                        (None, None) => return Err(bad),
                    }
                };
                let f3p = {
                    let [z, f, t] = regions_i8(&PLAN_INT8, a, [BZ3, BF3, T0 + 10])?;
                    p.aff.2.forward::<H3, H3>(
                        view_i8(z)?,
                        za3,
                        zb3,
                        view_i8(f)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let f4p = {
                    let [z, f, t] = regions_i8(&PLAN_INT8, a, [BZ4, BF4, T0 + 11])?;
                    p.aff.3.forward::<H4, H4>(
                        view_i8(z)?,
                        za4,
                        zb4,
                        view_i8(f)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                // Context and decoder.
                let gp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [BF4, BA, T0 + 12])?;
                    let (x, y) = (view_i8::<C4, H4, H4>(x)?, view_i8::<C4, H4, H4>(y)?);
                    match (&p.aspp, &p.aspp_plain) {
                        (Some(aspp), _) => {
                            aspp.forward::<R1, R2, R3, H4, H4>(x, f4p, y, scratch_of(t)?, pr)?
                        }
                        (None, Some(plain)) => plain.run::<1, 0, 1, H4, H4, H4, H4>(x, f4p, y, pr),
                        (None, None) => return Err(bad),
                    }
                };
                let d3p = {
                    let [skip, g, y, t] = regions_i8(&PLAN_INT8, a, [BF3, BA, BD3, T0 + 13])?;
                    p.decoder.0.forward::<H3, H3, H4, H4>(
                        view_i8(skip)?,
                        f3p,
                        view_i8(g)?,
                        gp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let d2p = {
                    let [skip, g, y, t] = regions_i8(&PLAN_INT8, a, [BF2, BD3, BD2, T0 + 14])?;
                    p.decoder.1.forward::<H2, H2, H3, H3>(
                        view_i8(skip)?,
                        f2p,
                        view_i8(g)?,
                        d3p,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let d1p = {
                    let [skip, g, y, t] = regions_i8(&PLAN_INT8, a, [BF1, BD2, BD1, T0 + 15])?;
                    p.decoder.2.forward::<H1, H1, H2, H2>(
                        view_i8(skip)?,
                        f1p,
                        view_i8(g)?,
                        d2p,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                {
                    let [x, y] = regions_i8(&PLAN_INT8, a, [BD1, BUP])?;
                    $crate::int8::resize::resize_bilinear::<C1, H1, H1, SIZE, SIZE>(
                        view_i8(x)?,
                        d1p.zero_point,
                        view_i8(y)?,
                        AlignCorners::False,
                    );
                }
                let lp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [BUP, BOUT, T0 + 17])?;
                    p.head.forward::<SIZE, SIZE>(
                        view_i8(x)?,
                        d1p,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let [out] = regions_i8(&PLAN_INT8, a, [BOUT])?;
                let out: &'o Map<1, SIZE, SIZE, i8> = view_i8::<1, SIZE, SIZE>(out)?;
                Ok((out, lp.quant()))
            }

            /// Runs the int8 forward pass: the logits (`1 × S × S`, int8 at the returned
            /// quantization) live in `arena`.
            pub fn forward<'o>(
                blob: &Blob<'_>,
                input: &Map<IN_CHANNELS, SIZE, SIZE>,
                arena: &'o mut [u8],
            ) -> Result<(&'o Map<1, SIZE, SIZE, i8>, OutputQuant), Int8Error> {
                forward_probe(blob, input, arena, &mut NoProbe)
            }

            impl Net {
                /// Runs the int8 forward pass (see [`forward`]): integer-only from the input
                /// quantization to the int8 logits, which live in `arena`.
                pub fn forward_int8<'o>(
                    blob: &Blob<'_>,
                    input: &Map<IN_CHANNELS, SIZE, SIZE>,
                    arena: &'o mut [u8],
                ) -> Result<(&'o Map<1, SIZE, SIZE, i8>, OutputQuant), Int8Error> {
                    forward(blob, input, arena)
                }
            }

            impl $crate::nets::int8::Int8Network for Net {
                const ARENA_BYTES_INT8: usize = ARENA_BYTES_INT8;

                fn forward_int8_probe<'o>(
                    blob: &Blob<'_>,
                    input: &[f32],
                    arena: &'o mut [u8],
                    pr: &mut dyn Probe,
                ) -> Result<(&'o [i8], OutputQuant), Int8Error> {
                    let input = $crate::tensor::map_ref::<f32, IN_CHANNELS, SIZE, SIZE>(input)
                        .ok_or(Int8Error::Run(Error::InputShape {
                            expected: IN_CHANNELS * SIZE * SIZE,
                            found: input.len(),
                        }))?;
                    let (out, q) = forward_probe(blob, input, arena, pr)?;
                    Ok((out.flat(), q))
                }
            }
        }
    };
}
