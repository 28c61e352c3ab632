//! The pieces a whole int8 network is built from: reading its quantized tensors from a blob by
//! name ([`Reader`]), activation quantization points ([`Point`]), the fused
//! convolution unit ([`UnitQ`]), element-wise op parameters ([`AddQ`], [`MulQ`]), integer
//! attention over a region ([`region_attention_q`]), input quantization and the engine's error
//! type ([`Int8Error`]).
//!
//! # Naming scheme of an int8 blob (scheme 1, `int8-per-channel-tflite`)
//!
//! An int8 blob is derived from the `f32` parameter table of the same network (its header
//! carries the `f32` network's fingerprint). With `U` the prefix of a convolution *unit* (a
//! convolution and what is folded into it) and `W` the name of its `f32` weight:
//!
//! | tensor | dtype, shape | quantization | meaning |
//! |---|---|---|---|
//! | `W` = `<conv>.weight` | `i8 [CO, CI/G, K, K]` | per-channel packed (kind 3), axis 0 | BN-folded weights, symmetric, −127..=127 |
//! | `W.quant` | `i32 [4, CO]` | none | the packed record: rows `s_w[co]` (`f32` bits), Q31 `M[co] = s_in·s_w[co]/s_out`, shift, BN-folded bias at scale `s_in·s_w[co]` (present for every unit, also where the `f32` conv has no bias) |
//!
//! That is format 1.1 (what the exporter writes). A 1.0 int8 blob, which the engine still
//! runs, has per-channel weights with companions instead of the record: `W.scale` (`f32
//! [CO]`), `W.multiplier` and `W.shift` (`i32 [CO]`), and the bias as `<conv>.bias` (`i32
//! [CO]`). The rest is common to both:
//!
//! | tensor | dtype, shape | quantization | meaning |
//! |---|---|---|---|
//! | `act.<point>` | `i8 []` (rank 0) | per-tensor `(scale, zero_point)` | an activation quantization point; its one value is the zero point |
//! | `<point>.add` | `i32 [6]` | none | `out = a + b` ([`AddQ`]): multipliers/shifts of `a`, `b`, output (left shift 20) |
//! | `<point>.mul` | `i32 [2]` | none | `out = a · b` ([`MulQ`]): multiplier, shift of `s_a·s_b/s_out` |
//! | `<point>.lut` | `i8 [256]` | none | lookup table producing the point (sigmoid gates) |
//! | `<point>.requant` | `i32 [2]` | none | products of two activations (attention scores, `A·V`) |
//! | `<point>.exp` | `i32 [256]` | none | softmax exp table of a score point (Q20) |
//! | `<point>.rescale` | `i32 [n, 2]` | none | concatenation: one rescale per input, into the point |
//! | `<linear>.weight` (+ `.weight.quant`) | `i8 [DO, DI]` | per-channel, axis 0 | a linear layer, like a convolution; its output point is `act.<linear>` |
//! | `<ln>.multiplier`, `.shift`, `.beta` | `i32 [D]` | none | layer norm's affine part ([`super::norm`]); output point `act.<ln>` |
//! | `<ln>.eps` | `i32 [1]` | none | `round(ε / s_in² · 2^8)` |
//!
//! `<conv>` is the `f32` convolution's prefix (`backbone.stem.conv`, `cpm.agcb.0.nonlocal.q`),
//! BatchNorm tensors (`*.bn.*`) are folded away, learnable gates (`*.gamma`) are folded into
//! the multipliers of the add that uses them, and the points are named after what produces
//! them: a convolution unit's output point is the unit's prefix (`backbone.stem`,
//! `cpm.agcb.0.nonlocal.q`), other ops' points are `<block>.<op>` (`backbone.layer1.0.out`,
//! `cpm.agcb.0.nonlocal.score`). Each network module lists its points.
//!
//! # Conventions
//!
//! * Pooling, resampling and max-pool outputs keep their input's point; ReLU is fused into the
//!   producer's clamp (its output point is calibrated on the ReLU output).
//! * Sigmoid gates output at `(1/256, −128)` and softmax probabilities at `(1/256, −128)`
//!   (TFLite's fixed output quantization of `Logistic` and `Softmax`).
//! * The network input (an `f32` windowed slice) is quantized once, at the start, with the
//!   `act.input` point ([`quantize_input`]); from there to the logits every operation is an
//!   integer operation. The logits come out as `i8` with their point ([`OutputQuant`]).

// Errors carry the failing tensor's name (no allocation), which makes `Int8Error` larger
// than clippy's default; it is only built on the error path.
#![allow(clippy::result_large_err)]

use core::fmt;
use core::ops::Range;

use super::concat::Rescale;
use super::elementwise::{AddQuant, MulQuant, ADD_LEFT_SHIFT};
use super::linalg::dot_slices;
use super::quant::{Clamp, PerChannelQuant, Requant, TensorQuant};
use super::softmax::{ExpTable, OUTPUT_ZERO_POINT};
use crate::blob::{Blob, BlobError, Dtype, Quant, QuantScheme, TensorInfo};
use crate::error::Error;
use crate::nets::Network;
use crate::tensor::{conv_weight_ref, mat_ref, vec_ref, ConvWeight, Flat, Map, Mat};

