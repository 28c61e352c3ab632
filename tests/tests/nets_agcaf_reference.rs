//! AGCAF-Net in core against an independent, naive f64 reference written straight from
//! SPEC §2.1 (and the public AGPCNet `agpcnet_1` semantics it follows).
//!
//! The reference (`naive` below) has run-time shapes, plain `Vec<f64>` maps and no code in
//! common with core: every convolution is a direct 7-deep loop, every patch of an AGCB is
//! literally cropped out, run through its own non-local block and pasted back, and every
//! parameter is looked up by its dotted name in the network's (or block's) own `PARAMS` table,
//! so the names, the shapes and the wiring are all pinned at once. Each network test also
//! checks that the reference read every row of the table (no parameter silently unused).
//!
//! Gates (the non-local γ and the AGCB γ) are seeded non-zero (0.5 or −0.7) so that every
//! attention path contributes to the outputs being compared.
//!
//! Tolerances: `|f32 − f64| ≤ tol · max(1, |f64|)` element-wise and, as well,
//! `max |f32 − f64| ≤ tol · max |f64|`, with tol = 1e-5 for single blocks and 1e-4 for whole
//! networks; every test prints the maximum error it measured
//! (`cargo test --test nets_agcaf_reference -- --nocapture`).

use hepaseg_core::blocks::afm::{Afm, AfmParams};
use hepaseg_core::blocks::agcb::{Agcb, AgcbParams};
use hepaseg_core::blocks::basic_block::{BasicBlock, BasicBlockParams};
use hepaseg_core::blocks::cpm::{Cpm, CpmParams};
use hepaseg_core::blocks::fcn_head::{FcnHead, FcnHeadParams};
use hepaseg_core::blocks::gnfm::{Gnfm, GnfmParams};
use hepaseg_core::blocks::nonlocal::{NonLocal, NonLocalParams};
use hepaseg_core::nets::agcaf;
use hepaseg_core::nets::Network;
use hepaseg_core::params::{Cursor, ReadParams, SliceParams};
use hepaseg_core::tensor::{map_mut, map_ref, Map};
use hepaseg_core::{Flat, Scratch};
use hepaseg_tests::seeded::{arena, arena_bytes, as_slices, seeded_params, synthetic_slice, Rng};

/// Tolerance of a single block against the reference.
const BLOCK_TOL: f64 = 1e-5;
/// Tolerance of a whole network's logits against the reference.
const NET_TOL: f64 = 1e-4;

// A custom preset that stresses the patch grid: 48 × 48 input, so the deepest map is 6 × 6;
// scale 5 gives patches 1, 1, 1, 1, 2; scale 4 gives 1, 1, 1, 3; scale 1 is one non-local over
// the whole map; scale 6 makes every patch a single pixel (softmax over one key). B = 4 with
// r_c = 2 gives a wide CPM (inter = 16 of 32 channels) and a 2-channel bottleneck in the last
// AFM.
hepaseg_core::agcaf_net! {
    mod grid48 {
        preset: "test-grid-48", base: 4, input: 48,
        scales: [5, 4, 1, 6], reduce: (2, 4), cpm: true, afm: true,
    }
}

/// Naive f64 versions of every AGCAF-Net block, from SPEC §2.1, with run-time shapes.
#[allow(clippy::needless_range_loop, clippy::too_many_arguments)]
mod naive {
    use hepaseg_core::params::ParamSpec;
    use std::cell::RefCell;
    use std::ops::Range;

    /// A `c × h × w` map, channel-major, row-major within a channel.
    #[derive(Clone, Debug)]
    pub struct T {
        pub c: usize,
        pub h: usize,
        pub w: usize,
        pub v: Vec<f64>,
    }

    impl T {
        pub fn zeros(c: usize, h: usize, w: usize) -> T {
            T {
                c,
                h,
                w,
                v: vec![0.0; c * h * w],
            }
        }
        pub fn from_f32(c: usize, h: usize, w: usize, v: &[f32]) -> T {
            assert_eq!(v.len(), c * h * w);
            T {
                c,
                h,
                w,
                v: v.iter().map(|a| f64::from(*a)).collect(),
            }
        }
        pub fn at(&self, c: usize, y: usize, x: usize) -> f64 {
            self.v[(c * self.h + y) * self.w + x]
        }
        pub fn set(&mut self, c: usize, y: usize, x: usize, value: f64) {
            self.v[(c * self.h + y) * self.w + x] = value;
        }
        pub fn map(mut self, f: impl Fn(f64) -> f64) -> T {
            self.v.iter_mut().for_each(|a| *a = f(*a));
            self
        }
        /// Element-wise combination of two maps of the same shape.
        pub fn zip(&self, o: &T, f: impl Fn(f64, f64) -> f64) -> T {
            assert_eq!((self.c, self.h, self.w), (o.c, o.h, o.w), "shape mismatch");
            T {
                v: self.v.iter().zip(&o.v).map(|(a, b)| f(*a, *b)).collect(),
                ..*self
            }
        }
        /// The sub-map `[:, rows, cols]` as a map of its own.
        pub fn crop(&self, rows: Range<usize>, cols: Range<usize>) -> T {
            let mut out = T::zeros(self.c, rows.len(), cols.len());
            for c in 0..self.c {
                for (y, sy) in rows.clone().enumerate() {
                    for (x, sx) in cols.clone().enumerate() {
                        out.set(c, y, x, self.at(c, sy, sx));
                    }
                }
            }
            out
        }
        /// Writes `patch` at `[:, y0.., x0..]`.
        pub fn paste(&mut self, patch: &T, y0: usize, x0: usize) {
            assert_eq!(patch.c, self.c);
            for c in 0..patch.c {
                for y in 0..patch.h {
                    for x in 0..patch.w {
                        self.set(c, y0 + y, x0 + x, patch.at(c, y, x));
                    }
                }
            }
        }
        /// Channel concatenation.
        pub fn concat(parts: &[T]) -> T {
            let (h, w) = (parts[0].h, parts[0].w);
            let mut v = Vec::new();
            for p in parts {
                assert_eq!((p.h, p.w), (h, w));
                v.extend_from_slice(&p.v);
            }
            T {
                c: v.len() / (h * w),
                h,
                w,
                v,
            }
        }
    }

