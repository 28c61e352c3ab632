//! AGCAF-Net in int8: the blocks of [`super::agcaf`] with integer-only kernels, reading their
//! quantized tensors from an int8 blob (naming scheme: [`crate::int8::graph`]).
//!
//! Every preset of [`super::agcaf`] gets, inside its module, `PLAN_INT8`, `ARENA_BYTES_INT8`,
//! `ParamsQ` and `Net::forward_int8` / `Net::forward_int8_flat` (and [`super::int8::Int8Network`]),
//! from [`agcaf_int8_body!`](crate::agcaf_int8_body).
//!
//! # The int8 graph and its activation points
//!
//! ```text
//! input (f32) ─quantize─ act.input
//! stem           conv+BN+ReLU                        act.backbone.stem
//! BasicBlock P   conv1+BN+ReLU                       act.P.conv1
//!                conv2+BN                            act.P.conv2
//!                [downsample conv+BN]                act.P.downsample
//!                ReLU(conv2 + shortcut)              act.P.out               (P.out.add)
//! CPM            reduce conv+BN+ReLU                 act.cpm.reduce
//!   AGCB A = cpm.agcb.k (input: cpm.reduce)
//!     GNFM G = A.gnfm: max-pool (keeps act.cpm.reduce)
//!       NonLocal N = G.nonlocal: q, k, v 1×1 convs   act.N.q, act.N.k, act.N.v
//!                  scores QᵀK                        act.N.score             (N.score.requant, N.score.exp)
//!                  softmax                           (1/256, −128)
//!                  V·Aᵀ                              act.N.attn              (N.attn.requant)
//!                  γ·attn + x                        act.N.out               (N.out.add, γ folded)
//!       conv1+BN+ReLU, conv2+BN                      act.G.conv1, act.G.conv2
//!       sigmoid                                      act.G.gate              (G.gate.lut)
//!     patch NonLocal N = A.nonlocal (shared q/k/v on the whole map, attention per patch):
//!                                                    act.N.{q,k,v,score,attn,out}
//!     (γ·attn + x) ⊙ g[:, i, j]                      act.A.context           (A.context.mul)
//!     conv3×3+BN                                     act.A.conv
//!     ReLU(γ·conv + x)                               act.A.out               (A.out.add, γ folded)
//!   concat [reduce, agcb.0..3] (each rescaled)       act.cpm.cat             (cpm.cat.rescale [5, 2])
//!   fuse conv+BN+ReLU                                act.cpm.fuse
//! bilinear (align corners) — keeps its input's point
//! AFM F (fuse23, fuse12): plus_conv+BN+ReLU          act.F.plus_conv
//!   pixel gate: squeeze+BN+ReLU, excite+BN, σ        act.F.pa.squeeze, act.F.pa.excite, act.F.pa.gate
//!   channel gate on GAP(xh) (GAP keeps xh's point)   act.F.ca.squeeze, act.F.ca.excite, act.F.ca.gate
//!   xh + x_low                                       act.F.sum               (F.sum.add)
//!   end_conv+BN+ReLU                                 act.F.end_conv
//!   ⊙ ca, ⊙ pa                                       act.F.ca_mul, act.F.out (…mul)
//! plain fusion F (ablation): conv+BN+ReLU, + skip    act.F, act.F.out        (F.out.add)
//! head: conv3×3+BN+ReLU, conv1×1                     act.head.conv, act.head.out
//! bilinear to the input size — the logits, at act.head.out
//! ```
//!
//! Probes see every point except `N.out` of the patch non-local (fused into the context
//! product); the scores are reported one query row at a time and `N.attn` not at all (it is
//! consumed element by element). Query and key points are reported token-major
//! (`[pixel][channel]`), everything else channel-major.

// Errors carry the failing tensor's name (no allocation), which makes `Int8Error` larger
// than clippy's default; it is only built on the error path.
#![allow(clippy::result_large_err)]

use crate::arena::{i8_bytes, map_bytes_i8, max, Scratch};
use crate::blocks::agcb::{largest_patch, patch_range};
use crate::error::Error;
use crate::int8::concat::requantize_in_place;
use crate::int8::elementwise;
use crate::int8::graph::{
    conv1x1_tokens, probe, region_attention_q, rescale, AddQ, AttentionQ, Int8Error, LutQ, MulQ,
    Point, Probe, QName, QkvQ, Reader, UnitQ,
};
use crate::int8::pool;
use crate::int8::quant::MAX_ACT_DOT_TERMS;
use crate::tensor::{map_ref, vec_mut, Flat, Map, Mat};

/// Parameters of an int8 BasicBlock at prefix `P`.
#[derive(Debug, Clone, Copy)]
pub struct BasicBlockQ<'a, const CI: usize, const CO: usize, const DOWN: bool> {
    /// conv3×3(s)+BN+ReLU.
    pub conv1: UnitQ<'a, CO, CI, 3>,
    /// conv3×3+BN.
    pub conv2: UnitQ<'a, CO, CO, 3>,
    /// Projection shortcut (when the shape changes).
    pub down: Option<UnitQ<'a, CO, CI, 1>>,
    /// ReLU(conv2 + shortcut).
    pub add: AddQ<'a>,
}