/// Longest tensor name the int8 engine builds.
pub const QNAME_CAP: usize = 128;

/// A tensor name built at run time without allocation (`cpm.agcb.0` + `nonlocal.q`).
///
/// A name that would exceed [`QNAME_CAP`] is marked as overflowed; looking it up fails with
/// [`Int8Error::NameTooLong`] (no network's names come close).
#[derive(Clone, Copy)]
pub struct QName {
    bytes: [u8; QNAME_CAP],
    len: usize,
    overflow: bool,
}

impl QName {
    /// The empty name.
    pub const EMPTY: QName = QName {
        bytes: [0; QNAME_CAP],
        len: 0,
        overflow: false,
    };

    /// A name from text.
    pub fn new(s: &str) -> Self {
        Self::EMPTY.append(s)
    }

    fn append(mut self, s: &str) -> Self {
        for &b in s.as_bytes() {
            if self.len == QNAME_CAP {
                self.overflow = true;
                break;
            }
            self.bytes[self.len] = b;
            self.len += 1;
        }
        self
    }

    /// `self.segment` (just `segment` if `self` is empty).
    pub fn join(&self, segment: &str) -> Self {
        if self.len == 0 {
            self.append(segment)
        } else {
            self.append(".").append(segment)
        }
    }

    /// `self.i` (repeated sub-blocks: `agcb.0`).
    pub fn index(&self, i: usize) -> Self {
        let mut digits = [0u8; 20];
        let (mut n, mut k) = (i, 0);
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        let mut out = if self.len == 0 {
            *self
        } else {
            self.append(".")
        };
        while k > 0 {
            k -= 1;
            if out.len == QNAME_CAP {
                out.overflow = true;
                break;
            }
            out.bytes[out.len] = digits[k];
            out.len += 1;
        }
        out
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("")
    }

    /// Whether the name was cut at [`QNAME_CAP`].
    pub const fn overflowed(&self) -> bool {
        self.overflow
    }
}

impl fmt::Debug for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for QName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq for QName {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str() && self.overflow == other.overflow
    }
}
impl Eq for QName {}

/// Why an int8 forward pass could not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Int8Error {
    /// The blob as a whole is not for this engine: wrong scheme (`WrongScheme`), network,
    /// preset, fingerprint, or a buffer that is not 4-byte aligned.
    Blob(BlobError),
    /// A tensor the engine needs is missing (`UnknownTensor`), has the wrong dtype or shape,
    /// or lacks the quantization parameters it needs (`BadQuantParams`).
    Tensor {
        /// The tensor's name.
        name: QName,
        /// What is wrong with it.
        error: BlobError,
    },
    /// A name built by the engine exceeds [`QNAME_CAP`] (a network wiring bug, not input).
    NameTooLong,
    /// A run-time failure: arena too small or misaligned, bad input shape, non-finite input.
    Run(Error),
}

impl From<Error> for Int8Error {
    fn from(e: Error) -> Self {
        Int8Error::Run(e)
    }
}

impl From<BlobError> for Int8Error {
    fn from(e: BlobError) -> Self {
        Int8Error::Blob(e)
    }
}

impl fmt::Display for Int8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Int8Error::Blob(e) => write!(f, "int8 blob refused: {e}"),
            Int8Error::Tensor { name, error } => write!(f, "int8 tensor `{name}`: {error}"),
            Int8Error::NameTooLong => write!(f, "int8 tensor name longer than {QNAME_CAP} bytes"),
            Int8Error::Run(e) => write!(f, "int8 forward pass: {e}"),
        }
    }
}

impl core::error::Error for Int8Error {}

/// An activation quantization point as read from the blob: `real = scale · (q − zero_point)`.
///
/// Only `zero_point` enters the arithmetic; `scale` is carried for dequantizing results and
/// reports, `name` (`act.<point>`, borrowed from the blob) for probes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point<'a> {
    /// Real size of one step.
    pub scale: f32,
    /// The int8 value standing for real 0.
    pub zero_point: i8,
    /// The blob tensor's name (`act.<point>`).
    pub name: &'a str,
}

impl Point<'_> {
    /// The point without its name.
    pub const fn quant(&self) -> OutputQuant {
        OutputQuant {
            scale: self.scale,
            zero_point: self.zero_point,
        }
    }
}

/// The quantization of an int8 result handed back to the caller (the logits).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OutputQuant {
    /// Real size of one step.
    pub scale: f32,
    /// The int8 value standing for real 0.
    pub zero_point: i8,
}

impl OutputQuant {
    /// The real value of `q` (`scale · (q − zero_point)`): post-processing on the caller's
    /// side, outside the integer-only path.
    pub fn dequantize(&self, q: i8) -> f32 {
        self.scale * (f32::from(q) - f32::from(self.zero_point))
    }

