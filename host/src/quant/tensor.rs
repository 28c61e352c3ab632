//! Runtime-shaped `f32` feature maps and the handful of operations the calibration forward
//! needs (convolution with folded BatchNorm, pooling, bilinear resampling, sigmoid, attention).
//!
//! These mirror core's typed `f32` ops (same definitions, PyTorch conventions) with shapes
//! known only at run time, so the host can walk any preset by its parameter names and look at
//! every intermediate activation. Accumulation order differs from core's; the results agree
//! to float rounding (tests compare the whole network's logits). Transcendental functions come
//! from `libm` and everything else is IEEE arithmetic, so calibration — and the blob it leads
//! to — is the same on every platform.

use hepaseg_core::ops::BN_EPS;

/// A `c × h × w` feature map, channel-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Fm {
    /// Channels.
    pub c: usize,
    /// Height.
    pub h: usize,
    /// Width.
    pub w: usize,
    /// Values, `c·h·w`.
    pub d: Vec<f32>,
}

impl Fm {
    /// A zero map.
    pub fn zeros(c: usize, h: usize, w: usize) -> Self {
        Fm {
            c,
            h,
            w,
            d: vec![0.0; c * h * w],
        }
    }

    /// Pixels per channel.
    pub fn plane(&self) -> usize {
        self.h * self.w
    }

    /// The map token-major (`[pixel][channel]`), as the int8 engine stores queries and keys.
    pub fn tokens(&self) -> Vec<f32> {
        let n = self.plane();
        let mut t = vec![0.0; self.d.len()];
        for c in 0..self.c {
            for p in 0..n {
                t[p * self.c + c] = self.d[c * n + p];
            }
        }
        t
    }
}

/// A convolution with BatchNorm folded in, in `f64` (for quantization) and `f32` (for the
/// calibration forward).
#[derive(Debug, Clone, PartialEq)]
pub struct Folded {
    /// Output channels.
    pub co: usize,
    /// Input channels per group (groups are 1 in AGCAF-Net).
    pub cig: usize,
    /// Kernel side.
    pub k: usize,
    /// Folded weights `[co][cig][k][k]`.
    pub w64: Vec<f64>,
    /// Folded bias `[co]`.
    pub b64: Vec<f64>,
    /// `w64` as `f32`.
    pub w: Vec<f32>,
    /// `b64` as `f32`.
    pub b: Vec<f32>,
}

/// BatchNorm parameters `(γ, β, running mean, running variance)`.
pub type BnRef<'a> = (&'a [f32], &'a [f32], &'a [f32], &'a [f32]);

/// Folds `bn` (if any) into a convolution of shape `[co, cig, k, k]` with optional bias, in
/// `f64`: `w' = w·γ/√(var + eps)`, `b' = (b − mean)·γ/√(var + eps) + β`.
pub fn fold(
    weight: &[f32],
    shape: [usize; 4],
    bias: Option<&[f32]>,
    bn: Option<BnRef<'_>>,
) -> Folded {
    let [co, cig, k, _] = shape;
    let per = cig * k * k;
    let mut w64: Vec<f64> = weight.iter().map(|&v| f64::from(v)).collect();
    let mut b64: Vec<f64> = match bias {
        Some(b) => b.iter().map(|&v| f64::from(v)).collect(),
        None => vec![0.0; co],
    };
    if let Some((g, beta, mean, var)) = bn {
        for c in 0..co {
            let s = f64::from(g[c]) / (f64::from(var[c]) + f64::from(BN_EPS)).sqrt();
            for v in &mut w64[c * per..(c + 1) * per] {
                *v *= s;
            }
            b64[c] = (b64[c] - f64::from(mean[c])) * s + f64::from(beta[c]);
        }
    }
    Folded {
        co,
        cig,
        k,
        w: w64.iter().map(|&v| v as f32).collect(),
        b: b64.iter().map(|&v| v as f32).collect(),
        w64,
        b64,
    }
}

/// Output side of a convolution.
pub fn conv_out(input: usize, k: usize, s: usize, p: usize, d: usize) -> usize {
    (input + 2 * p - d * (k - 1) - 1) / s + 1
}

