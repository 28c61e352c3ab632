//! From a traced graph, calibrated point ranges and folded parameters to the tensors of an int8
//! blob (naming scheme: `hepaseg_core::int8::graph`).
//!
//! All real arithmetic here is `f64` on the host: weight scales, rounding, bias quantization,
//! requantization multipliers (`quantize_multiplier`), lookup and exp tables (`build_lut`,
//! `build_exp_table`). The device sees only the integers.

use super::graph::{NamedParams, Op, Trace};
use super::tensor;
use crate::blob::BlobWriter;
use hepaseg_core::int8::concat::Rescale;
use hepaseg_core::int8::quant::{quantize_bias, quantize_multiplier};
use hepaseg_core::int8::{
    build_exp_table, build_lut, AddQuant, Clamp, MulQuant, QuantParams, Requant,
};
use std::collections::BTreeMap;

/// The fixed quantization of sigmoid outputs (TFLite's `Logistic`): `(1/256, −128)`.
pub const SIGMOID_OUT: QuantParams = QuantParams::new(1.0 / 256.0, -128);

/// Quantization parameters per point: calibrated ranges (widened to include 0) with TFLite's
/// nudged zero point, fixed points at their fixed values.
pub fn point_params(
    trace: &Trace,
    ranges: &BTreeMap<String, (f32, f32)>,
) -> Result<BTreeMap<String, QuantParams>, String> {
    let fixed = trace.fixed_points();
    trace
        .points()
        .into_iter()
        .map(|p| {
            let q = if fixed.contains(&p) {
                SIGMOID_OUT
            } else {
                let &(lo, hi) = ranges
                    .get(&p)
                    .ok_or_else(|| format!("point `{p}` was never observed during calibration"))?;
                QuantParams::from_range(lo, hi)
            };
            Ok((p, q))
        })
        .collect()
}

/// The int8 scale of one output channel's weights: symmetric, `max |w| / 127`.
pub fn weight_scale(ws: &[f64]) -> f32 {
    let max_abs = ws.iter().fold(0f64, |m, v| m.max(v.abs()));
    QuantParams::symmetric(max_abs as f32).scale
}

/// A weight on its channel's int8 grid (scale `sw`, [`weight_scale`]).
pub fn weight_q(w: f64, sw: f32) -> i8 {
    (w / f64::from(sw)).round().clamp(-127.0, 127.0) as i8
}

/// Byte counts of what an int8 blob holds (for the size report). Their sum,
/// [`EmitStats::payload_bytes`], is the denominator of the blob's size figure: every number
/// the blob carries, none of the format's own bytes (header, table entries, names, padding,
/// checksum, signature).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmitStats {
    /// Int8 weight bytes.
    pub weight_bytes: usize,
    /// Int32 bias bytes.
    pub bias_bytes: usize,
    /// Per-channel quantization tables: `f32` scale, Q31 multiplier and shift per output
    /// channel (12 bytes each).
    pub companion_bytes: usize,
    /// Tables and op parameters (LUTs, exp tables, add/mul/requant/rescale integers, layer-norm
    /// integers).
    pub table_bytes: usize,
    /// Activation points (each an `f32` scale and an `i8` zero point: 5 bytes).
    pub points: usize,
    /// Convolutions.
    pub convs: usize,
}

impl EmitStats {
    /// Payload bytes in all: int8 weights + int32 biases + tables (per-channel quantization
    /// tables, op tables and integers, activation points at 5 bytes).
    pub fn payload_bytes(&self) -> usize {
        self.weight_bytes
            + self.bias_bytes
            + self.companion_bytes
            + self.table_bytes
            + POINT_BYTES * self.points
    }
}

/// What an activation point holds: an `f32` scale and an `i8` zero point.
pub const POINT_BYTES: usize = 5;

fn requant_pair(r: Requant) -> [i32; 2] {
    [r.multiplier, r.shift]
}

fn sigmoid_f64(v: f64) -> f64 {
    tensor::sigmoid(v)
}