    /// Whether `q` stands for a real value above 0 (a logit's mask decision) — an integer
    /// comparison with the zero point.
    pub const fn is_positive(&self, q: i8) -> bool {
        q > self.zero_point
    }
}

/// Sees the int8 values of named points during a forward pass (debugging, per-layer error
/// reports). A point may be reported in several consecutive chunks (attention rows); the
/// order of the values is documented per network.
pub trait Probe {
    /// Values of point `name` (the blob tensor's name, `act.<point>`).
    fn observe(&mut self, name: &str, point: OutputQuant, values: &[i8]);
}

/// A probe that ignores everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProbe;

impl Probe for NoProbe {
    fn observe(&mut self, _: &str, _: OutputQuant, _: &[i8]) {}
}

/// Reports a point's values to a probe.
pub fn probe(p: &mut dyn Probe, point: Point<'_>, values: &[i8]) {
    p.observe(point.name, point.quant(), values);
}

/// Reads the tensors of an int8 blob by name, checking dtype, shape and quantization.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    blob: Blob<'a>,
}

impl<'a> Reader<'a> {
    /// A reader for network `N`: the blob must be an int8 one (`WrongScheme`) for `N`
    /// (architecture, preset, fingerprint, 4-byte aligned buffer).
    pub fn new<N: Network>(blob: &Blob<'a>) -> Result<Self, Int8Error> {
        let scheme = blob.header().scheme;
        if scheme != QuantScheme::Int8PerChannel {
            return Err(Int8Error::Blob(BlobError::WrongScheme {
                expected: QuantScheme::Int8PerChannel.id(),
                found: scheme.id(),
            }));
        }
        blob.check_network::<N>()?;
        Ok(Self { blob: *blob })
    }

    /// The blob.
    pub const fn blob(&self) -> &Blob<'a> {
        &self.blob
    }

    fn require(
        &self,
        name: &QName,
        dtype: Dtype,
        dims: &[usize],
    ) -> Result<TensorInfo<'a>, Int8Error> {
        if name.overflowed() {
            return Err(Int8Error::NameTooLong);
        }
        self.blob
            .require(name.as_str(), dtype, dims)
            .map_err(|error| Int8Error::Tensor { name: *name, error })
    }

    fn at(name: &QName) -> impl Fn(BlobError) -> Int8Error + '_ {
        move |error| Int8Error::Tensor { name: *name, error }
    }

    /// Activation point `act.<name>`: a rank-0 `i8` tensor with per-tensor parameters.
    pub fn point(&self, name: &QName) -> Result<Point<'a>, Int8Error> {
        let full = QName::new("act").join(name.as_str());
        let t = self.require(&full, Dtype::I8, &[])?;
        match t.quant {
            Quant::PerTensor { scale, zero_point } => Ok(Point {
                scale,
                zero_point: i8::try_from(zero_point).map_err(|_| Int8Error::Tensor {
                    name: full,
                    error: BlobError::BadQuantParams { tensor: t.index },
                })?,
                name: t.name,
            }),
            _ => Err(Int8Error::Tensor {
                name: full,
                error: BlobError::BadQuantParams { tensor: t.index },
            }),
        }
    }

    /// An `i32` vector `name` of `N` values.
    pub fn i32s<const N: usize>(&self, name: &QName) -> Result<&'a [i32; N], Int8Error> {
        let t = self.require(name, Dtype::I32, &[N])?;
        let v = self
            .blob
            .tensor_i32(t.index as usize)
            .map_err(Self::at(name))?;
        vec_ref(v).ok_or(Int8Error::Tensor {
            name: *name,
            error: BlobError::BadShape { tensor: t.index },
        })
    }

    /// An `i32` matrix `name` of `R × C` values.
    pub fn i32_mat<const R: usize, const C: usize>(
        &self,
        name: &QName,
    ) -> Result<&'a Mat<R, C, i32>, Int8Error> {
        let t = self.require(name, Dtype::I32, &[R, C])?;
        let v = self
            .blob
            .tensor_i32(t.index as usize)
            .map_err(Self::at(name))?;
        mat_ref(v).ok_or(Int8Error::Tensor {
            name: *name,
            error: BlobError::BadShape { tensor: t.index },
        })
    }

    /// A 256-entry `i8` lookup table `name`.
    pub fn lut(&self, name: &QName) -> Result<&'a [i8; 256], Int8Error> {
        let t = self.require(name, Dtype::I8, &[256])?;
        let v = self
            .blob
            .tensor_i8(t.index as usize)
            .map_err(Self::at(name))?;
        vec_ref(v).ok_or(Int8Error::Tensor {
            name: *name,
            error: BlobError::BadShape { tensor: t.index },
        })
    }

    /// The convolution `<conv>.weight` (per-channel `i8`) with its bias and requantization:
    /// the packed record `<conv>.weight.quant` (1.1), or the multiplier and shift companions
    /// and `<conv>.bias` (`i32`, 1.0).
    pub fn conv<const CO: usize, const CIG: usize, const K: usize>(
        &self,
        conv: &QName,
    ) -> Result<ConvQ<'a, CO, CIG, K>, Int8Error> {
        let wname = conv.join("weight");
        let w = self.require(&wname, Dtype::I8, &[CO, CIG, K, K])?;
        let (bias, multiplier, shift) = self.requant::<CO>(conv, &wname, &w)?;
        let weight = conv_weight_ref(
            self.blob
                .tensor_i8(w.index as usize)
                .map_err(Self::at(&wname))?,
        )
        .ok_or(Int8Error::Tensor {
            name: wname,
            error: BlobError::BadShape { tensor: w.index },
        })?;
        Ok(ConvQ {
            weight,
            bias,
            multiplier,
            shift,
        })
    }
}

