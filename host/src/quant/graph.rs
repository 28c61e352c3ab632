//! The calibration forward's bookkeeping: named parameters and folded convolutions
//! ([`NamedParams`]), observers of activation points ([`Observer`]), and the trace of
//! quantizable operations a forward records ([`Op`], [`Trace`]), from which the exporter
//! writes the int8 blob.
//!
//! A network's calibration forward (e.g. [`super::agcaf`]) is written once against [`Ctx`]:
//! every operation that produces a new activation point goes through a `Ctx` method, which
//! computes it in `f32`, shows the values to the observer and, on the first forward, records
//! the operation with its input and output point names. The exporter then needs no knowledge
//! of the wiring: it walks the trace.

use super::tensor::{self, Fm, Folded};
use hepaseg_core::params::{ParamSpec, Role};
use std::collections::{BTreeMap, HashMap};

/// A network's `f32` parameters by name, with every convolution's BatchNorm folded in.
#[derive(Debug, Clone)]
pub struct NamedParams {
    values: HashMap<String, Vec<f32>>,
    shapes: HashMap<String, Vec<usize>>,
    folded: HashMap<String, Folded>,
}

/// `Ok` when `values` holds one tensor per row of `table`, each with the row's element count —
/// what every consumer of parameters in table order (the quantizer, the ONNX exporter) needs
/// before it reads them by name.
pub fn check_values(table: &[ParamSpec], values: &[Vec<f32>]) -> Result<(), String> {
    if table.len() != values.len() {
        return Err(format!(
            "{} parameter tensors for a table of {}",
            values.len(),
            table.len()
        ));
    }
    for (p, v) in table.iter().zip(values) {
        if v.len() != p.numel() {
            return Err(format!(
                "`{}`: {} values for shape {:?}",
                p.name.as_str(),
                v.len(),
                p.shape()
            ));
        }
    }
    Ok(())
}

impl NamedParams {
    /// From a parameter table and its values (table order). Convolution `X.weight` is folded
    /// with `X.bias` (if present) and, when `X` is `U.conv` and `U.bn.*` exist, with that
    /// BatchNorm.
    pub fn new(table: &[ParamSpec], values: &[Vec<f32>]) -> Result<Self, String> {
        check_values(table, values)?;
        let mut v = HashMap::new();
        let mut shapes = HashMap::new();
        for (p, x) in table.iter().zip(values) {
            v.insert(p.name.as_str().to_owned(), x.clone());
            shapes.insert(p.name.as_str().to_owned(), p.shape().to_vec());
        }
        let mut folded = HashMap::new();
        for p in table.iter().filter(|p| p.role == Role::LinearWeight) {
            let name = p.name.as_str();
            let prefix = name.strip_suffix(".weight").unwrap_or(name);
            let bias = v.get(&format!("{prefix}.bias")).map(Vec::as_slice);
            let s = p.shape();
            folded.insert(
                prefix.to_owned(),
                tensor::fold(&v[name], [s[0], s[1], 1, 1], bias, None),
            );
        }
        for p in table.iter().filter(|p| p.role == Role::ConvWeight) {
            let name = p.name.as_str();
            let prefix = name.strip_suffix(".weight").unwrap_or(name);
            let bias = v.get(&format!("{prefix}.bias")).map(Vec::as_slice);
            let bn = prefix.strip_suffix(".conv").and_then(|unit| {
                let g = v.get(&format!("{unit}.bn.weight"))?;
                let b = v.get(&format!("{unit}.bn.bias"))?;
                let m = v.get(&format!("{unit}.bn.running_mean"))?;
                let var = v.get(&format!("{unit}.bn.running_var"))?;
                Some((g.as_slice(), b.as_slice(), m.as_slice(), var.as_slice()))
            });
            let s = p.shape();
            let shape = [s[0], s[1], s[2], s[3]];
            folded.insert(prefix.to_owned(), tensor::fold(&v[name], shape, bias, bn));
        }
        Ok(Self {
            values: v,
            shapes,
            folded,
        })
    }