impl<'a, const CI: usize, const CO: usize, const DOWN: bool> BasicBlockQ<'a, CI, CO, DOWN> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            conv1: UnitQ::read_bn(r, &prefix.join("conv1"), true)?,
            conv2: UnitQ::read_bn(r, &prefix.join("conv2"), false)?,
            down: if DOWN {
                Some(UnitQ::read_bn(r, &prefix.join("downsample"), false)?)
            } else {
                None
            },
            add: AddQ::read(r, &prefix.join("out"), true)?,
        })
    }

    /// Scratch: one intermediate map.
    pub const fn scratch_bytes(ho: usize, wo: usize) -> usize {
        map_bytes_i8(CO, ho, wo)
    }

    /// `y = ReLU(conv2(conv1(x)) + shortcut(x))` with stride `S`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const S: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
    >(
        &self,
        x: &Map<CI, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<CO, HO, WO, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(
                DOWN == (S != 1 || CI != CO),
                "a BasicBlock has a projection shortcut exactly when its shape changes"
            )
        };
        let mid = scratch.take_map_i8::<CO, HO, WO>()?;
        let p1 = self.conv1.run::<S, 1, 1, H, W, HO, WO>(x, xp, mid, pr);
        let p2 = self.conv2.run::<1, 1, 1, HO, WO, HO, WO>(mid, p1, y, pr);
        let out = match &self.down {
            Some(down) => {
                let pd = down.run::<S, 0, 1, H, W, HO, WO>(x, xp, mid, pr);
                elementwise::add(y, mid, &self.add.quant(p2, pd));
                self.add.out
            }
            None => {
                let id = map_ref::<i8, CO, HO, WO>(x.flat()).ok_or(Error::PlanOverlap)?;
                elementwise::add(y, id, &self.add.quant(p2, xp));
                self.add.out
            }
        };
        probe(pr, out, y.flat());
        Ok(out)
    }
}

/// Parameters of an int8 non-local block at prefix `N` (`CR` query/key channels).
#[derive(Debug, Clone, Copy)]
pub struct NonLocalQ<'a, const C: usize, const CR: usize> {
    /// Query projection (1×1, bias).
    pub q: UnitQ<'a, CR, C, 1>,
    /// Key projection.
    pub k: UnitQ<'a, CR, C, 1>,
    /// Value projection.
    pub v: UnitQ<'a, C, C, 1>,
    /// Scores, softmax table, attention output.
    pub attention: AttentionQ<'a>,
    /// `γ·attn + x`.
    pub add: AddQ<'a>,
}

impl<'a, const C: usize, const CR: usize> NonLocalQ<'a, C, CR> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            q: UnitQ::read_plain(r, &prefix.join("q"), false)?,
            k: UnitQ::read_plain(r, &prefix.join("k"), false)?,
            v: UnitQ::read_plain(r, &prefix.join("v"), false)?,
            attention: AttentionQ::read(r, prefix)?,
            add: AddQ::read(r, &prefix.join("out"), false)?,
        })
    }

    /// Bytes of the q, k, v planes of an `h × w` map.
    pub const fn qkv_bytes(h: usize, w: usize) -> usize {
        2 * i8_bytes(h * w * CR) + map_bytes_i8(C, h, w)
    }

    /// Scratch of [`NonLocalQ::forward`] on an `h × w` map: q, k, v and one score row.
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        Self::qkv_bytes(h, w) + i8_bytes(h * w)
    }

    /// Computes q, k (token-major) and v (channel-major) of `x` into scratch.
    pub fn project<'s, const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        s: &mut Scratch<'s>,
        pr: &mut dyn Probe,
    ) -> Result<QkvQ<'s>, Error> {
        const {
            assert!(
                H * W <= MAX_ACT_DOT_TERMS,
                "map too large for exact int8 attention sums"
            )
        };
        let q = s.take_i8(H * W * CR)?;
        let k = s.take_i8(H * W * CR)?;
        let v = s.take_map_i8::<C, H, W>()?;
        let zp = xp.zero_point;
        conv1x1_tokens(
            x,
            self.q.conv.weight,
            &self.q.conv.quant(zp, self.q.out, false),
            q,
        );
        probe(pr, self.q.out, q);
        conv1x1_tokens(
            x,
            self.k.conv.weight,
            &self.k.conv.quant(zp, self.k.out, false),
            k,
        );
        probe(pr, self.k.out, k);
        let pv = self.v.run::<1, 0, 1, H, W, H, W>(x, xp, v, pr);
        let (q, k, v): (&'s [i8], &'s [i8], &'s Map<C, H, W, i8>) = (q, k, v);
        Ok(QkvQ {
            q,
            k,
            v: v.flat(),
            zp: [self.q.out.zero_point, self.k.out.zero_point, pv.zero_point],
            cr: CR,
            c: C,
            h: H,
            w: W,
        })
    }

    /// `y = γ · attention(x) + x` over the whole map.
    pub fn forward<const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<C, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const { assert!(CR >= 1 && CR <= C, "non-local needs 1 <= C/r <= C") };
        let qkv = self.project(x, xp, &mut scratch, pr)?;
        let row = scratch.take_i8(H * W)?;
        let add = self.add.quant(self.attention.attn, xp);
        let (xf, yf) = (x.flat(), y.flat_mut());
        region_attention_q(&qkv, &self.attention, 0..H, 0..W, row, pr, |c, n, a| {
            let i = c * H * W + n;
            yf[i] = add.add(a, xf[i]);
        })?;
        probe(pr, self.add.out, y.flat());
        Ok(self.add.out)
    }
}