impl<'a> Reader<'a> {
    /// The bias and the per-channel requantization (multipliers, shifts) of layer `layer`
    /// whose weight `w` is named `wname`: from the weight's packed record (format 1.1, quant
    /// kind 3), or from its multiplier/shift companions and the `<layer>.bias` tensor (1.0,
    /// kind 2). Both are the same integers in place; only the layout differs.
    #[allow(clippy::type_complexity)]
    fn requant<const CO: usize>(
        &self,
        layer: &QName,
        wname: &QName,
        w: &TensorInfo<'a>,
    ) -> Result<(&'a [i32; CO], &'a [i32; CO], &'a [i32; CO]), Int8Error> {
        let bad = Int8Error::Tensor {
            name: *wname,
            error: BlobError::BadQuantParams { tensor: w.index },
        };
        let at = Self::at(wname);
        let (bias, multiplier, shift): (&'a [i32], &'a [i32], &'a [i32]) = match w.quant {
            Quant::PerChannel {
                axis: 0,
                multiplier: Some(m),
                shift: Some(s),
                ..
            } => (
                self.i32s::<CO>(&layer.join("bias"))?.as_slice(),
                self.blob.tensor_i32(m as usize).map_err(&at)?,
                self.blob.tensor_i32(s as usize).map_err(&at)?,
            ),
            Quant::PerChannelPacked { axis: 0, record } => {
                let rows = self.blob.packed_rows(record).map_err(&at)?;
                (rows.bias, rows.multiplier, rows.shift)
            }
            _ => return Err(bad),
        };
        match (vec_ref(bias), vec_ref(multiplier), vec_ref(shift)) {
            (Some(b), Some(m), Some(s)) => Ok((b, m, s)),
            _ => Err(bad),
        }
    }

    /// The linear layer `<prefix>.weight` (`i8 [DO, DI]`, per-channel with a packed record or
    /// with multiplier and shift companions and `<prefix>.bias`, `i32 [DO]`) and its output
    /// point `act.<prefix>`.
    pub fn linear<const DO: usize, const DI: usize>(
        &self,
        prefix: &QName,
    ) -> Result<LinearQ<'a, DO, DI>, Int8Error> {
        let wname = prefix.join("weight");
        let w = self.require(&wname, Dtype::I8, &[DO, DI])?;
        let (bias, multiplier, shift) = self.requant::<DO>(prefix, &wname, &w)?;
        let weight = mat_ref(
            self.blob
                .tensor_i8(w.index as usize)
                .map_err(Self::at(&wname))?,
        )
        .ok_or(Int8Error::Tensor {
            name: wname,
            error: BlobError::BadShape { tensor: w.index },
        })?;
        Ok(LinearQ {
            weight,
            bias,
            multiplier,
            shift,
            out: self.point(prefix)?,
        })
    }

    /// The layer norm `<prefix>` over `D` features: `<prefix>.multiplier`, `.shift`, `.beta`
    /// (`i32 [D]`), `.eps` (`i32 [1]`) and its output point `act.<prefix>`.
    pub fn layer_norm<const D: usize>(
        &self,
        prefix: &QName,
    ) -> Result<LayerNormQ<'a, D>, Int8Error> {
        Ok(LayerNormQ {
            multiplier: self.i32s(&prefix.join("multiplier"))?,
            shift: self.i32s(&prefix.join("shift"))?,
            beta: self.i32s(&prefix.join("beta"))?,
            eps: self.i32s::<1>(&prefix.join("eps"))?[0],
            out: self.point(prefix)?,
        })
    }
}

/// An int8 linear layer over tokens (TFLite's per-channel `FullyConnected`).
#[derive(Debug, Clone, Copy)]
pub struct LinearQ<'a, const DO: usize, const DI: usize> {
    /// `[DO][DI]`, symmetric per output feature.
    pub weight: &'a Mat<DO, DI, i8>,
    /// At scale `s_in · s_w[o]`.
    pub bias: &'a [i32; DO],
    /// Q31 mantissas of `s_in · s_w[o] / s_out`.
    pub multiplier: &'a [i32; DO],
    /// Their shifts.
    pub shift: &'a [i32; DO],
    /// Output point.
    pub out: Point<'a>,
}

