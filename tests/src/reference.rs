//! Naive reference implementations with run-time shapes, in f64.
//!
//! Everything here is written as plainly as possible from the PyTorch definitions (NCHW with
//! N = 1, row-major flat `Vec`s, `usize` dimensions), independent of `hepaseg_core`'s code: no
//! shared helpers, no clever loops, no early exits. Speed does not matter. Inputs are f64 so a
//! test can feed the exact values the f32 op saw.
//!
//! Layouts (all row-major):
//! * map: `[c][h][w]`, index `(c·H + y)·W + x`;
//! * conv weight: `[out][in/groups][k][k]`;
//! * matrix / tokens: `[row][col]`;
//! * linear weight: `[out][in]`.

// Indexed loops over every coordinate are the point here: they read like the definitions.
#![allow(clippy::needless_range_loop)]

/// Output length of a convolution along one axis (PyTorch's formula), `None` if the dilated
/// kernel does not fit in the padded input.
pub fn conv_out_len(
    input: usize,
    k: usize,
    stride: usize,
    pad: usize,
    dil: usize,
) -> Option<usize> {
    let padded = input as i64 + 2 * pad as i64;
    let span = dil as i64 * (k as i64 - 1) + 1;
    if padded < span {
        None
    } else {
        Some(((padded - span) / stride as i64 + 1) as usize)
    }
}

/// Geometry of a 2-D convolution with square kernels.
#[derive(Debug, Clone, Copy)]
pub struct ConvSpec {
    /// Input channels.
    pub ci: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub co: usize,
    /// Kernel side.
    pub k: usize,
    /// Stride.
    pub stride: usize,
    /// Zero padding on every side.
    pub pad: usize,
    /// Dilation.
    pub dilation: usize,
    /// Groups.
    pub groups: usize,
}

impl ConvSpec {
    /// Output height.
    pub fn ho(&self) -> usize {
        conv_out_len(self.h, self.k, self.stride, self.pad, self.dilation).expect("kernel fits")
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        conv_out_len(self.w, self.k, self.stride, self.pad, self.dilation).expect("kernel fits")
    }
}

/// `torch.nn.functional.conv2d(x, weight, bias, stride, padding, dilation, groups)` for one
/// image. Returns the `[co][ho][wo]` output.
pub fn conv2d(x: &[f64], weight: &[f64], bias: Option<&[f64]>, s: &ConvSpec) -> Vec<f64> {
    assert_eq!(x.len(), s.ci * s.h * s.w, "input size");
    assert_eq!(s.ci % s.groups, 0, "ci divisible by groups");
    assert_eq!(s.co % s.groups, 0, "co divisible by groups");
    let cin_per_group = s.ci / s.groups;
    let cout_per_group = s.co / s.groups;
    assert_eq!(
        weight.len(),
        s.co * cin_per_group * s.k * s.k,
        "weight size"
    );
    let (ho, wo) = (s.ho(), s.wo());
    let mut y = vec![0.0; s.co * ho * wo];
    for o in 0..s.co {
        let group = o / cout_per_group;
        for oy in 0..ho {
            for ox in 0..wo {
                let mut acc = match bias {
                    Some(b) => b[o],
                    None => 0.0,
                };
                for c in 0..cin_per_group {
                    let ic = group * cin_per_group + c;
                    for ky in 0..s.k {
                        for kx in 0..s.k {
                            let iy = (oy * s.stride + ky * s.dilation) as i64 - s.pad as i64;
                            let ix = (ox * s.stride + kx * s.dilation) as i64 - s.pad as i64;
                            let inside =
                                iy >= 0 && ix >= 0 && (iy as usize) < s.h && (ix as usize) < s.w;
                            let xv = if inside {
                                x[(ic * s.h + iy as usize) * s.w + ix as usize]
                            } else {
                                0.0 // zero padding
                            };
                            let wv = weight[((o * cin_per_group + c) * s.k + ky) * s.k + kx];
                            acc += xv * wv;
                        }
                    }
                }
                y[(o * ho + oy) * wo + ox] = acc;
            }
        }
    }
    y
}

/// Depthwise convolution: `conv2d` with `groups = in = out = c` (weight `[c][1][k][k]`).
#[allow(clippy::too_many_arguments)]
pub fn depthwise_conv2d(
    x: &[f64],
    c: usize,
    h: usize,
    w: usize,
    weight: &[f64],
    bias: Option<&[f64]>,
    k: usize,
    stride: usize,
    pad: usize,
    dilation: usize,
) -> Vec<f64> {
    let spec = ConvSpec {
        ci: c,
        h,
        w,
        co: c,
        k,
        stride,
        pad,
        dilation,
        groups: c,
    };
    conv2d(x, weight, bias, &spec)
}