/// Parameters of an int8 GNFM at prefix `G` (`C4 = C/4`).
#[derive(Debug, Clone, Copy)]
pub struct GnfmQ<'a, const C: usize, const C4: usize> {
    /// NonLocal(C, r = 1) on the pooled map.
    pub nonlocal: NonLocalQ<'a, C, C>,
    /// Conv1×1(C→C/4)+BN+ReLU.
    pub conv1: UnitQ<'a, C4, C, 1>,
    /// Conv1×1(C/4→C)+BN.
    pub conv2: UnitQ<'a, C, C4, 1>,
    /// σ.
    pub gate: LutQ<'a>,
}

impl<'a, const C: usize, const C4: usize> GnfmQ<'a, C, C4> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            nonlocal: NonLocalQ::read(r, &prefix.join("nonlocal"))?,
            conv1: UnitQ::read_bn(r, &prefix.join("conv1"), true)?,
            conv2: UnitQ::read_bn(r, &prefix.join("conv2"), false)?,
            gate: LutQ::read(r, &prefix.join("gate"))?,
        })
    }

    /// Pooled map, non-local output, then the larger of the non-local's scratch and the
    /// bottleneck.
    pub const fn scratch_bytes(s: usize) -> usize {
        2 * map_bytes_i8(C, s, s)
            + max(
                NonLocalQ::<C, C>::scratch_bytes(s, s),
                map_bytes_i8(C4, s, s),
            )
    }

    /// Writes the gate `g` (`C × S × S`, at the gate point).
    pub fn forward<const S: usize, const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        g: &mut Map<C, S, S, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let pooled = scratch.take_map_i8::<C, S, S>()?;
        pool::adaptive_max_pool(x, pooled);
        let attended = scratch.take_map_i8::<C, S, S>()?;
        let pa = self
            .nonlocal
            .forward(pooled, xp, attended, scratch.reborrow(), pr)?;
        let mid = scratch.take_map_i8::<C4, S, S>()?;
        let p1 = self.conv1.run::<1, 0, 1, S, S, S, S>(attended, pa, mid, pr);
        self.conv2.run::<1, 0, 1, S, S, S, S>(mid, p1, g, pr);
        Ok(self.gate.apply(g, pr))
    }
}

/// Parameters of an int8 AGCB at prefix `A` (`CR = C/r_n`, `C4 = C/4`).
#[derive(Debug, Clone, Copy)]
pub struct AgcbQ<'a, const C: usize, const CR: usize, const C4: usize> {
    /// The global gate.
    pub gnfm: GnfmQ<'a, C, C4>,
    /// The shared patch non-local.
    pub nonlocal: NonLocalQ<'a, C, CR>,
    /// `(γ·attn + x) ⊙ g`.
    pub context: MulQ<'a>,
    /// Conv3×3+BN on the context.
    pub conv: UnitQ<'a, C, C, 3>,
    /// `ReLU(γ·conv + x)`.
    pub add: AddQ<'a>,
}

impl<'a, const C: usize, const CR: usize, const C4: usize> AgcbQ<'a, C, CR, C4> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            gnfm: GnfmQ::read(r, &prefix.join("gnfm"))?,
            nonlocal: NonLocalQ::read(r, &prefix.join("nonlocal"))?,
            context: MulQ::read(r, &prefix.join("context"))?,
            conv: UnitQ::read_bn(r, &prefix.join("conv"), false)?,
            add: AddQ::read(r, &prefix.join("out"), true)?,
        })
    }

    /// The gate, then the GNFM's scratch or (context map + q, k, v + one score row).
    pub const fn scratch_bytes(s: usize, h: usize, w: usize) -> usize {
        map_bytes_i8(C, s, s)
            + max(
                GnfmQ::<C, C4>::scratch_bytes(s),
                map_bytes_i8(C, h, w)
                    + NonLocalQ::<C, CR>::qkv_bytes(h, w)
                    + i8_bytes(largest_patch(s, h, w)),
            )
    }

    /// `y = ReLU(γ · conv3×3(patchwise_nonlocal(x) ⊙ g) + x)` with an `S × S` grid.
    pub fn forward<const S: usize, const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<C, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(
                S >= 1 && S <= H && S <= W,
                "AGCB scale must not exceed the map size"
            );
        };
        let g = scratch.take_map_i8::<C, S, S>()?;
        let gp = self.gnfm.forward(x, xp, g, scratch.reborrow(), pr)?;
        let context = scratch.take_map_i8::<C, H, W>()?;
        {
            let mut s = scratch.reborrow();
            let qkv = self.nonlocal.project(x, xp, &mut s, pr)?;
            let row = s.take_i8(largest_patch(S, H, W))?;
            let add = self.nonlocal.add.quant(self.nonlocal.attention.attn, xp);
            let mul = self.context.quant(self.nonlocal.add.out, gp);
            let (xf, cf) = (x.flat(), context.flat_mut());
            // (i, j) names a grid cell: it picks the patch's pixel ranges and its gate.
            #[allow(clippy::needless_range_loop)]
            for i in 0..S {
                for j in 0..S {
                    region_attention_q(
                        &qkv,
                        &self.nonlocal.attention,
                        patch_range(i, S, H),
                        patch_range(j, S, W),
                        row,
                        pr,
                        |c, n, a| {
                            let at = c * H * W + n;
                            cf[at] = mul.mul(add.add(a, xf[at]), g[c][i][j]);
                        },
                    )?;
                }
            }
        }
        probe(pr, self.context.out, context.flat());
        let pc = self
            .conv
            .run::<1, 1, 1, H, W, H, W>(context, self.context.out, y, pr);
        elementwise::add(y, x, &self.add.quant(pc, xp));
        probe(pr, self.add.out, y.flat());
        Ok(self.add.out)
    }
}