impl<'a, const DO: usize, const DI: usize> LinearQ<'a, DO, DI> {
    /// The output stage for an input at `input_zp`.
    pub fn quant(&self, input_zp: i8) -> PerChannelQuant<'a, DO> {
        PerChannelQuant {
            input_zp,
            output_zp: self.out.zero_point,
            multiplier: self.multiplier,
            shift: self.shift,
            bias: Some(self.bias),
            clamp: Clamp::NONE,
        }
    }

    /// `y = x·wᵀ + b` for `N` tokens (no probe: callers that run it token by token report
    /// the whole result).
    pub fn run<const N: usize>(
        &self,
        x: &crate::tensor::Tokens<N, DI, i8>,
        xp: Point<'_>,
        y: &mut crate::tensor::Tokens<N, DO, i8>,
    ) -> Point<'a> {
        super::linalg::linear(x, self.weight, &self.quant(xp.zero_point), y);
        self.out
    }
}

/// An int8 layer norm over `D` features ([`super::norm::layer_norm`]).
#[derive(Debug, Clone, Copy)]
pub struct LayerNormQ<'a, const D: usize> {
    /// Q31 mantissas of `γ_i / (s_out · 2^8)`.
    pub multiplier: &'a [i32; D],
    /// Their shifts.
    pub shift: &'a [i32; D],
    /// `round(β_i · 2^12 / s_out)`.
    pub beta: &'a [i32; D],
    /// `round(ε / s_in² · 2^8)`.
    pub eps: i32,
    /// Output point.
    pub out: Point<'a>,
}

impl<'a, const D: usize> LayerNormQ<'a, D> {
    /// Normalizes `N` tokens in place (they move from `xp` to the output point), probed.
    pub fn run<const N: usize>(
        &self,
        x: &mut crate::tensor::Tokens<N, D, i8>,
        xp: Point<'_>,
        pr: &mut dyn Probe,
    ) -> Point<'a> {
        let q = super::norm::LayerNormQuant {
            input_zp: xp.zero_point,
            output_zp: self.out.zero_point,
            eps: self.eps,
            gamma_multiplier: self.multiplier,
            gamma_shift: self.shift,
            beta: self.beta,
        };
        super::norm::layer_norm(x, &q);
        probe(pr, self.out, x.flat());
        self.out
    }
}

/// A BN-folded int8 convolution: per-channel weights, `i32` bias, requantization arrays.
#[derive(Debug, Clone, Copy)]
pub struct ConvQ<'a, const CO: usize, const CIG: usize, const K: usize> {
    /// `[CO][CIG][K][K]`, symmetric per output channel.
    pub weight: &'a ConvWeight<CO, CIG, K, i8>,
    /// At scale `s_in · s_w[co]`.
    pub bias: &'a [i32; CO],
    /// Q31 mantissas of `s_in · s_w[co] / s_out`.
    pub multiplier: &'a [i32; CO],
    /// Their shifts.
    pub shift: &'a [i32; CO],
}

impl<'a, const CO: usize, const CIG: usize, const K: usize> ConvQ<'a, CO, CIG, K> {
    /// The output stage for an input at `input_zp` and output at `out`.
    pub fn quant(&self, input_zp: i8, out: Point<'_>, relu: bool) -> PerChannelQuant<'a, CO> {
        PerChannelQuant {
            input_zp,
            output_zp: out.zero_point,
            multiplier: self.multiplier,
            shift: self.shift,
            bias: Some(self.bias),
            clamp: if relu {
                Clamp::relu(out.zero_point)
            } else {
                Clamp::NONE
            },
        }
    }
}

/// A convolution unit: folded convolution, its output point, whether ReLU is fused.
#[derive(Debug, Clone, Copy)]
pub struct UnitQ<'a, const CO: usize, const CIG: usize, const K: usize> {
    /// The convolution.
    pub conv: ConvQ<'a, CO, CIG, K>,
    /// Its output point.
    pub out: Point<'a>,
    /// Fused ReLU.
    pub relu: bool,
}

impl<'a, const CO: usize, const CIG: usize, const K: usize> UnitQ<'a, CO, CIG, K> {
    /// Reads the convolution `<conv>.*` and the point `act.<point>`.
    pub fn read(
        r: &Reader<'a>,
        conv: &QName,
        point: &QName,
        relu: bool,
    ) -> Result<Self, Int8Error> {
        Ok(Self {
            conv: r.conv(conv)?,
            out: r.point(point)?,
            relu,
        })
    }

    /// Reads a unit whose point is named after its prefix `U` and whose convolution is
    /// `U.conv` (a convolution followed by BatchNorm: `ConvBnParams`/`ConvBiasBnParams`).
    pub fn read_bn(r: &Reader<'a>, unit: &QName, relu: bool) -> Result<Self, Int8Error> {
        Self::read(r, &unit.join("conv"), unit, relu)
    }