/// Batch-norm inference parameters, one entry per channel.
#[derive(Debug, Clone)]
pub struct Bn {
    /// Scale (weight).
    pub gamma: Vec<f64>,
    /// Shift (bias).
    pub beta: Vec<f64>,
    /// Running mean.
    pub mean: Vec<f64>,
    /// Running variance.
    pub var: Vec<f64>,
    /// Epsilon.
    pub eps: f64,
}

/// `torch.nn.functional.batch_norm(x, mean, var, gamma, beta, training=False, eps)`.
pub fn batch_norm(x: &[f64], c: usize, h: usize, w: usize, bn: &Bn) -> Vec<f64> {
    assert_eq!(x.len(), c * h * w);
    let mut y = vec![0.0; x.len()];
    for ch in 0..c {
        for i in 0..h * w {
            let v = x[ch * h * w + i];
            y[ch * h * w + i] =
                (v - bn.mean[ch]) / (bn.var[ch] + bn.eps).sqrt() * bn.gamma[ch] + bn.beta[ch];
        }
    }
    y
}

/// Folds a batch norm into the preceding convolution: returns `(weight', bias')` with
/// `conv(x; weight', bias') == bn(conv(x; weight, bias))`. `per_filter` = `in/groups · k · k`.
pub fn fold_batch_norm(
    weight: &[f64],
    bias: Option<&[f64]>,
    co: usize,
    per_filter: usize,
    bn: &Bn,
) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(weight.len(), co * per_filter);
    let mut w2 = vec![0.0; weight.len()];
    let mut b2 = vec![0.0; co];
    for o in 0..co {
        let factor = bn.gamma[o] / (bn.var[o] + bn.eps).sqrt();
        for i in 0..per_filter {
            w2[o * per_filter + i] = weight[o * per_filter + i] * factor;
        }
        let b = match bias {
            Some(b) => b[o],
            None => 0.0,
        };
        b2[o] = (b - bn.mean[o]) * factor + bn.beta[o];
    }
    (w2, b2)
}

/// `max(x, 0)`.
pub fn relu(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| if *v > 0.0 { *v } else { 0.0 }).collect()
}

/// `1 / (1 + e^(−x))`.
pub fn sigmoid(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| 1.0 / (1.0 + (-v).exp())).collect()
}

/// Exact GELU, `½x(1 + erf(x/√2))`, with `libm`'s f64 `erf`.
pub fn gelu(x: &[f64]) -> Vec<f64> {
    x.iter()
        .map(|v| 0.5 * v * (1.0 + libm::erf(v / 2f64.sqrt())))
        .collect()
}

/// Element-wise `a + b` (same shape).
pub fn add(a: &[f64], b: &[f64]) -> Vec<f64> {
    assert_eq!(a.len(), b.len());
    (0..a.len()).map(|i| a[i] + b[i]).collect()
}

/// Element-wise `a · b` (same shape).
pub fn mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    assert_eq!(a.len(), b.len());
    (0..a.len()).map(|i| a[i] * b[i]).collect()
}

/// `a · s`.
pub fn scale(a: &[f64], s: f64) -> Vec<f64> {
    a.iter().map(|v| v * s).collect()
}

/// `x + v` with `v` of shape `[c, 1, 1]` (broadcast over pixels).
pub fn add_channel(x: &[f64], c: usize, h: usize, w: usize, v: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; c * h * w];
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                let i = (ch * h + yy) * w + xx;
                y[i] = x[i] + v[ch];
            }
        }
    }
    y
}

/// `x · v` with `v` of shape `[c, 1, 1]`.
pub fn mul_channel(x: &[f64], c: usize, h: usize, w: usize, v: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; c * h * w];
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                let i = (ch * h + yy) * w + xx;
                y[i] = x[i] * v[ch];
            }
        }
    }
    y
}

/// `x + p` with `p` of shape `[1, h, w]` (broadcast over channels).
pub fn add_pixel(x: &[f64], c: usize, h: usize, w: usize, p: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; c * h * w];
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                y[(ch * h + yy) * w + xx] = x[(ch * h + yy) * w + xx] + p[yy * w + xx];
            }
        }
    }
    y
}

/// `x · p` with `p` of shape `[1, h, w]`.
pub fn mul_pixel(x: &[f64], c: usize, h: usize, w: usize, p: &[f64]) -> Vec<f64> {
    let mut y = vec![0.0; c * h * w];
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                y[(ch * h + yy) * w + xx] = x[(ch * h + yy) * w + xx] * p[yy * w + xx];
            }
        }
    }
    y
}