/// Per-channel int8 weights of a folded convolution or linear layer (`{name}.weight` with
/// `shape` and its packed record `{name}.weight.quant`: scales, multipliers, shifts, biases)
/// for input `qi` and output `qo`.
#[allow(clippy::too_many_arguments)]
fn weights(
    w: &mut BlobWriter,
    st: &mut EmitStats,
    name: &str,
    f: &super::tensor::Folded,
    shape: &[usize],
    qi: QuantParams,
    qo: QuantParams,
) -> Result<(), String> {
    let err = |e: crate::blob::WriteError| e.to_string();
    let per = f.cig * f.k * f.k;
    let mut wq = Vec::with_capacity(f.w64.len());
    let (mut scales, mut bias, mut mult, mut shift) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for co in 0..f.co {
        let ws = &f.w64[co * per..(co + 1) * per];
        let sw = weight_scale(ws);
        wq.extend(ws.iter().map(|&v| weight_q(v, sw)));
        scales.push(sw);
        bias.push(quantize_bias(f.b64[co], qi.scale, sw));
        let (m, s) = quantize_multiplier(f64::from(qi.scale) * f64::from(sw) / f64::from(qo.scale));
        mult.push(m);
        shift.push(s);
    }
    w.add_i8_per_channel_packed(
        &format!("{name}.weight"),
        shape,
        0,
        &wq,
        &scales,
        &mult,
        &shift,
        &bias,
    )
    .map_err(err)?;
    st.weight_bytes += wq.len();
    st.bias_bytes += 4 * f.co;
    st.companion_bytes += 12 * f.co;
    st.convs += 1;
    Ok(())
}

/// The integers of an int8 layer norm (`hepaseg_core::int8::quant::layer_norm_params` with
/// run-time lengths): per feature the Q31 multiplier and shift of
/// `γ / (s_out · 2^(NORM_FRAC_BITS − BETA_FRAC_BITS))` and `round(β · 2^BETA_FRAC_BITS /
/// s_out)`, and `eps_q = round(ε / s_in² · 2^EPS_FRAC_BITS)`.
pub fn layer_norm_params(
    gamma: &[f32],
    beta: &[f32],
    eps: f64,
    input: QuantParams,
    output: QuantParams,
) -> (Vec<i32>, Vec<i32>, Vec<i32>, i32) {
    use hepaseg_core::int8::norm::{BETA_FRAC_BITS, EPS_FRAC_BITS, NORM_FRAC_BITS};
    let s_out = f64::from(output.scale);
    let g_den = s_out * f64::from(1u32 << (NORM_FRAC_BITS - BETA_FRAC_BITS));
    let (mut m, mut sh) = (Vec::new(), Vec::new());
    for &g in gamma {
        let (a, b) = quantize_multiplier(f64::from(g) / g_den);
        m.push(a);
        sh.push(b);
    }
    let b = beta
        .iter()
        .map(|&v| {
            (f64::from(v) * f64::from(1u32 << BETA_FRAC_BITS) / s_out)
                .round()
                .clamp(f64::from(i32::MIN), f64::from(i32::MAX)) as i32
        })
        .collect();
    let s_in = f64::from(input.scale);
    let e = (eps / (s_in * s_in) * f64::from(1u32 << EPS_FRAC_BITS))
        .round()
        .clamp(0.0, f64::from(i32::MAX)) as i32;
    (m, sh, b, e)
}