    /// Reads a unit without BatchNorm: convolution and point share the prefix.
    pub fn read_plain(r: &Reader<'a>, conv: &QName, relu: bool) -> Result<Self, Int8Error> {
        Self::read(r, conv, conv, relu)
    }

    /// `y = clamp(requant(conv(x − zp) + bias))` with stride `S`, padding `P`, dilation `D`;
    /// returns (and probes) the output point.
    #[allow(clippy::too_many_arguments)]
    pub fn run<
        const S: usize,
        const P: usize,
        const D: usize,
        const H: usize,
        const W: usize,
        const HO: usize,
        const WO: usize,
    >(
        &self,
        x: &Map<CIG, H, W, i8>,
        xp: Point<'_>,
        y: &mut Map<CO, HO, WO, i8>,
        pr: &mut dyn Probe,
    ) -> Point<'a> {
        let q = self.conv.quant(xp.zero_point, self.out, self.relu);
        super::conv::Conv2dQ::<S, P, D, 1>::forward(x, self.conv.weight, &q, y);
        probe(pr, self.out, y.flat());
        self.out
    }
}

/// Parameters of `out = a + b` (TFLite's int8 `Add`): `<point>.add` = `[a multiplier, a shift,
/// b multiplier, b shift, output multiplier, output shift]` with left shift 20, zero points
/// from the points. Learned gates (`γ·a + b`) are folded into the `a` multiplier.
#[derive(Debug, Clone, Copy)]
pub struct AddQ<'a> {
    /// The six integers.
    pub params: &'a [i32; 6],
    /// Output point.
    pub out: Point<'a>,
    /// Fused ReLU.
    pub relu: bool,
}

impl<'a> AddQ<'a> {
    /// Reads `act.<point>` and `<point>.add`.
    pub fn read(r: &Reader<'a>, point: &QName, relu: bool) -> Result<Self, Int8Error> {
        Ok(Self {
            params: r.i32s(&point.join("add"))?,
            out: r.point(point)?,
            relu,
        })
    }

    /// The kernel parameters for inputs at points `a` and `b`.
    pub fn quant(&self, a: Point<'_>, b: Point<'_>) -> AddQuant {
        let p = self.params;
        AddQuant {
            a_zp: a.zero_point,
            b_zp: b.zero_point,
            output_zp: self.out.zero_point,
            left_shift: ADD_LEFT_SHIFT,
            a: Requant::new(p[0], p[1]),
            b: Requant::new(p[2], p[3]),
            output: Requant::new(p[4], p[5]),
            clamp: if self.relu {
                Clamp::relu(self.out.zero_point)
            } else {
                Clamp::NONE
            },
        }
    }
}

/// Parameters of `out = a · b` (TFLite's int8 `Mul`): `<point>.mul` = `[multiplier, shift]`
/// of `s_a · s_b / s_out`.
#[derive(Debug, Clone, Copy)]
pub struct MulQ<'a> {
    /// Multiplier and shift.
    pub params: &'a [i32; 2],
    /// Output point.
    pub out: Point<'a>,
}

impl<'a> MulQ<'a> {
    /// Reads `act.<point>` and `<point>.mul`.
    pub fn read(r: &Reader<'a>, point: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            params: r.i32s(&point.join("mul"))?,
            out: r.point(point)?,
        })
    }

    /// The kernel parameters for inputs at points `a` and `b`.
    pub fn quant(&self, a: Point<'_>, b: Point<'_>) -> MulQuant {
        MulQuant {
            a_zp: a.zero_point,
            b_zp: b.zero_point,
            output_zp: self.out.zero_point,
            requant: Requant::new(self.params[0], self.params[1]),
            clamp: Clamp::NONE,
        }
    }
}

/// A point produced by a lookup table (`act.<point>`, `<point>.lut`).
#[derive(Debug, Clone, Copy)]
pub struct LutQ<'a> {
    /// The table.
    pub table: &'a [i8; 256],
    /// Output point.
    pub out: Point<'a>,
}

impl<'a> LutQ<'a> {
    /// Reads `act.<point>` and `<point>.lut`.
    pub fn read(r: &Reader<'a>, point: &QName) -> Result<Self, Int8Error> {
        Ok(Self {
            table: r.lut(&point.join("lut"))?,
            out: r.point(point)?,
        })
    }

    /// Applies the table in place; returns (and probes) the output point.
    pub fn apply(&self, x: &mut impl Flat<Elem = i8>, pr: &mut dyn Probe) -> Point<'a> {
        super::lut::apply_lut(x, self.table);
        probe(pr, self.out, x.flat());
        self.out
    }
}

/// Rescale of an input at `from` into point `to` with stored `[multiplier, shift]`.
pub fn rescale(from: Point<'_>, to: Point<'_>, params: &[i32; 2]) -> Rescale {
    Rescale {
        input_zp: from.zero_point,
        output_zp: to.zero_point,
        requant: Requant::new(params[0], params[1]),
    }
}