/// Parameters of the int8 CPM at prefix `cpm` (`I` inter channels, `CAT = 5·I`).
#[derive(Debug, Clone, Copy)]
pub struct CpmQ<
    'a,
    const P: usize,
    const I: usize,
    const IR: usize,
    const I4: usize,
    const CAT: usize,
> {
    /// Conv1×1(P→I)+BN+ReLU.
    pub reduce: UnitQ<'a, I, P, 1>,
    /// One AGCB per scale.
    pub agcb: [AgcbQ<'a, I, IR, I4>; 4],
    /// The concatenation point.
    pub cat: Point<'a>,
    /// Rescales of [reduce, agcb.0 … agcb.3] into it.
    pub rescale: &'a Mat<5, 2, i32>,
    /// Conv1×1(5I→P)+BN+ReLU.
    pub fuse: UnitQ<'a, P, CAT, 1>,
}

impl<'a, const P: usize, const I: usize, const IR: usize, const I4: usize, const CAT: usize>
    CpmQ<'a, P, I, IR, I4, CAT>
{
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        let agcb = prefix.join("agcb");
        let cat = prefix.join("cat");
        Ok(Self {
            reduce: UnitQ::read_bn(r, &prefix.join("reduce"), true)?,
            agcb: [
                AgcbQ::read(r, &agcb.index(0))?,
                AgcbQ::read(r, &agcb.index(1))?,
                AgcbQ::read(r, &agcb.index(2))?,
                AgcbQ::read(r, &agcb.index(3))?,
            ],
            cat: r.point(&cat)?,
            rescale: r.i32_mat(&cat.join("rescale"))?,
            fuse: UnitQ::read_bn(r, &prefix.join("fuse"), true)?,
        })
    }

    /// The concatenation buffer, then the largest AGCB scratch.
    pub const fn scratch_bytes(scales: [usize; 4], h: usize, w: usize) -> usize {
        map_bytes_i8(CAT, h, w)
            + crate::arena::max_of(&[
                AgcbQ::<I, IR, I4>::scratch_bytes(scales[0], h, w),
                AgcbQ::<I, IR, I4>::scratch_bytes(scales[1], h, w),
                AgcbQ::<I, IR, I4>::scratch_bytes(scales[2], h, w),
                AgcbQ::<I, IR, I4>::scratch_bytes(scales[3], h, w),
            ])
    }

    /// `y = fuse([reduce(x), AGCB_s(reduce(x)) for s in scales])`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<
        const S0: usize,
        const S1: usize,
        const S2: usize,
        const S3: usize,
        const H: usize,
        const W: usize,
    >(
        &self,
        x: &Map<P, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<P, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(
                CAT == 5 * I,
                "CPM concatenates the reduction and four AGCBs"
            )
        };
        let cat = scratch.take_map_i8::<CAT, H, W>()?;
        let (red, branches) = cat.split_at_mut(I);
        let red: &mut Map<I, H, W, i8> = red.try_into().map_err(|_| Error::PlanOverlap)?;
        let rp = self.reduce.run::<1, 0, 1, H, W, H, W>(x, xp, red, pr);
        let red: &Map<I, H, W, i8> = red;
        for k in 0..4 {
            let part = branches
                .get_mut(k * I..(k + 1) * I)
                .ok_or(Error::PlanOverlap)?;
            let slot: &mut Map<I, H, W, i8> = part.try_into().map_err(|_| Error::PlanOverlap)?;
            let s = scratch.reborrow();
            let a = &self.agcb[k];
            let bp = match k {
                0 => a.forward::<S0, H, W>(red, rp, slot, s, pr)?,
                1 => a.forward::<S1, H, W>(red, rp, slot, s, pr)?,
                2 => a.forward::<S2, H, W>(red, rp, slot, s, pr)?,
                _ => a.forward::<S3, H, W>(red, rp, slot, s, pr)?,
            };
            requantize_in_place(slot, &rescale(bp, self.cat, &self.rescale[k + 1]));
        }
        let red: &mut Map<I, H, W, i8> = crate::tensor::channels_mut::<i8, 0, I, CAT, H, W>(cat);
        requantize_in_place(red, &rescale(rp, self.cat, &self.rescale[0]));
        probe(pr, self.cat, cat.flat());
        Ok(self.fuse.run::<1, 0, 1, H, W, H, W>(cat, self.cat, y, pr))
    }
}

/// An int8 squeeze–excite gate at prefix `F.pa` / `F.ca`.
#[derive(Debug, Clone, Copy)]
pub struct GateQ<'a, const C: usize, const C4: usize> {
    /// Conv1×1(C→C4)+BN+ReLU.
    pub squeeze: UnitQ<'a, C4, C, 1>,
    /// Conv1×1(C4→C)+BN.
    pub excite: UnitQ<'a, C, C4, 1>,
    /// σ.
    pub gate: LutQ<'a>,
}