    /// A copy whose convolution and linear weights are rounded to the int8 grid the exporter
    /// writes ([`super::emit::weight_scale`], [`super::emit::weight_q`]): what the
    /// sensitivity analysis runs to see the weights' share of the int8 error.
    pub fn with_int8_weights(&self) -> Self {
        let mut out = self.clone();
        for f in out.folded.values_mut() {
            let per = f.cig * f.k * f.k;
            for (w64, w) in f.w64.chunks_mut(per).zip(f.w.chunks_mut(per)) {
                let sw = super::emit::weight_scale(w64);
                for (a, b) in w64.iter_mut().zip(w) {
                    *a = f64::from(super::emit::weight_q(*a, sw)) * f64::from(sw);
                    *b = *a as f32;
                }
            }
        }
        out
    }

    /// A parameter's values.
    pub fn get(&self, name: &str) -> Result<&[f32], String> {
        self.values
            .get(name)
            .map(Vec::as_slice)
            .ok_or_else(|| format!("parameter `{name}` missing"))
    }

    /// Whether a parameter exists.
    pub fn has(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// A parameter's shape.
    pub fn shape(&self, name: &str) -> Option<&[usize]> {
        self.shapes.get(name).map(Vec::as_slice)
    }

    /// The folded convolution with prefix `conv` (`backbone.stem.conv`), or the linear layer
    /// with prefix `conv` (as a `[DO, DI, 1, 1]` convolution).
    pub fn folded(&self, conv: &str) -> Result<&Folded, String> {
        self.folded
            .get(conv)
            .ok_or_else(|| format!("convolution `{conv}` missing"))
    }

    /// A scalar gate's value (`….gamma`).
    pub fn gate(&self, name: &str) -> Result<f64, String> {
        Ok(f64::from(*self.get(name)?.first().ok_or("empty gate")?))
    }
}

/// Sees activation values by point name (possibly in several chunks per point and forward).
pub trait Observer {
    /// Values of `point`.
    fn observe(&mut self, point: &str, values: &[f32]);

    /// Rewrites values of `point` before they are observed and used downstream: the hook a
    /// fake-quantizing forward ([`super::sensitivity`]) uses to round a point to its int8
    /// grid. Calibration observers leave values alone (the default).
    fn settle(&mut self, _point: &str, _values: &mut [f32]) {}
}

/// An observer that ignores everything (plain inference).
#[derive(Debug, Clone, Copy, Default)]
pub struct Ignore;

impl Observer for Ignore {
    fn observe(&mut self, _: &str, _: &[f32]) {}
}

/// A quantizable operation of the traced graph, with the names of its points.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// The network input.
    Input {
        /// Its point (`input`).
        point: String,
    },
    /// A convolution unit (folded convolution, optional fused ReLU).
    Conv {
        /// Prefix of the convolution's tensors (`backbone.stem.conv`).
        conv: String,
        /// Input point.
        input: String,
        /// Output point.
        output: String,
        /// Fused ReLU.
        relu: bool,
    },
    /// `out = ka·a + kb·b` (optional fused ReLU).
    Add {
        /// First operand's point.
        a: String,
        /// Its real factor (a learned gate, or 1).
        ka: f64,
        /// Second operand's point.
        b: String,
        /// Its real factor.
        kb: f64,
        /// Output point.
        output: String,
        /// Fused ReLU.
        relu: bool,
    },
    /// `out = a · b` (element-wise or broadcast).
    Mul {
        /// First operand's point.
        a: String,
        /// Second operand's point.
        b: String,
        /// Output point.
        output: String,
    },
    /// `out = σ(input)` through a table; the output point is fixed at `(1/256, −128)`.
    Sigmoid {
        /// Input point.
        input: String,
        /// Output point.
        output: String,
    },
    /// Non-local attention: scores `k_score·QᵀK` at `score`, softmax, `V·Aᵀ` at `attn`.
    Attention {
        /// Query point.
        q: String,
        /// Key point.
        k: String,
        /// Value point.
        v: String,
        /// Real factor on the scores (`1/√d`, or 1 for AGPCNet's non-local).
        score_factor: f64,
        /// Score point.
        score: String,
        /// Attention output point.
        attn: String,
    },
    /// A linear layer over tokens.
    Linear {
        /// Prefix of its tensors (`….attn.q`).
        linear: String,
        /// Input point.
        input: String,
        /// Output point.
        output: String,
    },
    /// Layer norm over each token's features.
    LayerNorm {
        /// Prefix of its `weight`/`bias`.
        ln: String,
        /// Input point.
        input: String,
        /// Output point.
        output: String,
    },
    /// `out = GELU(input)` through a table; the output point is calibrated.
    Gelu {
        /// Input point.
        input: String,
        /// Output point.
        output: String,
    },
    /// Channel concatenation, each input rescaled into the output point.
    Concat {
        /// Input points, in order.
        inputs: Vec<String>,
        /// Output point.
        output: String,
    },
}