/// `y = conv(x; f)` with stride, padding (zeros) and dilation; the groups follow from the
/// weight (`x.c / cig`: 1 for a plain convolution, `c` for a depthwise one).
pub fn conv(x: &Fm, f: &Folded, stride: usize, pad: usize, dil: usize) -> Fm {
    assert!(x.c.is_multiple_of(f.cig), "conv input channels");
    let groups = x.c / f.cig;
    let co_per_group = f.co / groups;
    let (ho, wo) = (
        conv_out(x.h, f.k, stride, pad, dil),
        conv_out(x.w, f.k, stride, pad, dil),
    );
    let mut y = Fm::zeros(f.co, ho, wo);
    let plane_in = x.plane();
    let kk = f.k * f.k;
    for co in 0..f.co {
        let group = co / co_per_group;
        let out = &mut y.d[co * ho * wo..(co + 1) * ho * wo];
        out.fill(f.b[co]);
        for cl in 0..f.cig {
            let ci = group * f.cig + cl;
            let inp = &x.d[ci * plane_in..(ci + 1) * plane_in];
            let wk = &f.w[(co * f.cig + cl) * kk..(co * f.cig + cl + 1) * kk];
            for kh in 0..f.k {
                for kw in 0..f.k {
                    let wv = wk[kh * f.k + kw];
                    if wv == 0.0 {
                        continue;
                    }
                    let (th, tw) = (kh * dil, kw * dil);
                    for oh in 0..ho {
                        let ih = oh * stride + th;
                        if ih < pad || ih >= x.h + pad {
                            continue;
                        }
                        let row = &inp[(ih - pad) * x.w..(ih - pad + 1) * x.w];
                        let orow = &mut out[oh * wo..(oh + 1) * wo];
                        for (ow, o) in orow.iter_mut().enumerate() {
                            let iw = ow * stride + tw;
                            if iw >= pad && iw < x.w + pad {
                                *o += wv * row[iw - pad];
                            }
                        }
                    }
                }
            }
        }
    }
    y
}

/// Tokens are stored as an [`Fm`] with `c = N` tokens, `h = 1`, `w = D` features (row-major
/// `[token][feature]`, the int8 engine's token layout).
pub fn map_to_tokens(x: &Fm) -> Fm {
    Fm {
        c: x.plane(),
        h: 1,
        w: x.c,
        d: x.tokens(),
    }
}

/// The inverse of [`map_to_tokens`] for an `h × w` map.
pub fn tokens_to_map(t: &Fm, h: usize, w: usize) -> Fm {
    let (n, d) = (t.c, t.w);
    assert_eq!(n, h * w, "token count");
    let mut y = Fm::zeros(d, h, w);
    for p in 0..n {
        for c in 0..d {
            y.d[c * n + p] = t.d[p * d + c];
        }
    }
    y
}

/// A linear layer over tokens (`f`: a folded `[DO, DI, 1, 1]` weight).
pub fn linear(t: &Fm, f: &Folded) -> Fm {
    let (n, di) = (t.c, t.w);
    assert_eq!(di, f.cig, "linear input features");
    let mut y = Fm::zeros(n, 1, f.co);
    for p in 0..n {
        let x = &t.d[p * di..(p + 1) * di];
        for o in 0..f.co {
            let w = &f.w[o * di..(o + 1) * di];
            y.d[p * f.co + o] = f.b[o] + x.iter().zip(w).map(|(a, b)| a * b).sum::<f32>();
        }
    }
    y
}

/// Layer norm over each token's features (biased variance, `f64`).
pub fn layer_norm(t: &Fm, gamma: &[f32], beta: &[f32], eps: f64) -> Fm {
    let (n, d) = (t.c, t.w);
    let mut y = t.clone();
    for p in 0..n {
        let x = &t.d[p * d..(p + 1) * d];
        let mean = x.iter().map(|&v| f64::from(v)).sum::<f64>() / d as f64;
        let var = x
            .iter()
            .map(|&v| (f64::from(v) - mean).powi(2))
            .sum::<f64>()
            / d as f64;
        let inv = 1.0 / (var + eps).sqrt();
        for (i, o) in y.d[p * d..(p + 1) * d].iter_mut().enumerate() {
            *o = ((f64::from(x[i]) - mean) * inv * f64::from(gamma[i]) + f64::from(beta[i])) as f32;
        }
    }
    y
}

/// Exact GELU, `½x(1 + erf(x/√2))` (`libm`).
pub fn gelu(v: f64) -> f64 {
    0.5 * v * (1.0 + libm::erf(v * std::f64::consts::FRAC_1_SQRT_2))
}

/// ReLU in place.
pub fn relu(x: &mut Fm) {
    for v in &mut x.d {
        *v = v.max(0.0);
    }
}

/// The logistic function, in `f64` (`libm`'s `exp`, so lookup tables built from it are the
/// same on every platform).
pub fn sigmoid(v: f64) -> f64 {
    if v >= 0.0 {
        1.0 / (1.0 + libm::exp(-v))
    } else {
        let e = libm::exp(v);
        e / (1.0 + e)
    }
}

/// PyTorch's adaptive-pooling bin `i` of `out` over `input`.
pub fn pool_bin(i: usize, input: usize, out: usize) -> (usize, usize) {
    ((i * input) / out, ((i + 1) * input).div_ceil(out))
}