impl<'a, const C: usize, const C4: usize> GateQ<'a, C, C4> {
    /// Reads the gate at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            squeeze: UnitQ::read_bn(r, &prefix.join("squeeze"), true)?,
            excite: UnitQ::read_bn(r, &prefix.join("excite"), false)?,
            gate: LutQ::read(r, &prefix.join("gate"))?,
        })
    }

    /// `out = σ(excite(squeeze(x)))` with `mid` as the bottleneck.
    pub fn run<const H: usize, const W: usize>(
        &self,
        x: &Map<C, H, W, i8>,
        xp: Point<'_>,
        mid: &mut Map<C4, H, W, i8>,
        out: &mut Map<C, H, W, i8>,
        pr: &mut dyn Probe,
    ) -> Point<'a> {
        let p = self.squeeze.run::<1, 0, 1, H, W, H, W>(x, xp, mid, pr);
        self.excite.run::<1, 0, 1, H, W, H, W>(mid, p, out, pr);
        self.gate.apply(out, pr)
    }
}

/// Parameters of an int8 AFM at prefix `F` (`CL4 = CL/4`).
#[derive(Debug, Clone, Copy)]
pub struct AfmQ<'a, const CH: usize, const CL: usize, const CL4: usize> {
    /// Conv1×1(CH→CL)+BN+ReLU on the deep map.
    pub plus_conv: UnitQ<'a, CL, CH, 1>,
    /// Pixel gate on the skip map.
    pub pa: GateQ<'a, CL, CL4>,
    /// Channel gate on GAP(xh).
    pub ca: GateQ<'a, CL, CL4>,
    /// `xh + x_low`.
    pub sum: AddQ<'a>,
    /// Conv3×3+BN+ReLU.
    pub end_conv: UnitQ<'a, CL, CL, 3>,
    /// `⊙ ca`.
    pub ca_mul: MulQ<'a>,
    /// `⊙ pa`.
    pub out: MulQ<'a>,
}

impl<'a, const CH: usize, const CL: usize, const CL4: usize> AfmQ<'a, CH, CL, CL4> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            plus_conv: UnitQ::read_bn(r, &prefix.join("plus_conv"), true)?,
            pa: GateQ::read(r, &prefix.join("pa"))?,
            ca: GateQ::read(r, &prefix.join("ca"))?,
            sum: AddQ::read(r, &prefix.join("sum"), false)?,
            end_conv: UnitQ::read_bn(r, &prefix.join("end_conv"), true)?,
            ca_mul: MulQ::read(r, &prefix.join("ca_mul"))?,
            out: MulQ::read(r, &prefix.join("out"))?,
        })
    }

    /// xh, pixel gate, bottleneck, and the channel-gate vectors.
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        2 * map_bytes_i8(CL, h, w)
            + map_bytes_i8(CL4, h, w)
            + 2 * map_bytes_i8(CL, 1, 1)
            + map_bytes_i8(CL4, 1, 1)
    }

    /// `y = end_conv(x_low + xh) ⊙ ca ⊙ pa`.
    #[allow(clippy::too_many_arguments)]
    pub fn forward<const H: usize, const W: usize>(
        &self,
        x_high: &Map<CH, H, W, i8>,
        hp: Point<'_>,
        x_low: &Map<CL, H, W, i8>,
        lp: Point<'_>,
        y: &mut Map<CL, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        const {
            assert!(
                CL4 * 4 == CL,
                "AFM bottleneck must be C_l/4 (C_l divisible by 4)"
            )
        };
        let xh = scratch.take_map_i8::<CL, H, W>()?;
        let xhp = self
            .plus_conv
            .run::<1, 0, 1, H, W, H, W>(x_high, hp, xh, pr);

        let pa = scratch.take_map_i8::<CL, H, W>()?;
        let mid = scratch.take_map_i8::<CL4, H, W>()?;
        let pap = self.pa.run(x_low, lp, mid, pa, pr);

        let pooled = scratch.take_map_i8::<CL, 1, 1>()?;
        let ca = scratch.take_map_i8::<CL, 1, 1>()?;
        let mid1 = scratch.take_map_i8::<CL4, 1, 1>()?;
        let pooled_vec = vec_mut::<i8, CL>(pooled.flat_mut()).ok_or(Error::PlanOverlap)?;
        pool::global_avg_pool(xh, xhp.zero_point, pooled_vec);
        let cap = self.ca.run(pooled, xhp, mid1, ca, pr);

        elementwise::add(xh, x_low, &self.sum.quant(xhp, lp));
        probe(pr, self.sum.out, xh.flat());
        let ep = self
            .end_conv
            .run::<1, 1, 1, H, W, H, W>(xh, self.sum.out, y, pr);
        let ca_vec: [i8; CL] = core::array::from_fn(|c| ca[c][0][0]);
        elementwise::mul_channel(y, &ca_vec, &self.ca_mul.quant(ep, cap));
        probe(pr, self.ca_mul.out, y.flat());
        elementwise::mul(y, pa, &self.out.quant(self.ca_mul.out, pap));
        probe(pr, self.out.out, y.flat());
        Ok(self.out.out)
    }
}

/// The plain fusion of the no-AFM ablation at prefix `F`: `ReLU(BN(Conv1×1(x))) + skip`.
#[derive(Debug, Clone, Copy)]
pub struct PlainFuseQ<'a, const CH: usize, const CL: usize> {
    /// Conv1×1+BN+ReLU (point `F`).
    pub conv: UnitQ<'a, CL, CH, 1>,
    /// `+ skip` (point `F.out`).
    pub add: AddQ<'a>,
}