impl Op {
    /// The point the operation produces.
    pub fn output(&self) -> &str {
        match self {
            Op::Input { point } => point,
            Op::Conv { output, .. }
            | Op::Add { output, .. }
            | Op::Mul { output, .. }
            | Op::Sigmoid { output, .. }
            | Op::Concat { output, .. }
            | Op::Linear { output, .. }
            | Op::LayerNorm { output, .. }
            | Op::Gelu { output, .. } => output,
            Op::Attention { attn, .. } => attn,
        }
    }
}

/// The operations of one forward pass, in execution order, each recorded once.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Trace {
    /// The operations.
    pub ops: Vec<Op>,
    seen: BTreeMap<String, usize>,
}

impl Trace {
    fn record(&mut self, op: Op) {
        let key = op.output().to_owned();
        if !self.seen.contains_key(&key) {
            self.seen.insert(key, self.ops.len());
            self.ops.push(op);
        }
    }

    /// Every point the trace names (inputs and outputs), sorted.
    pub fn points(&self) -> Vec<String> {
        let mut p: Vec<String> = Vec::new();
        for op in &self.ops {
            match op {
                Op::Input { point } => p.push(point.clone()),
                Op::Conv { input, output, .. }
                | Op::Sigmoid { input, output }
                | Op::Linear { input, output, .. }
                | Op::LayerNorm { input, output, .. }
                | Op::Gelu { input, output } => {
                    p.push(input.clone());
                    p.push(output.clone());
                }
                Op::Add { a, b, output, .. } | Op::Mul { a, b, output } => {
                    p.extend([a.clone(), b.clone(), output.clone()]);
                }
                Op::Attention {
                    q,
                    k,
                    v,
                    score,
                    attn,
                    ..
                } => p.extend([q, k, v, score, attn].map(Clone::clone)),
                Op::Concat { inputs, output } => {
                    p.extend(inputs.iter().cloned());
                    p.push(output.clone());
                }
            }
        }
        p.sort();
        p.dedup();
        p
    }

    /// Points with a fixed quantization (sigmoid outputs), which calibration does not set.
    pub fn fixed_points(&self) -> Vec<String> {
        self.ops
            .iter()
            .filter_map(|op| match op {
                Op::Sigmoid { output, .. } => Some(output.clone()),
                _ => None,
            })
            .collect()
    }
}

/// An activation and the name of its quantization point.
#[derive(Debug, Clone, PartialEq)]
pub struct Act {
    /// Values.
    pub t: Fm,
    /// Point name (shared with the producer's input for pooling/resampling).
    pub point: String,
}

/// The context a calibration forward runs in.
pub struct Ctx<'a> {
    /// Parameters.
    pub params: &'a NamedParams,
    obs: &'a mut dyn Observer,
    trace: Option<&'a mut Trace>,
}

impl std::fmt::Debug for Ctx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx").finish_non_exhaustive()
    }
}

impl<'a> Ctx<'a> {
    /// A context observing with `obs` and, if given, recording into `trace`.
    pub fn new(
        params: &'a NamedParams,
        obs: &'a mut dyn Observer,
        trace: Option<&'a mut Trace>,
    ) -> Self {
        Self { params, obs, trace }
    }