/// The attention parameters of a non-local block `N`: scores `act.N.score` with
/// `N.score.requant` (`s_q·s_k/s_score`, any temperature folded in) and `N.score.exp` (the
/// softmax table for `s_score`), and the attention output `act.N.attn` with `N.attn.requant`
/// (`s_v · 2^−8 / s_attn`, probabilities at `(1/256, −128)`).
#[derive(Debug, Clone, Copy)]
pub struct AttentionQ<'a> {
    /// Score point.
    pub score: Point<'a>,
    /// Score requantization.
    pub score_requant: &'a [i32; 2],
    /// Softmax exp table.
    pub exp: &'a [i32; 256],
    /// Attention output point.
    pub attn: Point<'a>,
    /// `A·V` requantization.
    pub attn_requant: &'a [i32; 2],
}

impl<'a> AttentionQ<'a> {
    /// Reads the attention tensors of block `prefix`.
    pub fn read(r: &Reader<'a>, prefix: &QName) -> Result<Self, Int8Error> {
        let (s, a) = (prefix.join("score"), prefix.join("attn"));
        Ok(Self {
            score: r.point(&s)?,
            score_requant: r.i32s(&s.join("requant"))?,
            exp: r.i32s(&s.join("exp"))?,
            attn: r.point(&a)?,
            attn_requant: r.i32s(&a.join("requant"))?,
        })
    }
}

/// Query, key and value planes of a whole map in int8: queries and keys token-major
/// (`[h·w][cr]`, one contiguous vector per pixel), values channel-major (`[c][h·w]`).
#[derive(Debug, Clone, Copy)]
pub struct QkvQ<'s> {
    /// Queries, token-major.
    pub q: &'s [i8],
    /// Keys, token-major.
    pub k: &'s [i8],
    /// Values, channel-major.
    pub v: &'s [i8],
    /// Zero points of q, k, v.
    pub zp: [i8; 3],
    /// Query/key channels.
    pub cr: usize,
    /// Value channels.
    pub c: usize,
    /// Map height.
    pub h: usize,
    /// Map width.
    pub w: usize,
}

/// A 1×1 convolution written token-major (`y[n][co]`): the query/key projections, whose
/// vectors the attention reads per pixel.
pub fn conv1x1_tokens<const CO: usize, const CI: usize, const H: usize, const W: usize>(
    x: &Map<CI, H, W, i8>,
    w: &ConvWeight<CO, CI, 1, i8>,
    q: &PerChannelQuant<'_, CO>,
    y: &mut [i8],
) {
    const {
        assert!(
            CI <= super::quant::MAX_WEIGHT_DOT_TERMS,
            "int8 1x1 convolution too wide for an exact i32 accumulator"
        )
    };
    let zp = i32::from(q.input_zp);
    let xf = x.flat();
    let plane = H * W;
    for (n, out) in y.chunks_exact_mut(CO).take(plane).enumerate() {
        for (co, o) in out.iter_mut().enumerate() {
            let mut acc = 0i32;
            for (ci, wv) in w[co].iter().enumerate() {
                acc += i32::from(wv[0][0]) * (i32::from(xf[ci * plane + n]) - zp);
            }
            *o = q.output(co, acc);
        }
    }
}

/// Largest region whose attention-weighted sum is exact in `i32`: `⌊(2³¹ − 1) / 255²⌋` terms.
const EXACT_I32_TERMS: usize = (i32::MAX / (255 * 255)) as usize;