/// `torch.cat([a, b], dim=1)` for maps of `ca` and `cb` channels of `h × w`.
pub fn concat(a: &[f64], ca: usize, b: &[f64], cb: usize, h: usize, w: usize) -> Vec<f64> {
    let mut y = vec![0.0; (ca + cb) * h * w];
    for ch in 0..ca + cb {
        for i in 0..h * w {
            y[ch * h * w + i] = if ch < ca {
                a[ch * h * w + i]
            } else {
                b[(ch - ca) * h * w + i]
            };
        }
    }
    y
}

/// `x.mean(dim=(2, 3))`: one value per channel.
pub fn global_avg_pool(x: &[f64], c: usize, h: usize, w: usize) -> Vec<f64> {
    let mut y = vec![0.0; c];
    for (ch, out) in y.iter_mut().enumerate() {
        let mut sum = 0.0;
        for i in 0..h * w {
            sum += x[ch * h * w + i];
        }
        *out = sum / (h * w) as f64;
    }
    y
}

/// PyTorch's adaptive-pool bin `i` of `out` over `input`: `[floor(i·in/out), ceil((i+1)·in/out))`.
pub fn adaptive_bin(i: usize, input: usize, out: usize) -> (usize, usize) {
    let start = (i * input) / out; // integer division floors
    let num = (i + 1) * input;
    let end = if num.is_multiple_of(out) {
        num / out
    } else {
        num / out + 1
    };
    (start, end)
}

fn adaptive_pool(
    x: &[f64],
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    reduce: fn(&[f64]) -> f64,
) -> Vec<f64> {
    let mut y = vec![0.0; c * ho * wo];
    for ch in 0..c {
        for i in 0..ho {
            let (h0, h1) = adaptive_bin(i, h, ho);
            for j in 0..wo {
                let (w0, w1) = adaptive_bin(j, w, wo);
                let mut vals = Vec::new();
                for yy in h0..h1 {
                    for xx in w0..w1 {
                        vals.push(x[(ch * h + yy) * w + xx]);
                    }
                }
                y[(ch * ho + i) * wo + j] = reduce(&vals);
            }
        }
    }
    y
}

/// `torch.nn.functional.adaptive_avg_pool2d(x, (ho, wo))`.
pub fn adaptive_avg_pool(
    x: &[f64],
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f64> {
    adaptive_pool(x, c, h, w, ho, wo, |v| {
        v.iter().sum::<f64>() / v.len() as f64
    })
}

/// `torch.nn.functional.adaptive_max_pool2d(x, (ho, wo))` (finite inputs).
pub fn adaptive_max_pool(
    x: &[f64],
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
) -> Vec<f64> {
    adaptive_pool(x, c, h, w, ho, wo, |v| {
        v.iter().copied().fold(f64::NEG_INFINITY, f64::max)
    })
}

/// Source coordinate of output index `dst` (PyTorch `area_pixel_compute_source_index`).
fn bilinear_source(dst: usize, input: usize, out: usize, align_corners: bool) -> f64 {
    if align_corners {
        if out > 1 {
            dst as f64 * (input as f64 - 1.0) / (out as f64 - 1.0)
        } else {
            0.0
        }
    } else {
        let s = (dst as f64 + 0.5) * input as f64 / out as f64 - 0.5;
        if s < 0.0 {
            0.0
        } else {
            s
        }
    }
}

/// `torch.nn.functional.interpolate(x, size=(ho, wo), mode="bilinear", align_corners=…)`.
pub fn resize_bilinear(
    x: &[f64],
    c: usize,
    h: usize,
    w: usize,
    ho: usize,
    wo: usize,
    align_corners: bool,
) -> Vec<f64> {
    let mut y = vec![0.0; c * ho * wo];
    for ch in 0..c {
        for oy in 0..ho {
            let sy = bilinear_source(oy, h, ho, align_corners);
            let y0 = sy.floor() as usize;
            let y1 = if y0 < h - 1 { y0 + 1 } else { y0 };
            let ly = sy - y0 as f64;
            for ox in 0..wo {
                let sx = bilinear_source(ox, w, wo, align_corners);
                let x0 = sx.floor() as usize;
                let x1 = if x0 < w - 1 { x0 + 1 } else { x0 };
                let lx = sx - x0 as f64;
                let at = |yy: usize, xx: usize| x[(ch * h + yy) * w + xx];
                y[(ch * ho + oy) * wo + ox] = (1.0 - ly)
                    * ((1.0 - lx) * at(y0, x0) + lx * at(y0, x1))
                    + ly * ((1.0 - lx) * at(y1, x0) + lx * at(y1, x1));
            }
        }
    }
    y
}

/// `a · b` for `a: m × k`, `b: k × n`.
pub fn matmul(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    assert_eq!(a.len(), m * k);
    assert_eq!(b.len(), k * n);
    let mut y = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            let mut acc = 0.0;
            for t in 0..k {
                acc += a[i * k + t] * b[t * n + j];
            }
            y[i * n + j] = acc;
        }
    }
    y
}