    /// Shows values to the observer.
    pub fn observe(&mut self, point: &str, values: &[f32]) {
        self.obs.observe(point, values);
    }

    /// Lets the observer rewrite values of `point` ([`Observer::settle`]) before anything
    /// else sees them.
    pub fn settle(&mut self, point: &str, values: &mut [f32]) {
        self.obs.settle(point, values);
    }

    /// Settles, then observes: every new value of an activation point goes through here.
    fn emit(&mut self, point: &str, values: &mut [f32]) {
        self.settle(point, values);
        self.observe(point, values);
    }

    /// Records an operation (first forward only).
    pub fn record(&mut self, op: Op) {
        if let Some(t) = self.trace.as_deref_mut() {
            t.record(op);
        }
    }

    /// The network input.
    pub fn input(&mut self, mut t: Fm) -> Act {
        self.emit("input", &mut t.d);
        self.record(Op::Input {
            point: "input".into(),
        });
        Act {
            t,
            point: "input".into(),
        }
    }

    /// A convolution unit: folded convolution `conv` (stride, padding), optional ReLU, output
    /// point `point`. `tokens` makes the observer see the output token-major (queries and
    /// keys, as the int8 engine stores them).
    #[allow(clippy::too_many_arguments)]
    pub fn unit(
        &mut self,
        x: &Act,
        conv: &str,
        point: &str,
        stride: usize,
        pad: usize,
        relu: bool,
        tokens: bool,
    ) -> Result<Act, String> {
        self.unit_dilated(x, conv, point, (stride, pad, 1), relu, tokens)
    }

    /// [`Ctx::unit`] with a dilation: `geometry = (stride, padding, dilation)`.
    pub fn unit_dilated(
        &mut self,
        x: &Act,
        conv: &str,
        point: &str,
        (stride, pad, dil): (usize, usize, usize),
        relu: bool,
        tokens: bool,
    ) -> Result<Act, String> {
        let f = self.params.folded(conv)?;
        let mut y = tensor::conv(&x.t, f, stride, pad, dil);
        if relu {
            tensor::relu(&mut y);
        }
        self.settle(point, &mut y.d);
        if tokens {
            let t = y.tokens();
            self.observe(point, &t);
        } else {
            self.observe(point, &y.d);
        }
        self.record(Op::Conv {
            conv: conv.into(),
            input: x.point.clone(),
            output: point.into(),
            relu,
        });
        Ok(Act {
            t: y,
            point: point.into(),
        })
    }

    /// A unit named after its prefix `U` with convolution `U.conv` (conv + BN).
    pub fn unit_bn(
        &mut self,
        x: &Act,
        unit: &str,
        stride: usize,
        pad: usize,
        relu: bool,
    ) -> Result<Act, String> {
        self.unit(x, &format!("{unit}.conv"), unit, stride, pad, relu, false)
    }

    /// `ka·a + kb·b`, optional ReLU.
    pub fn add(&mut self, a: &Act, ka: f64, b: &Act, kb: f64, point: &str, relu: bool) -> Act {
        let d =
            a.t.d
                .iter()
                .zip(&b.t.d)
                .map(|(&x, &y)| {
                    let v = (ka * f64::from(x) + kb * f64::from(y)) as f32;
                    if relu {
                        v.max(0.0)
                    } else {
                        v
                    }
                })
                .collect();
        let mut t = Fm { d, ..a.t.clone() };
        self.emit(point, &mut t.d);
        self.record(Op::Add {
            a: a.point.clone(),
            ka,
            b: b.point.clone(),
            kb,
            output: point.into(),
            relu,
        });
        Act {
            t,
            point: point.into(),
        }
    }