impl<'a, const CH: usize, const CL: usize> PlainFuseQ<'a, CH, CL> {
    /// Reads the block at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            conv: UnitQ::read_bn(r, prefix, true)?,
            add: AddQ::read(r, &prefix.join("out"), false)?,
        })
    }

    /// `y = ReLU(conv(x)) + skip`.
    pub fn forward<const H: usize, const W: usize>(
        &self,
        x: &Map<CH, H, W, i8>,
        xp: Point<'_>,
        skip: &Map<CL, H, W, i8>,
        sp: Point<'_>,
        y: &mut Map<CL, H, W, i8>,
        pr: &mut dyn Probe,
    ) -> Point<'a> {
        let p = self.conv.run::<1, 0, 1, H, W, H, W>(x, xp, y, pr);
        elementwise::add(y, skip, &self.add.quant(p, sp));
        probe(pr, self.add.out, y.flat());
        self.add.out
    }
}

/// The int8 segmentation head at prefix `head`.
#[derive(Debug, Clone, Copy)]
pub struct HeadQ<'a, const CI: usize, const CM: usize> {
    /// Conv3×3+BN+ReLU.
    pub conv: UnitQ<'a, CM, CI, 3>,
    /// Conv1×1(→1) with bias: the logits.
    pub out: UnitQ<'a, 1, CM, 1>,
}

impl<'a, const CI: usize, const CM: usize> HeadQ<'a, CI, CM> {
    /// Reads the head at `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            conv: UnitQ::read_bn(r, &prefix.join("conv"), true)?,
            out: UnitQ::read_plain(r, &prefix.join("out"), false)?,
        })
    }

    /// The hidden map.
    pub const fn scratch_bytes(h: usize, w: usize) -> usize {
        map_bytes_i8(CM, h, w)
    }

    /// Writes the logits.
    pub fn forward<const H: usize, const W: usize>(
        &self,
        x: &Map<CI, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<1, H, W, i8>,
        mut scratch: Scratch<'_>,
        pr: &mut dyn Probe,
    ) -> Result<Point<'a>, Error> {
        let hidden = scratch.take_map_i8::<CM, H, W>()?;
        let p = self.conv.run::<1, 1, 1, H, W, H, W>(x, xp, hidden, pr);
        Ok(self.out.run::<1, 0, 1, H, W, H, W>(hidden, p, y, pr))
    }
}