    /// A seeded parameter set, looked up by dotted name; remembers which rows were read.
    pub struct Params<'a> {
        table: &'a [ParamSpec],
        values: &'a [Vec<f32>],
        used: RefCell<Vec<bool>>,
    }

    impl<'a> Params<'a> {
        pub fn new(table: &'a [ParamSpec], values: &'a [Vec<f32>]) -> Self {
            assert_eq!(table.len(), values.len());
            Params {
                table,
                values,
                used: RefCell::new(vec![false; table.len()]),
            }
        }
        pub fn root(&self) -> At<'_, 'a> {
            At {
                params: self,
                prefix: String::new(),
            }
        }
        /// Names of the table rows nobody read.
        pub fn unused(&self) -> Vec<&str> {
            let used = self.used.borrow();
            self.table
                .iter()
                .zip(used.iter())
                .filter(|(_, u)| !**u)
                .map(|(p, _)| p.name.as_str())
                .collect()
        }
    }

    /// The parameters under one dotted prefix.
    pub struct At<'p, 'a> {
        params: &'p Params<'a>,
        prefix: String,
    }

    impl At<'_, '_> {
        fn join(&self, seg: &str) -> String {
            match (self.prefix.is_empty(), seg.is_empty()) {
                (true, _) => seg.to_string(),
                (false, true) => self.prefix.clone(),
                (false, false) => format!("{}.{seg}", self.prefix),
            }
        }
        pub fn sub(&self, seg: &str) -> Self {
            At {
                params: self.params,
                prefix: self.join(seg),
            }
        }
        /// The tensor called `prefix.name`, as f64 (panics if the table has no such row).
        pub fn get(&self, name: &str) -> Vec<f64> {
            let full = self.join(name);
            let i = self
                .params
                .table
                .iter()
                .position(|p| p.name.as_str() == full)
                .unwrap_or_else(|| panic!("no parameter named {full:?}"));
            self.params.used.borrow_mut()[i] = true;
            self.params.values[i]
                .iter()
                .map(|v| f64::from(*v))
                .collect()
        }
        /// A scalar gate.
        pub fn scalar(&self, name: &str) -> f64 {
            let v = self.get(name);
            assert_eq!(v.len(), 1, "{name} is not a scalar");
            v[0]
        }
    }

    pub fn relu(v: f64) -> f64 {
        v.max(0.0)
    }

    pub fn sigmoid(v: f64) -> f64 {
        1.0 / (1.0 + (-v).exp())
    }

    /// Plain 2-D convolution with zero padding; `w` is `[co][ci][k][k]` (PyTorch layout).
    pub fn conv2d(
        x: &T,
        w: &[f64],
        b: Option<&[f64]>,
        co: usize,
        k: usize,
        stride: usize,
        pad: usize,
    ) -> T {
        assert_eq!(w.len(), co * x.c * k * k, "weight shape");
        if let Some(b) = b {
            assert_eq!(b.len(), co, "bias shape");
        }
        let ho = (x.h + 2 * pad - k) / stride + 1;
        let wo = (x.w + 2 * pad - k) / stride + 1;
        let mut y = T::zeros(co, ho, wo);
        for o in 0..co {
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = b.map_or(0.0, |b| b[o]);
                    for ci in 0..x.c {
                        for ky in 0..k {
                            let iy = (oy * stride + ky) as isize - pad as isize;
                            if iy < 0 || iy >= x.h as isize {
                                continue;
                            }
                            for kx in 0..k {
                                let ix = (ox * stride + kx) as isize - pad as isize;
                                if ix < 0 || ix >= x.w as isize {
                                    continue;
                                }
                                acc += w[((o * x.c + ci) * k + ky) * k + kx]
                                    * x.at(ci, iy as usize, ix as usize);
                            }
                        }
                    }
                    y.set(o, oy, ox, acc);
                }
            }
        }
        y
    }

    /// `p.weight` (and `p.bias` when `bias`) as a convolution.
    pub fn conv(x: &T, p: &At<'_, '_>, co: usize, k: usize, s: usize, pad: usize, bias: bool) -> T {
        let w = p.get("weight");
        let b = bias.then(|| p.get("bias"));
        conv2d(x, &w, b.as_deref(), co, k, s, pad)
    }

    /// Batch norm in eval mode (running statistics, ε = 1e-5).
    pub fn bn(x: T, p: &At<'_, '_>) -> T {
        let (g, b) = (p.get("weight"), p.get("bias"));
        let (m, var) = (p.get("running_mean"), p.get("running_var"));
        assert_eq!(g.len(), x.c, "batch-norm width");
        let hw = x.h * x.w;
        let mut x = x;
        for (i, v) in x.v.iter_mut().enumerate() {
            let c = i / hw;
            *v = (*v - m[c]) / (var[c] + 1e-5).sqrt() * g[c] + b[c];
        }
        x
    }

    /// `p.conv` then `p.bn`.
    pub fn conv_bn(
        x: &T,
        p: &At<'_, '_>,
        co: usize,
        k: usize,
        s: usize,
        pad: usize,
        bias: bool,
    ) -> T {
        bn(conv(x, &p.sub("conv"), co, k, s, pad, bias), &p.sub("bn"))
    }

    /// PyTorch's AdaptiveMaxPool2d: bin `i` of `n` over `len` is `⌊i·len/n⌋ .. ⌈(i+1)·len/n⌉`.
    pub fn adaptive_max_pool(x: &T, s: usize) -> T {
        let bin = |i: usize, len: usize| (i * len / s, ((i + 1) * len).div_ceil(s));
        let mut y = T::zeros(x.c, s, s);
        for c in 0..x.c {
            for i in 0..s {
                let (y0, y1) = bin(i, x.h);
                for j in 0..s {
                    let (x0, x1) = bin(j, x.w);
                    let mut m = f64::NEG_INFINITY;
                    for yy in y0..y1 {
                        for xx in x0..x1 {
                            m = m.max(x.at(c, yy, xx));
                        }
                    }
                    y.set(c, i, j, m);
                }
            }
        }
        y
    }

    /// Global average pooling to `c × 1 × 1`.
    pub fn global_avg_pool(x: &T) -> T {
        let hw = x.h * x.w;
        T {
            c: x.c,
            h: 1,
            w: 1,
            v: (0..x.c)
                .map(|c| x.v[c * hw..(c + 1) * hw].iter().sum::<f64>() / hw as f64)
                .collect(),
        }
    }

    /// Bilinear resampling with `align_corners = True`: output `i` samples input
    /// `i·(in − 1)/(out − 1)`.
    pub fn bilinear_ac(x: &T, ho: usize, wo: usize) -> T {
        let src = |i: usize, n_in: usize, n_out: usize| {
            let s = if n_out > 1 {
                i as f64 * (n_in - 1) as f64 / (n_out - 1) as f64
            } else {
                0.0
            };
            let i0 = (s.floor() as usize).min(n_in - 1);
            (i0, (i0 + 1).min(n_in - 1), s - i0 as f64)
        };
        let mut y = T::zeros(x.c, ho, wo);
        for c in 0..x.c {
            for oy in 0..ho {
                let (y0, y1, fy) = src(oy, x.h, ho);
                for ox in 0..wo {
                    let (x0, x1, fx) = src(ox, x.w, wo);
                    let v = (1.0 - fy) * ((1.0 - fx) * x.at(c, y0, x0) + fx * x.at(c, y0, x1))
                        + fy * ((1.0 - fx) * x.at(c, y1, x0) + fx * x.at(c, y1, x1));
                    y.set(c, oy, ox, v);
                }
            }
        }
        y
    }

    /// NonLocal(C, r) with `cr = C/r` query/key channels: E = QᵀK (no scaling), A = softmax
    /// over keys, out = V·Aᵀ, γ·out + x.
    pub fn nonlocal(x: &T, p: &At<'_, '_>, cr: usize) -> T {
        let q = conv(x, &p.sub("q"), cr, 1, 1, 0, true);
        let k = conv(x, &p.sub("k"), cr, 1, 1, 0, true);
        let v = conv(x, &p.sub("v"), x.c, 1, 1, 0, true);
        let gamma = p.scalar("gamma");
        let n = x.h * x.w;
        let mut out = vec![0.0; x.c * n];
        for i in 0..n {
            let e: Vec<f64> = (0..n)
                .map(|j| (0..cr).map(|c| q.v[c * n + i] * k.v[c * n + j]).sum())
                .collect();
            let max = e.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let ex: Vec<f64> = e.iter().map(|s| (s - max).exp()).collect();
            let z: f64 = ex.iter().sum();
            for c in 0..x.c {
                out[c * n + i] = (0..n).map(|j| v.v[c * n + j] * ex[j] / z).sum();
            }
        }
        T {
            v: out.iter().zip(&x.v).map(|(o, xi)| gamma * o + xi).collect(),
            ..*x
        }
    }

    /// GNFM ("post" mode): the C × s × s pixel-attention gate.
    pub fn gnfm(x: &T, p: &At<'_, '_>, s: usize) -> T {
        let pooled = adaptive_max_pool(x, s);
        let attended = nonlocal(&pooled, &p.sub("nonlocal"), x.c);
        let mid = conv_bn(&attended, &p.sub("conv1"), x.c / 4, 1, 1, 0, true).map(relu);
        conv_bn(&mid, &p.sub("conv2"), x.c, 1, 1, 0, true).map(sigmoid)
    }

    /// The `s` patch ranges over `len` pixels: step ⌊len/s⌋, the last takes the remainder.
    pub fn grid(len: usize, s: usize) -> Vec<Range<usize>> {
        let step = len / s;
        (0..s)
            .map(|i| {
                let end = if i == s - 1 {
                    len
                } else {
                    (i * step + step).min(len)
                };
                i * step..end
            })
            .collect()
    }

    /// Deliberately wrong AGCB variants, to show the comparison can tell them apart.
    #[derive(Clone, Copy, PartialEq, Eq, Debug)]
    pub enum AgcbVariant {
        /// SPEC §2.1.
        Spec,
        /// Patch (i, j) gated by g[:, j, i].
        TransposedGate,
        /// One non-local over the whole map (attention across patches), then gated per patch.
        GlobalAttention,
    }

    /// AGCB(C, s, r_n) with `cr = C/r_n`.
    pub fn agcb(x: &T, p: &At<'_, '_>, s: usize, cr: usize) -> T {
        agcb_variant(x, p, s, cr, AgcbVariant::Spec)
    }

    pub fn agcb_variant(x: &T, p: &At<'_, '_>, s: usize, cr: usize, var: AgcbVariant) -> T {
        let g = gnfm(x, &p.sub("gnfm"), s);
        let nl = p.sub("nonlocal");
        let whole = (var == AgcbVariant::GlobalAttention).then(|| nonlocal(x, &nl, cr));
        let mut context = T::zeros(x.c, x.h, x.w);
        for (i, rows) in grid(x.h, s).into_iter().enumerate() {
            for (j, cols) in grid(x.w, s).into_iter().enumerate() {
                let mut patch = match &whole {
                    Some(w) => w.crop(rows.clone(), cols.clone()),
                    None => nonlocal(&x.crop(rows.clone(), cols.clone()), &nl, cr),
                };
                let hw = patch.h * patch.w;
                for (idx, v) in patch.v.iter_mut().enumerate() {
                    let c = idx / hw;
                    *v *= match var {
                        AgcbVariant::TransposedGate => g.at(c, j, i),
                        _ => g.at(c, i, j),
                    };
                }
                context.paste(&patch, rows.start, cols.start);
            }
        }
        let ctx = conv_bn(&context, &p.sub("conv"), x.c, 3, 1, 1, true);
        let gamma = p.scalar("gamma");
        ctx.zip(x, |c, xi| relu(gamma * c + xi))
    }

    /// CPM(P, scales, (r_c, r_n)) with `inter = P/r_c`, `cr = inter/r_n`.
    pub fn cpm(x: &T, p: &At<'_, '_>, scales: &[usize], inter: usize, cr: usize) -> T {
        let red = conv_bn(x, &p.sub("reduce"), inter, 1, 1, 0, true).map(relu);
        let mut parts = vec![red.clone()];
        for (k, s) in scales.iter().enumerate() {
            parts.push(agcb(&red, &p.sub(&format!("agcb.{k}")), *s, cr));
        }
        conv_bn(&T::concat(&parts), &p.sub("fuse"), x.c, 1, 1, 0, true).map(relu)
    }

    /// σ(BN(Conv1×1(C/4→C)(ReLU(BN(Conv1×1(C→C/4)(x)))))).
    fn squeeze_excite(x: &T, p: &At<'_, '_>) -> T {
        let mid = conv_bn(x, &p.sub("squeeze"), x.c / 4, 1, 1, 0, true).map(relu);
        conv_bn(&mid, &p.sub("excite"), x.c, 1, 1, 0, true).map(sigmoid)
    }

    /// AFM(C_h, C_l, C_o = C_l).
    pub fn afm(high: &T, low: &T, p: &At<'_, '_>) -> T {
        let cl = low.c;
        let xh = conv_bn(high, &p.sub("plus_conv"), cl, 1, 1, 0, true).map(relu);
        let pa = squeeze_excite(low, &p.sub("pa"));
        let ca = squeeze_excite(&global_avg_pool(&xh), &p.sub("ca"));
        let feat = conv_bn(
            &low.zip(&xh, |a, b| a + b),
            &p.sub("end_conv"),
            cl,
            3,
            1,
            1,
            true,
        )
        .map(relu);
        let hw = feat.h * feat.w;
        let mut out = feat.zip(&pa, |f, a| f * a);
        for (i, v) in out.v.iter_mut().enumerate() {
            *v *= ca.v[i / hw];
        }
        out
    }

    /// The ablation's fusion without AFM: ReLU(BN(Conv1×1(C_h→C_l)(high))) + low.
    pub fn plain_fusion(high: &T, low: &T, p: &At<'_, '_>) -> T {
        conv_bn(high, p, low.c, 1, 1, 0, true)
            .map(relu)
            .zip(low, |a, b| a + b)
    }

    /// FCN head: Conv3×3(C→cm)+BN+ReLU, (dropout = identity), Conv1×1(cm→1).
    pub fn fcn_head(x: &T, p: &At<'_, '_>, cm: usize) -> T {
        let hidden = conv_bn(x, &p.sub("conv"), cm, 3, 1, 1, true).map(relu);
        conv(&hidden, &p.sub("out"), 1, 1, 1, 0, true)
    }

    /// ResNet BasicBlock, no biases.
    pub fn basic_block(x: &T, p: &At<'_, '_>, co: usize, stride: usize) -> T {
        let y = conv_bn(x, &p.sub("conv1"), co, 3, stride, 1, false).map(relu);
        let y = conv_bn(&y, &p.sub("conv2"), co, 3, 1, 1, false);
        let shortcut = if stride != 1 || x.c != co {
            conv_bn(x, &p.sub("downsample"), co, 1, stride, 0, false)
        } else {
            x.clone()
        };
        y.zip(&shortcut, |a, b| relu(a + b))
    }

    /// A preset's hyper-parameters.
    #[derive(Clone, Copy, Debug)]
    pub struct Config {
        pub base: usize,
        pub scales: [usize; 4],
        pub r_c: usize,
        pub r_n: usize,
        pub cpm: bool,
        pub afm: bool,
    }

    /// The whole network: backbone → CPM → AFM(8B, 4B) → AFM(4B, 2B) → head → input size.
    pub fn network(x: &T, p: &At<'_, '_>, cfg: &Config) -> T {
        let b = cfg.base;
        let bb = p.sub("backbone");
        let stem = conv_bn(x, &bb.sub("stem"), b, 7, 1, 3, false).map(relu);
        let stage = |x: &T, layer: usize, co: usize, stride: usize| {
            let y = basic_block(x, &bb.sub(&format!("layer{layer}.0")), co, stride);
            basic_block(&y, &bb.sub(&format!("layer{layer}.1")), co, 1)
        };
        let l1 = stage(&stem, 1, b, 1);
        let c1 = stage(&l1, 2, 2 * b, 2);
        let c2 = stage(&c1, 3, 4 * b, 2);
        let c3 = stage(&c2, 4, 8 * b, 2);
        let context = if cfg.cpm {
            let inter = 8 * b / cfg.r_c;
            cpm(&c3, &p.sub("cpm"), &cfg.scales, inter, inter / cfg.r_n)
        } else {
            c3
        };
        let fuse = |high: &T, low: &T, name: &str| {
            if cfg.afm {
                afm(high, low, &p.sub(name))
            } else {
                plain_fusion(high, low, &p.sub(name))
            }
        };
        let f23 = fuse(&bilinear_ac(&context, c2.h, c2.w), &c2, "fuse23");
        let f12 = fuse(&bilinear_ac(&f23, c1.h, c1.w), &c1, "fuse12");
        let logits = fcn_head(&f12, &p.sub("head"), 2 * b / 4);
        bilinear_ac(&logits, x.h, x.w)
    }
}