/// Integer non-local attention over a rectangular region, one query at a time (the int8 twin
/// of the f32 `region_attention`): for each pixel `n` of the region, scores
/// `requant(Σ_j (q[n][j] − zq)(k[m][j] − zk))` over the region's pixels `m` (row-major) into
/// `scores`, [`super::softmax::softmax_in_place`] with `exp` (through an [`ExpTable`]), then for each channel `c`
/// `requant(Σ_m (v[c][m] − zv)(p_m + 128))`, handed to `emit(c, n, value)`.
///
/// Each query's scores (`region` values) are probed at the score point; the caller sees the
/// attention output through `emit`. `scores` must hold the region's pixels, else
/// [`Error::ArenaTooSmall`] is returned before anything is emitted.
#[allow(clippy::too_many_arguments)]
pub fn region_attention_q(
    t: &QkvQ<'_>,
    a: &AttentionQ<'_>,
    rows: Range<usize>,
    cols: Range<usize>,
    scores: &mut [i8],
    pr: &mut dyn Probe,
    mut emit: impl FnMut(usize, usize, i8),
) -> Result<(), Error> {
    let plane = t.h * t.w;
    let width = cols.len();
    let n_region = rows.len() * width;
    if n_region == 0 {
        // No queries (and no keys): nothing to emit.
        return Ok(());
    }
    let available = scores.len();
    let scores = scores.get_mut(..n_region).ok_or(Error::ArenaTooSmall {
        needed: n_region,
        available,
    })?;
    let [zq, zk, zv] = t.zp;
    let score_q = TensorQuant {
        a_zp: zq,
        b_zp: zk,
        output_zp: a.score.zero_point,
        requant: Requant::new(a.score_requant[0], a.score_requant[1]),
        clamp: Clamp::NONE,
    };
    let attn_q = TensorQuant {
        a_zp: zv,
        b_zp: OUTPUT_ZERO_POINT,
        output_zp: a.attn.zero_point,
        requant: Requant::new(a.attn_requant[0], a.attn_requant[1]),
        clamp: Clamp::NONE,
    };
    let cr = t.cr;
    let exp = ExpTable::new(a.exp);
    for qy in rows.clone() {
        for qx in cols.clone() {
            let n = qy * t.w + qx;
            let qv = t.q.get(n * cr..(n + 1) * cr).ok_or(Error::PlanOverlap)?;
            for (ry, srow) in rows.clone().zip(scores.chunks_exact_mut(width)) {
                for (m, s) in (ry * t.w + cols.start..).zip(srow.iter_mut()) {
                    let kv = t.k.get(m * cr..(m + 1) * cr).ok_or(Error::PlanOverlap)?;
                    *s = score_q.output(dot_slices(qv, zq, kv, zk));
                }
            }
            probe(pr, a.score, scores);
            exp.softmax_in_place(scores);
            for c in 0..t.c {
                let vc =
                    t.v.get(c * plane..(c + 1) * plane)
                        .ok_or(Error::PlanOverlap)?;
                // Each term is at most 255·255 in magnitude: a region of up to
                // `EXACT_I32_TERMS` keys sums exactly in i32 (a vectorisable loop); larger
                // regions in i64, saturated to i32 at the end as before.
                let term = |v: &i8, p: &i8| (i32::from(*v) - i32::from(zv)) * (i32::from(*p) + 128);
                let acc = if n_region <= EXACT_I32_TERMS {
                    let mut acc = 0i32;
                    for (ry, prow) in rows.clone().zip(scores.chunks_exact(width)) {
                        let vrow = &vc[ry * t.w + cols.start..ry * t.w + cols.end];
                        for (v, p) in vrow.iter().zip(prow) {
                            acc += term(v, p);
                        }
                    }
                    acc
                } else {
                    let mut acc = 0i64;
                    for (ry, prow) in rows.clone().zip(scores.chunks_exact(width)) {
                        let vrow = &vc[ry * t.w + cols.start..ry * t.w + cols.end];
                        for (v, p) in vrow.iter().zip(prow) {
                            acc += i64::from(term(v, p));
                        }
                    }
                    acc.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
                };
                emit(c, n, attn_q.output(acc));
            }
        }
    }
    Ok(())
}

/// Quantizes the network input once, at the start of an int8 forward pass:
/// `q = round(x / scale) + zero_point`, rounded half away from zero and saturated.
///
/// This is the only floating-point step of the int8 path. It is still bit-identical on every
/// platform: IEEE-754 division is correctly rounded, and `libm::roundf` is exact. A
/// non-finite value is [`Error::NonFiniteInput`] (checked before anything is written).
pub fn quantize_input(x: &[f32], p: Point<'_>, y: &mut [i8]) -> Result<(), Error> {
    if !x.iter().all(|v| v.is_finite()) {
        return Err(Error::NonFiniteInput);
    }
    // A corrupt point can only carry a finite positive scale (the blob reader checks it).
    let zp = f32::from(p.zero_point);
    for (o, v) in y.iter_mut().zip(x) {
        let q = libm::roundf(*v / p.scale) + zp;
        // `as` saturates, and the range is clamped first anyway.
        *o = q.clamp(-128.0, 127.0) as i8;
    }
    Ok(())
}

/// Disjoint byte regions of a compile-time plan in a byte arena (the int8 twin of
/// [`crate::plan::Plan::regions`]), viewed as `i8`.
pub fn regions_i8<'a, const N: usize, const K: usize>(
    plan: &crate::plan::Plan<N>,
    arena: &'a mut [u8],
    ids: [usize; K],
) -> Result<[&'a mut [u8]; K], Error> {
    let available = arena.len();
    let ranges = ids.map(|id| plan.byte_range(id));
    arena.get_disjoint_mut(ranges).map_err(|e| match e {
        core::slice::GetDisjointMutError::IndexOutOfBounds => Error::ArenaTooSmall {
            needed: plan.total,
            available,
        },
        core::slice::GetDisjointMutError::OverlappingIndices => Error::PlanOverlap,
    })
}

/// A typed int8 map view of one planned byte region.
pub fn view_i8<const C: usize, const H: usize, const W: usize>(
    region: &mut [u8],
) -> Result<&mut Map<C, H, W, i8>, Error> {
    crate::tensor::map_mut(bytemuck::cast_slice_mut::<u8, i8>(region)).ok_or(Error::PlanOverlap)
}

/// A scratch over one planned byte region (4-byte aligned: plan offsets are multiples of 64
/// and the arena's start is checked).
pub fn scratch_of(region: &mut [u8]) -> Result<crate::arena::Scratch<'_>, Error> {
    crate::arena::Scratch::from_bytes(region)
}