    /// `a ⊙ b` with `b` of `a`'s shape, `c × 1 × 1` (broadcast over pixels) or `1 × h × w`
    /// (broadcast over channels).
    pub fn mul(&mut self, a: &Act, b: &Act, point: &str) -> Act {
        let n = a.t.plane();
        let mut t = a.t.clone();
        let per_pixel = b.t.c == 1 && b.t.plane() == n && a.t.c > 1;
        for (i, v) in t.d.iter_mut().enumerate() {
            let bv = if b.t.d.len() == a.t.d.len() {
                b.t.d[i]
            } else if per_pixel {
                b.t.d[i % n]
            } else {
                b.t.d[i / n]
            };
            *v *= bv;
        }
        self.emit(point, &mut t.d);
        self.record(Op::Mul {
            a: a.point.clone(),
            b: b.point.clone(),
            output: point.into(),
        });
        Act {
            t,
            point: point.into(),
        }
    }

    /// `σ(x)` at a fixed output point.
    pub fn sigmoid(&mut self, x: &Act, point: &str) -> Act {
        let mut t = x.t.clone();
        for v in &mut t.d {
            *v = tensor::sigmoid(f64::from(*v)) as f32;
        }
        self.emit(point, &mut t.d);
        self.record(Op::Sigmoid {
            input: x.point.clone(),
            output: point.into(),
        });
        Act {
            t,
            point: point.into(),
        }
    }

    /// A linear layer over tokens (prefix `linear`, output point of the same name).
    pub fn linear(&mut self, x: &Act, linear: &str) -> Result<Act, String> {
        let mut t = tensor::linear(&x.t, self.params.folded(linear)?);
        self.emit(linear, &mut t.d);
        self.record(Op::Linear {
            linear: linear.into(),
            input: x.point.clone(),
            output: linear.into(),
        });
        Ok(Act {
            t,
            point: linear.into(),
        })
    }

    /// Layer norm `ln` (`ln.weight`, `ln.bias`, eps 1e-6) over tokens; output point `ln`.
    pub fn layer_norm(&mut self, x: &Act, ln: &str) -> Result<Act, String> {
        let g = self.params.get(&format!("{ln}.weight"))?;
        let b = self.params.get(&format!("{ln}.bias"))?;
        let mut t = tensor::layer_norm(&x.t, g, b, f64::from(hepaseg_core::ops::LN_EPS));
        self.emit(ln, &mut t.d);
        self.record(Op::LayerNorm {
            ln: ln.into(),
            input: x.point.clone(),
            output: ln.into(),
        });
        Ok(Act {
            t,
            point: ln.into(),
        })
    }

    /// Exact GELU at a calibrated output point.
    pub fn gelu(&mut self, x: &Act, point: &str) -> Act {
        let mut t = x.t.clone();
        for v in &mut t.d {
            *v = tensor::gelu(f64::from(*v)) as f32;
        }
        self.emit(point, &mut t.d);
        self.record(Op::Gelu {
            input: x.point.clone(),
            output: point.into(),
        });
        Act {
            t,
            point: point.into(),
        }
    }

    /// Concatenation along channels at point `point`.
    pub fn concat(&mut self, inputs: &[&Act], point: &str) -> Act {
        let (h, w) = (inputs[0].t.h, inputs[0].t.w);
        let c = inputs.iter().map(|a| a.t.c).sum();
        let d = inputs.iter().flat_map(|a| a.t.d.iter().copied()).collect();
        let mut t = Fm { c, h, w, d };
        self.emit(point, &mut t.d);
        self.record(Op::Concat {
            inputs: inputs.iter().map(|a| a.point.clone()).collect(),
            output: point.into(),
        });
        Act {
            t,
            point: point.into(),
        }
    }

    /// A pooled or resampled `x`: no new point, but int8 rounds the result to `x`'s grid
    /// again, so it is settled (not observed: the point's range is `x`'s).
    pub fn resampled(&mut self, x: &Act, mut t: Fm) -> Act {
        self.settle(&x.point, &mut t.d);
        Self::same_point(x, t)
    }

    /// The map with the same point and exactly the same values (a layout change).
    pub fn same_point(x: &Act, t: Fm) -> Act {
        Act {
            t,
            point: x.point.clone(),
        }
    }
}