/// Adaptive max pooling to `s × s`.
pub fn adaptive_max_pool(x: &Fm, s: usize) -> Fm {
    let mut y = Fm::zeros(x.c, s, s);
    for c in 0..x.c {
        for i in 0..s {
            let (h0, h1) = pool_bin(i, x.h, s);
            for j in 0..s {
                let (w0, w1) = pool_bin(j, x.w, s);
                let mut m = f32::NEG_INFINITY;
                for r in h0..h1 {
                    for q in w0..w1 {
                        m = m.max(x.d[(c * x.h + r) * x.w + q]);
                    }
                }
                y.d[(c * s + i) * s + j] = m;
            }
        }
    }
    y
}

/// Global average pooling to `c × 1 × 1`.
pub fn global_avg_pool(x: &Fm) -> Fm {
    let n = x.plane();
    let d = (0..x.c)
        .map(|c| {
            let s: f64 = x.d[c * n..(c + 1) * n].iter().map(|&v| f64::from(v)).sum();
            (s / n as f64) as f32
        })
        .collect();
    Fm {
        c: x.c,
        h: 1,
        w: 1,
        d,
    }
}

/// Bilinear resampling with `align_corners = True` (AGCAF-Net's upsampling).
pub fn resize_align_corners(x: &Fm, ho: usize, wo: usize) -> Fm {
    resize(x, ho, wo, true)
}

/// Bilinear resampling in either of PyTorch's `align_corners` conventions.
pub fn resize(x: &Fm, ho: usize, wo: usize, align_corners: bool) -> Fm {
    let src = |dst: usize, input: usize, out: usize| -> (usize, usize, f64) {
        let s = if align_corners {
            if out > 1 {
                dst as f64 * (input - 1) as f64 / (out - 1) as f64
            } else {
                0.0
            }
        } else {
            ((dst as f64 + 0.5) * input as f64 / out as f64 - 0.5).max(0.0)
        };
        let i0 = (s as usize).min(input - 1);
        let i1 = if i0 + 1 < input { i0 + 1 } else { i0 };
        (i0, i1, s - i0 as f64)
    };
    let mut y = Fm::zeros(x.c, ho, wo);
    for c in 0..x.c {
        for oh in 0..ho {
            let (h0, h1, fh) = src(oh, x.h, ho);
            for ow in 0..wo {
                let (w0, w1, fw) = src(ow, x.w, wo);
                let p = |r: usize, q: usize| f64::from(x.d[(c * x.h + r) * x.w + q]);
                let top = (1.0 - fw) * p(h0, w0) + fw * p(h0, w1);
                let bottom = (1.0 - fw) * p(h1, w0) + fw * p(h1, w1);
                y.d[(c * ho + oh) * wo + ow] = ((1.0 - fh) * top + fh * bottom) as f32;
            }
        }
    }
    y
}

/// Rows (or columns) of patch `i` of an `s`-patch grid over `len` pixels (the AGCB split:
/// step `⌊len/s⌋`, the last patch takes the remainder).
pub fn patch_range(i: usize, s: usize, len: usize) -> std::ops::Range<usize> {
    let step = len / s;
    let end = if i + 1 == s { len } else { (i + 1) * step };
    i * step..end
}

/// Non-local attention over a region of the map (no `1/√d`): for each query pixel `n` of the
/// region (row-major), `scores(n)` gets the raw scores `Σ_j q[j][n]·k[j][m]` over the region's
/// pixels `m`, and the attention output `Σ_m v[c][m]·softmax(scores)_m` is written to
/// `out[c][n]`.
pub fn region_attention(
    q: &Fm,
    k: &Fm,
    v: &Fm,
    rows: std::ops::Range<usize>,
    cols: std::ops::Range<usize>,
    out: &mut Fm,
    mut scores_seen: impl FnMut(&[f32]),
) {
    let (w, plane) = (q.w, q.plane());
    let width = cols.len();
    let n_region = rows.len() * width;
    let pix = |i: usize| (rows.start + i / width) * w + cols.start + i % width;
    let mut s = vec![0f64; n_region];
    let mut s32 = vec![0f32; n_region];
    for qy in rows.clone() {
        for qx in cols.clone() {
            let n = qy * w + qx;
            for (i, e) in s.iter_mut().enumerate() {
                let m = pix(i);
                *e = (0..q.c)
                    .map(|j| f64::from(q.d[j * plane + n]) * f64::from(k.d[j * plane + m]))
                    .sum();
            }
            for (a, b) in s32.iter_mut().zip(&s) {
                *a = *b as f32;
            }
            scores_seen(&s32);
            let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mut sum = 0.0;
            for e in &mut s {
                *e = libm::exp(*e - max);
                sum += *e;
            }
            for c in 0..v.c {
                let acc: f64 = s
                    .iter()
                    .enumerate()
                    .map(|(i, p)| f64::from(v.d[c * plane + pix(i)]) * p)
                    .sum();
                out.d[c * plane + n] = (acc / sum) as f32;
            }
        }
    }
}