/// Adds every tensor of the int8 network described by `trace` to `w`.
pub fn emit(
    w: &mut BlobWriter,
    trace: &Trace,
    params: &NamedParams,
    points: &BTreeMap<String, QuantParams>,
) -> Result<EmitStats, String> {
    let q = |p: &str| -> Result<QuantParams, String> {
        points
            .get(p)
            .copied()
            .ok_or_else(|| format!("no quantization for point `{p}`"))
    };
    let err = |e: crate::blob::WriteError| e.to_string();
    let mut st = EmitStats::default();
    for op in &trace.ops {
        match op {
            Op::Input { .. } => {}
            Op::Conv {
                conv,
                input,
                output,
                ..
            } => {
                let f = params.folded(conv)?;
                let shape = [f.co, f.cig, f.k, f.k];
                weights(w, &mut st, conv, f, &shape, q(input)?, q(output)?)?;
            }
            Op::Linear {
                linear,
                input,
                output,
            } => {
                let f = params.folded(linear)?;
                let shape = [f.co, f.cig];
                weights(w, &mut st, linear, f, &shape, q(input)?, q(output)?)?;
            }
            Op::LayerNorm { ln, input, output } => {
                let gamma = params.get(&format!("{ln}.weight"))?;
                let beta = params.get(&format!("{ln}.bias"))?;
                let (m, sh, b, eps) = layer_norm_params(
                    gamma,
                    beta,
                    f64::from(hepaseg_core::ops::LN_EPS),
                    q(input)?,
                    q(output)?,
                );
                let d = gamma.len();
                w.add_i32(&format!("{ln}.multiplier"), &[d], &m, None)
                    .map_err(err)?;
                w.add_i32(&format!("{ln}.shift"), &[d], &sh, None)
                    .map_err(err)?;
                w.add_i32(&format!("{ln}.beta"), &[d], &b, None)
                    .map_err(err)?;
                w.add_i32(&format!("{ln}.eps"), &[1], &[eps], None)
                    .map_err(err)?;
                st.table_bytes += 12 * d + 4;
            }
            Op::Gelu { input, output } => {
                let lut = build_lut(tensor::gelu, q(input)?, q(output)?);
                w.add_i8(&format!("{output}.lut"), &[256], &lut, None)
                    .map_err(err)?;
                st.table_bytes += 256;
            }
            Op::Add {
                a,
                ka,
                b,
                kb,
                output,
                relu,
            } => {
                let qo = q(output)?;
                let clamp = if *relu {
                    Clamp::relu(qo.zero_point)
                } else {
                    Clamp::NONE
                };
                let p = AddQuant::scaled(q(a)?, *ka, q(b)?, *kb, qo, clamp);
                let v = [
                    p.a.multiplier,
                    p.a.shift,
                    p.b.multiplier,
                    p.b.shift,
                    p.output.multiplier,
                    p.output.shift,
                ];
                w.add_i32(&format!("{output}.add"), &[6], &v, None)
                    .map_err(err)?;
                st.table_bytes += 24;
            }
            Op::Mul { a, b, output } => {
                let p = MulQuant::new(q(a)?, q(b)?, q(output)?, Clamp::NONE);
                w.add_i32(
                    &format!("{output}.mul"),
                    &[2],
                    &requant_pair(p.requant),
                    None,
                )
                .map_err(err)?;
                st.table_bytes += 8;
            }
            Op::Sigmoid { input, output } => {
                let lut = build_lut(sigmoid_f64, q(input)?, q(output)?);
                w.add_i8(&format!("{output}.lut"), &[256], &lut, None)
                    .map_err(err)?;
                st.table_bytes += 256;
            }
            Op::Attention {
                q: qp,
                k,
                v,
                score_factor,
                score,
                attn,
            } => {
                let (sq, sk, sv) = (q(qp)?.scale, q(k)?.scale, q(v)?.scale);
                let (ss, sa) = (q(score)?.scale, q(attn)?.scale);
                let score_rq = Requant::from_real(
                    score_factor * f64::from(sq) * f64::from(sk) / f64::from(ss),
                );
                let attn_rq = Requant::from_real(f64::from(sv) / 256.0 / f64::from(sa));
                w.add_i32(
                    &format!("{score}.requant"),
                    &[2],
                    &requant_pair(score_rq),
                    None,
                )
                .map_err(err)?;
                w.add_i32(
                    &format!("{score}.exp"),
                    &[256],
                    &build_exp_table(f64::from(ss)),
                    None,
                )
                .map_err(err)?;
                w.add_i32(
                    &format!("{attn}.requant"),
                    &[2],
                    &requant_pair(attn_rq),
                    None,
                )
                .map_err(err)?;
                st.table_bytes += 8 + 1024 + 8;
            }
            Op::Concat { inputs, output } => {
                let qo = q(output)?;
                let mut rows = Vec::new();
                for i in inputs {
                    rows.extend(requant_pair(Rescale::new(q(i)?, qo).requant));
                }
                w.add_i32(
                    &format!("{output}.rescale"),
                    &[inputs.len(), 2],
                    &rows,
                    None,
                )
                .map_err(err)?;
                st.table_bytes += 4 * rows.len();
            }
        }
    }
    for (name, p) in points {
        w.add_i8(
            &format!("act.{name}"),
            &[],
            &[p.zero_point],
            Some((p.scale, i32::from(p.zero_point))),
        )
        .map_err(err)?;
        st.points += 1;
    }
    Ok(st)
}