use naive::{AgcbVariant, Config, Params, T};

// ---- helpers --------------------------------------------------------------------------------

/// A `c × h × w` input with spatial structure: per channel, a plane wave of random amplitude
/// (up to ±2), direction and phase, plus uniform noise (±0.5). Plain uniform noise would not
/// do: its pooled maxima are all alike, so the 1×1 bottlenecks of the gates can end up dead
/// (all-negative before their ReLU) and the gates spatially constant, hiding any mix-up of
/// patch indices.
fn structured(c: usize, h: usize, w: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let waves: Vec<[f32; 4]> = (0..c)
        .map(|_| [rng.sym(2.0), rng.sym(1.2), rng.sym(1.2), rng.sym(3.0)])
        .collect();
    (0..c * h * w)
        .map(|i| {
            let (ch, y, x) = (i / (h * w), (i / w % h) as f32, (i % w) as f32);
            let [a, fy, fx, phase] = waves[ch];
            a * (fy * y + fx * x + phase).sin() + rng.sym(0.5)
        })
        .collect()
}

/// Poisoned scratch: a block that reads scratch it did not write produces NaN.
fn scratch_for(bytes: usize) -> Vec<f32> {
    vec![f32::NAN; bytes.div_ceil(4)]
}

/// Maximum absolute error and maximum error relative to `max(1, |reference|)`.
fn errors(got: &[f32], want: &[f64]) -> (f64, f64) {
    assert_eq!(got.len(), want.len(), "length");
    got.iter().zip(want).fold((0.0, 0.0), |(abs, rel), (a, b)| {
        let d = (f64::from(*a) - b).abs();
        assert!(!d.is_nan(), "NaN in the comparison");
        (f64::max(abs, d), f64::max(rel, d / b.abs().max(1.0)))
    })
}