/// Expands, inside an [`agcaf_net!`](crate::agcaf_net) preset module, the int8 engine of that
/// preset: `ParamsQ`, `PLAN_INT8`, `ARENA_BYTES_INT8`, `Net::forward_int8`,
/// `Net::forward_int8_probe`, `Net::forward_int8_flat` and the
/// [`Int8Network`](crate::nets::int8::Int8Network) impl. It uses the module's constants by name.
#[doc(hidden)]
#[macro_export]
macro_rules! agcaf_int8_body {
    () => {
        /// The int8 engine of this preset (see [`crate::nets::agcaf_int8`]).
        pub mod int8 {
            #![allow(clippy::result_large_err)]
            use super::*;
            use $crate::arena::map_bytes_i8;
            use $crate::blob::Blob;
            use $crate::int8::graph::{
                probe, quantize_input, regions_i8, scratch_of, view_i8, Int8Error, NoProbe,
                OutputQuant, Point, Probe, QName, Reader, UnitQ,
            };
            use $crate::nets::agcaf_int8::{AfmQ, BasicBlockQ, CpmQ, HeadQ, PlainFuseQ};

            /// Every quantized tensor of the network, read (and checked) before any work.
            #[derive(Debug, Clone, Copy)]
            pub struct ParamsQ<'a> {
                /// Input point.
                pub input: Point<'a>,
                /// Stem.
                pub stem: UnitQ<'a, B, IN_CHANNELS, 7>,
                /// layer1.0.
                pub layer1_0: BasicBlockQ<'a, B, B, false>,
                /// layer1.1.
                pub layer1_1: BasicBlockQ<'a, B, B, false>,
                /// layer2.0.
                pub layer2_0: BasicBlockQ<'a, B, B2, true>,
                /// layer2.1.
                pub layer2_1: BasicBlockQ<'a, B2, B2, false>,
                /// layer3.0.
                pub layer3_0: BasicBlockQ<'a, B2, B4, true>,
                /// layer3.1.
                pub layer3_1: BasicBlockQ<'a, B4, B4, false>,
                /// layer4.0.
                pub layer4_0: BasicBlockQ<'a, B4, B8, true>,
                /// layer4.1.
                pub layer4_1: BasicBlockQ<'a, B8, B8, false>,
                /// CPM (absent in the ablations without it).
                pub cpm: Option<CpmQ<'a, B8, INTER, IR, I4, CAT>>,
                /// AFM 2–3.
                pub fuse23: Option<AfmQ<'a, B8, B4, B>>,
                /// Plain fusion 2–3 (ablation).
                pub fuse23_plain: Option<PlainFuseQ<'a, B8, B4>>,
                /// AFM 1–2.
                pub fuse12: Option<AfmQ<'a, B4, B2, BH>>,
                /// Plain fusion 1–2 (ablation).
                pub fuse12_plain: Option<PlainFuseQ<'a, B4, B2>>,
                /// Head.
                pub head: HeadQ<'a, B2, BH>,
            }

            impl<'a> ParamsQ<'a> {
                /// Reads every tensor from an int8 blob for this network.
                pub fn read(blob: &Blob<'a>) -> Result<Self, Int8Error> {
                    let r = Reader::new::<Net>(blob)?;
                    let bb = QName::new("backbone");
                    Ok(Self {
                        input: r.point(&QName::new("input"))?,
                        stem: UnitQ::read_bn(&r, &bb.join("stem"), true)?,
                        layer1_0: BasicBlockQ::read(&r, &bb.join("layer1.0"))?,
                        layer1_1: BasicBlockQ::read(&r, &bb.join("layer1.1"))?,
                        layer2_0: BasicBlockQ::read(&r, &bb.join("layer2.0"))?,
                        layer2_1: BasicBlockQ::read(&r, &bb.join("layer2.1"))?,
                        layer3_0: BasicBlockQ::read(&r, &bb.join("layer3.0"))?,
                        layer3_1: BasicBlockQ::read(&r, &bb.join("layer3.1"))?,
                        layer4_0: BasicBlockQ::read(&r, &bb.join("layer4.0"))?,
                        layer4_1: BasicBlockQ::read(&r, &bb.join("layer4.1"))?,
                        cpm: if WITH_CPM {
                            Some(CpmQ::read(&r, &QName::new("cpm"))?)
                        } else {
                            None
                        },
                        fuse23: if WITH_AFM {
                            Some(AfmQ::read(&r, &QName::new("fuse23"))?)
                        } else {
                            None
                        },
                        fuse23_plain: if WITH_AFM {
                            None
                        } else {
                            Some(PlainFuseQ::read(&r, &QName::new("fuse23"))?)
                        },
                        fuse12: if WITH_AFM {
                            Some(AfmQ::read(&r, &QName::new("fuse12"))?)
                        } else {
                            None
                        },
                        fuse12_plain: if WITH_AFM {
                            None
                        } else {
                            Some(PlainFuseQ::read(&r, &QName::new("fuse12"))?)
                        },
                        head: HeadQ::read(&r, &QName::new("head"))?,
                    })
                }
            }

            const Q0: usize = 16; // quantized input     0..0
            const T8: [usize; 12] = [17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28];

            const FUSE23_SCRATCH: usize = if WITH_AFM {
                AfmQ::<B8, B4, B>::scratch_bytes(H2, H2)
            } else {
                0
            };
            const FUSE12_SCRATCH: usize = if WITH_AFM {
                AfmQ::<B4, B2, BH>::scratch_bytes(H1, H1)
            } else {
                0
            };
            const CPM_SCRATCH: usize = if WITH_CPM {
                CpmQ::<B8, INTER, IR, I4, CAT>::scratch_bytes(SCALES, H3, H3)
            } else {
                0
            };

            /// The int8 memory plan: the f32 plan's buffers at one byte per element, the
            /// quantized input, and the int8 blocks' scratch.
            pub const PLAN_INT8: Plan<29> = Plan::new([
                Buffer::new(map_bytes_i8(B, SIZE, SIZE), 0, 1),
                Buffer::new(map_bytes_i8(B, SIZE, SIZE), 1, 2),
                Buffer::new(map_bytes_i8(B, SIZE, SIZE), 2, 3),
                Buffer::new(map_bytes_i8(B2, H1, H1), 3, 4),
                Buffer::new(map_bytes_i8(B2, H1, H1), 4, 13),
                Buffer::new(map_bytes_i8(B4, H2, H2), 5, 6),
                Buffer::new(map_bytes_i8(B4, H2, H2), 6, 11),
                Buffer::new(map_bytes_i8(B8, H3, H3), 7, 8),
                Buffer::new(map_bytes_i8(B8, H3, H3), 8, 9),
                Buffer::new(map_bytes_i8(B8, H3, H3), 9, 10),
                Buffer::new(map_bytes_i8(B8, H2, H2), 10, 11),
                Buffer::new(map_bytes_i8(B4, H2, H2), 11, 12),
                Buffer::new(map_bytes_i8(B4, H1, H1), 12, 13),
                Buffer::new(map_bytes_i8(B2, H1, H1), 13, 14),
                Buffer::new(map_bytes_i8(1, H1, H1), 14, 15),
                Buffer::new(map_bytes_i8(1, SIZE, SIZE), 15, 15),
                Buffer::new(map_bytes_i8(IN_CHANNELS, SIZE, SIZE), 0, 0),
                Buffer::new(BasicBlockQ::<B, B, false>::scratch_bytes(SIZE, SIZE), 1, 1),
                Buffer::new(BasicBlockQ::<B, B, false>::scratch_bytes(SIZE, SIZE), 2, 2),
                Buffer::new(BasicBlockQ::<B, B2, true>::scratch_bytes(H1, H1), 3, 3),
                Buffer::new(BasicBlockQ::<B2, B2, false>::scratch_bytes(H1, H1), 4, 4),
                Buffer::new(BasicBlockQ::<B2, B4, true>::scratch_bytes(H2, H2), 5, 5),
                Buffer::new(BasicBlockQ::<B4, B4, false>::scratch_bytes(H2, H2), 6, 6),
                Buffer::new(BasicBlockQ::<B4, B8, true>::scratch_bytes(H3, H3), 7, 7),
                Buffer::new(BasicBlockQ::<B8, B8, false>::scratch_bytes(H3, H3), 8, 8),
                Buffer::new(CPM_SCRATCH, 9, 9),
                Buffer::new(FUSE23_SCRATCH, 11, 11),
                Buffer::new(FUSE12_SCRATCH, 13, 13),
                Buffer::new(HeadQ::<B2, BH>::scratch_bytes(H1, H1), 14, 14),
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
                let xp;
                {
                    let [q0, x0] = regions_i8(&PLAN_INT8, a, [Q0, X0])?;
                    let q0 = view_i8::<IN_CHANNELS, SIZE, SIZE>(q0)?;
                    quantize_input(input.flat(), p.input, q0.flat_mut())?;
                    probe(pr, p.input, q0.flat());
                    xp = p.stem.run::<1, 3, 1, SIZE, SIZE, SIZE, SIZE>(
                        q0,
                        p.input,
                        view_i8::<B, SIZE, SIZE>(x0)?,
                        pr,
                    );
                }
                let xp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [X0, X1, T8[0]])?;
                    p.layer1_0.forward::<1, SIZE, SIZE, SIZE, SIZE>(
                        view_i8(x)?,
                        xp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let xp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [X1, X2, T8[1]])?;
                    p.layer1_1.forward::<1, SIZE, SIZE, SIZE, SIZE>(
                        view_i8(x)?,
                        xp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let xp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [X2, Y0, T8[2]])?;
                    p.layer2_0.forward::<2, SIZE, SIZE, H1, H1>(
                        view_i8(x)?,
                        xp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let c1p = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [Y0, C1, T8[3]])?;
                    p.layer2_1.forward::<1, H1, H1, H1, H1>(
                        view_i8(x)?,
                        xp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let xp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [C1, Z0, T8[4]])?;
                    p.layer3_0.forward::<2, H1, H1, H2, H2>(
                        view_i8(x)?,
                        c1p,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let c2p = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [Z0, C2, T8[5]])?;
                    p.layer3_1.forward::<1, H2, H2, H2, H2>(
                        view_i8(x)?,
                        xp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let xp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [C2, W0, T8[6]])?;
                    p.layer4_0.forward::<2, H2, H2, H3, H3>(
                        view_i8(x)?,
                        c2p,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let c3p = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [W0, C3, T8[7]])?;
                    p.layer4_1.forward::<1, H3, H3, H3, H3>(
                        view_i8(x)?,
                        xp,
                        view_i8(y)?,
                        scratch_of(t)?,
                        pr,
                    )?
                };
                let cpp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [C3, CP, T8[8]])?;
                    let (x, y) = (view_i8::<B8, H3, H3>(x)?, view_i8::<B8, H3, H3>(y)?);
                    match &p.cpm {
                        Some(cpm) => {
                            cpm.forward::<S0, S1, S2, S3, H3, H3>(x, c3p, y, scratch_of(t)?, pr)?
                        }
                        None => {
                            y.copy_from_slice(x);
                            c3p
                        }
                    }
                };
                {
                    let [x, y] = regions_i8(&PLAN_INT8, a, [CP, U1])?;
                    $crate::int8::resize::resize_bilinear::<B8, H3, H3, H2, H2>(
                        view_i8(x)?,
                        cpp.zero_point,
                        view_i8(y)?,
                        AlignCorners::True,
                    );
                }
                let f1p = {
                    let [x, skip, y, t] = regions_i8(&PLAN_INT8, a, [U1, C2, F1, T8[9]])?;
                    let (x, skip, y) = (
                        view_i8::<B8, H2, H2>(x)?,
                        view_i8::<B4, H2, H2>(skip)?,
                        view_i8::<B4, H2, H2>(y)?,
                    );
                    match (&p.fuse23, &p.fuse23_plain) {
                        (Some(afm), _) => afm.forward(x, cpp, skip, c2p, y, scratch_of(t)?, pr)?,
                        (None, Some(plain)) => plain.forward(x, cpp, skip, c2p, y, pr),
                        (None, None) => return Err(Int8Error::Run(Error::PlanOverlap)),
                    }
                };
                {
                    let [x, y] = regions_i8(&PLAN_INT8, a, [F1, U2])?;
                    $crate::int8::resize::resize_bilinear::<B4, H2, H2, H1, H1>(
                        view_i8(x)?,
                        f1p.zero_point,
                        view_i8(y)?,
                        AlignCorners::True,
                    );
                }
                let f2p = {
                    let [x, skip, y, t] = regions_i8(&PLAN_INT8, a, [U2, C1, F2, T8[10]])?;
                    let (x, skip, y) = (
                        view_i8::<B4, H1, H1>(x)?,
                        view_i8::<B2, H1, H1>(skip)?,
                        view_i8::<B2, H1, H1>(y)?,
                    );
                    match (&p.fuse12, &p.fuse12_plain) {
                        (Some(afm), _) => afm.forward(x, f1p, skip, c1p, y, scratch_of(t)?, pr)?,
                        (None, Some(plain)) => plain.forward(x, f1p, skip, c1p, y, pr),
                        (None, None) => return Err(Int8Error::Run(Error::PlanOverlap)),
                    }
                };
                let lp = {
                    let [x, y, t] = regions_i8(&PLAN_INT8, a, [F2, LG, T8[11]])?;
                    p.head
                        .forward::<H1, H1>(view_i8(x)?, f2p, view_i8(y)?, scratch_of(t)?, pr)?
                };
                {
                    let [x, y] = regions_i8(&PLAN_INT8, a, [LG, OUT])?;
                    $crate::int8::resize::resize_bilinear::<1, H1, H1, SIZE, SIZE>(
                        view_i8(x)?,
                        lp.zero_point,
                        view_i8(y)?,
                        AlignCorners::True,
                    );
                }
                let [out] = regions_i8(&PLAN_INT8, a, [OUT])?;
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