/// Transpose of an `r × c` matrix.
pub fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut t = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            t[j * r + i] = a[i * c + j];
        }
    }
    t
}

/// `a · bᵀ` for `a: m × k`, `b: n × k`.
pub fn matmul_bt(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
    matmul(a, &transpose(b, n, k), m, k, n)
}

/// `aᵀ · b` for `a: k × m`, `b: k × n`.
pub fn matmul_at(a: &[f64], b: &[f64], k: usize, m: usize, n: usize) -> Vec<f64> {
    matmul(&transpose(a, k, m), b, m, k, n)
}

/// `torch.nn.functional.linear(x, weight, bias)`: `x: n × di`, `weight: do × di` → `n × do`.
pub fn linear(
    x: &[f64],
    weight: &[f64],
    bias: Option<&[f64]>,
    n: usize,
    di: usize,
    dout: usize,
) -> Vec<f64> {
    let mut y = matmul_bt(x, weight, n, di, dout);
    if let Some(b) = bias {
        for t in 0..n {
            for o in 0..dout {
                y[t * dout + o] += b[o];
            }
        }
    }
    y
}

/// `torch.softmax(m, dim=-1)` for an `r × c` matrix.
pub fn softmax_rows(m: &[f64], r: usize, c: usize) -> Vec<f64> {
    let mut y = vec![0.0; r * c];
    for i in 0..r {
        let row = &m[i * c..(i + 1) * c];
        let max = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = row.iter().map(|v| (v - max).exp()).sum();
        for j in 0..c {
            y[i * c + j] = (row[j] - max).exp() / sum;
        }
    }
    y
}

/// `torch.softmax(m, dim=0)` for an `r × c` matrix.
pub fn softmax_cols(m: &[f64], r: usize, c: usize) -> Vec<f64> {
    transpose(&softmax_rows(&transpose(m, r, c), c, r), c, r)
}

/// `torch.nn.functional.layer_norm(x, (d,), gamma, beta, eps)` for `n` tokens of `d` features.
pub fn layer_norm(
    x: &[f64],
    n: usize,
    d: usize,
    gamma: &[f64],
    beta: &[f64],
    eps: f64,
) -> Vec<f64> {
    let mut y = vec![0.0; n * d];
    for t in 0..n {
        let tok = &x[t * d..(t + 1) * d];
        let mean = tok.iter().sum::<f64>() / d as f64;
        let var = tok.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / d as f64;
        for j in 0..d {
            y[t * d + j] = (tok[j] - mean) / (var + eps).sqrt() * gamma[j] + beta[j];
        }
    }
    y
}

/// `x.flatten(2).transpose(1, 2)`: a `[c][h][w]` map → `h·w` tokens of `c` features.
pub fn map_to_tokens(x: &[f64], c: usize, h: usize, w: usize) -> Vec<f64> {
    let mut t = vec![0.0; c * h * w];
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                t[(yy * w + xx) * c + ch] = x[(ch * h + yy) * w + xx];
            }
        }
    }
    t
}

/// `t.transpose(1, 2).reshape(c, h, w)`: `h·w` tokens of `c` features → a `[c][h][w]` map.
pub fn tokens_to_map(t: &[f64], c: usize, h: usize, w: usize) -> Vec<f64> {
    let mut x = vec![0.0; c * h * w];
    for ch in 0..c {
        for yy in 0..h {
            for xx in 0..w {
                x[(ch * h + yy) * w + xx] = t[(yy * w + xx) * c + ch];
            }
        }
    }
    x
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conv_out_len_formula() {
        assert_eq!(conv_out_len(4, 3, 1, 1, 1), Some(4));
        assert_eq!(conv_out_len(4, 3, 2, 1, 1), Some(2));
        assert_eq!(conv_out_len(2, 5, 1, 0, 1), None);
    }

    #[test]
    fn bins_and_bilinear_sanity() {
        assert_eq!(adaptive_bin(1, 32, 10), (3, 7));
        let up = resize_bilinear(&[0.0, 1.0], 1, 1, 2, 1, 4, false);
        assert_eq!(up, vec![0.0, 0.25, 0.75, 1.0]);
    }
}