/// Largest magnitude in a reference output.
fn peak(want: &[f64]) -> f64 {
    want.iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Compares, prints the measured errors, and asserts both `|f32 − f64| ≤ tol · max(1, |f64|)`
/// element-wise and `max |f32 − f64| ≤ tol · max |f64|` (the second is the stricter one when
/// the outputs are small, as the seeded networks' logits are); returns the absolute error.
#[track_caller]
fn check(what: &str, got: &[f32], want: &[f64], tol: f64) -> f64 {
    let (abs, rel) = errors(got, want);
    let peak = peak(want);
    println!(
        "{what}: max |f32 − f64| = {abs:.2e}, element-wise relative {rel:.2e}, \
         relative to max |ref| = {peak:.3}: {:.2e}",
        abs / peak
    );
    assert!(
        rel <= tol,
        "{what}: element-wise relative error {rel:e} > {tol:e}"
    );
    assert!(
        abs <= tol * peak,
        "{what}: error {abs:e} > {tol:e} · {peak}"
    );
    abs
}

/// A block's own table, seeded values (gates = `gate`) and typed parameters.
macro_rules! block_params {
    ($ty:ident<$($g:tt),*>, $seed:expr, $gate:expr => $table:ident, $values:ident, $p:ident) => {
        let $table =
            hepaseg_core::param_table!($ty<'static, $($g),*>, $ty::<'static, $($g),*>::COUNT);
        let $values = seeded_params(&$table, $seed, $gate);
        let tensors = as_slices(&$values);
        let src = SliceParams { tensors: &tensors };
        let $p = $ty::<'_, $($g),*>::read(&mut Cursor::new(&src)).unwrap();
    };
}

/// Asserts that the reference read every row of its table.
fn all_read(params: &Params<'_>, what: &str) {
    let unused = params.unused();
    assert!(unused.is_empty(), "{what}: reference never read {unused:?}");
}

// ---- blocks ---------------------------------------------------------------------------------

#[test]
fn basic_block_with_projection_matches_reference() {
    // 4 → 8 channels, stride 2 on an odd, non-square 9 × 7 map → 8 × 5 × 4.
    type Blk = BasicBlock<4, 8, 2, 9, 7>;
    block_params!(BasicBlockParams<4, 8, true>, 101, 0.5 => table, vals, p);
    let xv = structured(4, 9, 7, 102);
    let x: &Map<4, 9, 7> = map_ref(&xv).unwrap();
    let mut yv = vec![0.0f32; 8 * 5 * 4];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(
        &p,
        x,
        map_mut::<f32, 8, 5, 4>(&mut yv).unwrap(),
        Scratch::from_f32(&mut s),
    )
    .unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::basic_block(&T::from_f32(4, 9, 7, &xv), &params.root(), 8, 2);
    all_read(&params, "basic block");
    assert_eq!((want.c, want.h, want.w), (8, 5, 4));
    check("basic block 4→8 s2 9×7", &yv, &want.v, BLOCK_TOL);
}

#[test]
fn basic_block_identity_matches_reference() {
    type Blk = BasicBlock<6, 6, 1, 5, 7>;
    block_params!(BasicBlockParams<6, 6, false>, 111, 0.5 => table, vals, p);
    let xv = structured(6, 5, 7, 112);
    let x: &Map<6, 5, 7> = map_ref(&xv).unwrap();
    let mut yv = vec![0.0f32; 6 * 5 * 7];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(
        &p,
        x,
        map_mut::<f32, 6, 5, 7>(&mut yv).unwrap(),
        Scratch::from_f32(&mut s),
    )
    .unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::basic_block(&T::from_f32(6, 5, 7, &xv), &params.root(), 6, 1);
    all_read(&params, "basic block");
    check("basic block 6→6 identity 5×7", &yv, &want.v, BLOCK_TOL);
}

#[test]
fn nonlocal_matches_reference() {
    // C = 8, r = 4, a non-square 5 × 7 map, γ = −0.7; inputs large enough that the softmax
    // is far from uniform.
    type Blk = NonLocal<8, 2, 5, 7>;
    block_params!(NonLocalParams<8, 2>, 121, -0.7 => table, vals, p);
    let xv = structured(8, 5, 7, 122);
    let x: &Map<8, 5, 7> = map_ref(&xv).unwrap();
    let mut yv = vec![0.0f32; 8 * 5 * 7];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(
        &p,
        x,
        map_mut::<f32, 8, 5, 7>(&mut yv).unwrap(),
        Scratch::from_f32(&mut s),
    )
    .unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::nonlocal(&T::from_f32(8, 5, 7, &xv), &params.root(), 2);
    all_read(&params, "non-local");
    check("non-local C8 r4 5×7 γ=−0.7", &yv, &want.v, BLOCK_TOL);
}

#[test]
fn gnfm_matches_reference() {
    // 7 × 10 pooled to 3 × 3: PyTorch's overlapping bins (rows 0..3, 2..5, 4..7; columns
    // 0..4, 3..7, 6..10).
    type Blk = Gnfm<8, 2, 3, 7, 10>;
    block_params!(GnfmParams<8, 2>, 131, 0.5 => table, vals, p);
    let xv = structured(8, 7, 10, 132);
    let x: &Map<8, 7, 10> = map_ref(&xv).unwrap();
    let mut g: Map<8, 3, 3> = [[[0.0; 3]; 3]; 8];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(&p, x, &mut g, Scratch::from_f32(&mut s)).unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::gnfm(&T::from_f32(8, 7, 10, &xv), &params.root(), 3);
    all_read(&params, "GNFM");
    check("GNFM C8 s3 7×10", g.flat(), &want.v, BLOCK_TOL);
    // The gate varies over the grid (its bottleneck is alive), so the test sees the pixels.
    let spread = (0..8)
        .map(|c| {
            let cell = &want.v[c * 9..(c + 1) * 9];
            cell.iter().copied().fold(f64::MIN, f64::max)
                - cell.iter().copied().fold(f64::MAX, f64::min)
        })
        .fold(0.0, f64::max);
    println!("GNFM gate: largest spread over the 3 × 3 grid {spread:.3}");
    assert!(
        spread > 0.05,
        "gate nearly constant over the grid: {spread}"
    );
}

/// Runs core's AGCB `Agcb<8, 2, 2, S, H, W>` and the reference on the same data; returns
/// core's output and the reference's for `[Spec, TransposedGate, GlobalAttention]`.
macro_rules! agcb_case {
    ($s:literal, $h:literal, $w:literal, $seed:literal, $gate:expr) => {{
        type Blk = Agcb<8, 2, 2, $s, $h, $w>;
        block_params!(AgcbParams<8, 2, 2>, $seed, $gate => table, vals, p);
        let xv = structured(8, $h, $w, $seed + 1);
        let x: &Map<8, $h, $w> = map_ref(&xv).unwrap();
        let mut yv = vec![0.0f32; 8 * $h * $w];
        let mut s = scratch_for(Blk::SCRATCH_BYTES);
        Blk::forward(
            &p,
            x,
            map_mut::<f32, 8, $h, $w>(&mut yv).unwrap(),
            Scratch::from_f32(&mut s),
        )
        .unwrap();
        let params = Params::new(&table, &vals);
        let xd = T::from_f32(8, $h, $w, &xv);
        let want: Vec<T> = [
            AgcbVariant::Spec,
            AgcbVariant::TransposedGate,
            AgcbVariant::GlobalAttention,
        ]
        .into_iter()
        .map(|v| naive::agcb_variant(&xd, &params.root(), $s, 2, v))
        .collect();
        all_read(&params, "AGCB");
        (yv, want)
    }};
}

#[test]
fn agcb_matches_reference_on_remainder_grids() {
    // 7 × 10, s = 3: rows 0..2, 2..4, 4..7; columns 0..3, 3..6, 6..10 (non-square, so a
    // transposed gate or grid would show).
    let (y, want) = agcb_case!(3, 7, 10, 141, 0.5);
    check("AGCB C8 s3 7×10 γ=0.5", &y, &want[0].v, BLOCK_TOL);
    // 8 × 8, s = 3: patches 2, 2, 4 (the tiny preset's deepest map).
    let (y, want) = agcb_case!(3, 8, 8, 143, -0.7);
    check("AGCB C8 s3 8×8 γ=−0.7", &y, &want[0].v, BLOCK_TOL);
    // 9 × 6, s = 4: rows 0..2, 2..4, 4..6, 6..9; columns 0..1, 1..2, 2..3, 3..6.
    let (y, want) = agcb_case!(4, 9, 6, 145, 0.5);
    check("AGCB C8 s4 9×6 γ=0.5", &y, &want[0].v, BLOCK_TOL);
    // s = 1: one patch, the whole map.
    let (y, want) = agcb_case!(1, 5, 6, 147, -0.7);
    check("AGCB C8 s1 5×6 γ=−0.7", &y, &want[0].v, BLOCK_TOL);
    // s = H = W: single-pixel patches (softmax over one key: out = v).
    let (y, want) = agcb_case!(5, 5, 5, 149, 0.5);
    check("AGCB C8 s5 5×5 γ=0.5", &y, &want[0].v, BLOCK_TOL);
}

/// The comparison can tell the SPEC's AGCB from plausible mis-readings of it: a gate indexed
/// `[:, j, i]`, and one non-local over the whole map instead of one per patch.
#[test]
fn agcb_reference_rejects_wrong_variants() {
    let (y, want) = agcb_case!(3, 7, 10, 141, 0.5);
    for (v, w) in [
        (AgcbVariant::TransposedGate, &want[1]),
        (AgcbVariant::GlobalAttention, &want[2]),
    ] {
        let (_, rel) = errors(&y, &w.v);
        println!("AGCB s3 7×10 vs {v:?}: relative difference {rel:.2e}");
        assert!(
            rel > 1e3 * BLOCK_TOL,
            "{v:?} is indistinguishable ({rel:e})"
        );
    }
}

#[test]
fn cpm_matches_reference() {
    // P = 16, inter = 8 (r_c = 2), r_n = 4, scales 1, 2, 3, 5 on 6 × 7.
    type Blk = Cpm<16, 8, 2, 2, 40, 1, 2, 3, 5, 6, 7>;
    block_params!(CpmParams<16, 8, 2, 2, 40>, 151, -0.7 => table, vals, p);
    let xv = structured(16, 6, 7, 152);
    let x: &Map<16, 6, 7> = map_ref(&xv).unwrap();
    let mut yv = vec![0.0f32; 16 * 6 * 7];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(
        &p,
        x,
        map_mut::<f32, 16, 6, 7>(&mut yv).unwrap(),
        Scratch::from_f32(&mut s),
    )
    .unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::cpm(
        &T::from_f32(16, 6, 7, &xv),
        &params.root(),
        &[1, 2, 3, 5],
        8,
        2,
    );
    all_read(&params, "CPM");
    check("CPM P16 I8 scales 1,2,3,5 6×7", &yv, &want.v, BLOCK_TOL);
}

#[test]
fn afm_matches_reference() {
    type Blk = Afm<12, 8, 2, 5, 6>;
    block_params!(AfmParams<12, 8, 2>, 161, 0.5 => table, vals, p);
    let hv = structured(12, 5, 6, 162);
    let lv = structured(8, 5, 6, 163);
    let high: &Map<12, 5, 6> = map_ref(&hv).unwrap();
    let low: &Map<8, 5, 6> = map_ref(&lv).unwrap();
    let mut yv = vec![0.0f32; 8 * 5 * 6];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(
        &p,
        high,
        low,
        map_mut::<f32, 8, 5, 6>(&mut yv).unwrap(),
        Scratch::from_f32(&mut s),
    )
    .unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::afm(
        &T::from_f32(12, 5, 6, &hv),
        &T::from_f32(8, 5, 6, &lv),
        &params.root(),
    );
    all_read(&params, "AFM");
    check("AFM 12→8 5×6", &yv, &want.v, BLOCK_TOL);
}

#[test]
fn fcn_head_matches_reference() {
    type Blk = FcnHead<8, 2, 5, 6>;
    block_params!(FcnHeadParams<8, 2>, 171, 0.5 => table, vals, p);
    let xv = structured(8, 5, 6, 172);
    let x: &Map<8, 5, 6> = map_ref(&xv).unwrap();
    let mut y: Map<1, 5, 6> = [[[0.0; 6]; 5]];
    let mut s = scratch_for(Blk::SCRATCH_BYTES);
    Blk::forward(&p, x, &mut y, Scratch::from_f32(&mut s)).unwrap();
    let params = Params::new(&table, &vals);
    let want = naive::fcn_head(&T::from_f32(8, 5, 6, &xv), &params.root(), 2);
    all_read(&params, "FCN head");
    check("FCN head 8→2→1 5×6", y.flat(), &want.v, BLOCK_TOL);
}

// ---- whole networks -------------------------------------------------------------------------

/// Core's f32 logits and the reference's f64 logits of network `N` (seeded parameters with
/// every gate = `gate`, synthetic CT-like input); asserts the reference used every parameter.
fn logits<N: Network>(cfg: &Config, seed: u64, gate: f32) -> (Vec<f32>, Vec<f64>) {
    let vals = seeded_params(N::PARAMS, seed, gate);
    let tensors = as_slices(&vals);
    let size = N::INPUT[1];
    let input = synthetic_slice(size, size, seed + 1);
    let mut a = arena(N::ARENA_BYTES);
    let got = N::forward_flat(
        &SliceParams { tensors: &tensors },
        &input,
        arena_bytes(&mut a, N::ARENA_BYTES),
    )
    .unwrap()
    .to_vec();
    let params = Params::new(N::PARAMS, &vals);
    let want = naive::network(&T::from_f32(1, size, size, &input), &params.root(), cfg);
    all_read(&params, N::PRESET);
    assert_eq!((want.c, want.h, want.w), (1, size, size));
    (got, want.v)
}

const TINY: Config = Config {
    base: 8,
    scales: [6, 4, 3, 2],
    r_c: 4,
    r_n: 4,
    cpm: true,
    afm: true,
};

/// Checks network `N` against the reference; returns the measured maximum absolute error.
fn check_network<N: Network>(cfg: &Config, gate: f32) -> f64 {
    let (got, want) = logits::<N>(cfg, 31, gate);
    check(
        &format!("{} (gates {gate})", N::PRESET),
        &got,
        &want,
        NET_TOL,
    )
}

#[test]
fn tiny_matches_reference() {
    assert_eq!(
        (
            agcaf::tiny::B,
            agcaf::tiny::SCALES,
            agcaf::tiny::WITH_CPM,
            agcaf::tiny::WITH_AFM
        ),
        (TINY.base, TINY.scales, TINY.cpm, TINY.afm)
    );
    check_network::<agcaf::tiny::Net>(&TINY, 0.5);
    check_network::<agcaf::tiny::Net>(&TINY, -0.7);
    // Strong attention: here a transposed AGCB gate or a whole-map (not per-patch) non-local
    // inside the CPM moves the logits by 15–60 × the tolerance (2–5 × at |γ| ≤ 0.7, where
    // the seeded network damps the CPM's contribution).
    check_network::<agcaf::tiny::Net>(&TINY, -2.0);
}

#[test]
fn tiny_ablations_match_reference() {
    let backbone = Config {
        cpm: false,
        afm: false,
        ..TINY
    };
    let cpm = Config { afm: false, ..TINY };
    let afm = Config { cpm: false, ..TINY };
    assert_eq!(
        (
            agcaf::tiny_backbone::WITH_CPM,
            agcaf::tiny_backbone::WITH_AFM
        ),
        (false, false)
    );
    assert_eq!(
        (agcaf::tiny_cpm::WITH_CPM, agcaf::tiny_cpm::WITH_AFM),
        (true, false)
    );
    assert_eq!(
        (agcaf::tiny_afm::WITH_CPM, agcaf::tiny_afm::WITH_AFM),
        (false, true)
    );
    check_network::<agcaf::tiny_backbone::Net>(&backbone, 0.5);
    check_network::<agcaf::tiny_cpm::Net>(&cpm, 0.5);
    check_network::<agcaf::tiny_afm::Net>(&afm, 0.5);
}

#[test]
fn remainder_grid_preset_matches_reference() {
    let cfg = Config {
        base: 4,
        scales: [5, 4, 1, 6],
        r_c: 2,
        r_n: 4,
        cpm: true,
        afm: true,
    };
    assert_eq!(grid48::SCALES, cfg.scales);
    check_network::<grid48::Net>(&cfg, -0.7);
}

/// The gates matter: with the same weights, γ = 0.5 moves the tiny network's logits by far
/// more than the comparison allows, relative to γ = 0 (where every non-local block is the
/// identity and every AGCB is ReLU(x)).
#[test]
fn tiny_gates_change_the_logits_well_beyond_the_tolerance() {
    let (on, _) = logits::<agcaf::tiny::Net>(&TINY, 31, 0.5);
    let (off, want_off) = logits::<agcaf::tiny::Net>(&TINY, 31, 0.0);
    check("tiny (gates 0)", &off, &want_off, NET_TOL);
    let moved = on
        .iter()
        .zip(&off)
        .map(|(a, b)| f64::from((a - b).abs()))
        .fold(0.0, f64::max);
    let allowed = NET_TOL * peak(&want_off);
    println!(
        "tiny: gates 0.5 vs 0 move the logits by up to {moved:.3e} (allowed error {allowed:.1e})"
    );
    assert!(moved > 20.0 * allowed, "{moved} vs {allowed}");
}
