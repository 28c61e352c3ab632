//! Integer-only int8 kernels (SPEC §3, TFLite-style quantization).
//!
//! # Scheme
//!
//! A real tensor value is `real = scale · (q − zero_point)` with `q: i8`:
//!
//! * **weights**: symmetric per output channel, zero point 0, range `−127..=127`;
//! * **activations**: asymmetric per tensor (any scale, zero point in `−128..=127`);
//! * **bias**: `i32` at scale `s_in · s_w[co]` (BatchNorm folded in before quantizing);
//! * **requantization**: a real factor as a Q31 multiplier and a power-of-two shift
//!   ([`Requant`]), applied exactly as TFLite's / CMSIS-NN's `MultiplyByQuantizedMultiplier`
//!   (gemmlowp's `SaturatingRoundingDoublingHighMul` then `RoundingDivideByPOT`, which rounds
//!   half away from zero) — see [`quant`];
//! * **non-linearities** through 256-entry tables ([`lut`]); softmax and layer norm in
//!   integer arithmetic ([`mod@softmax`], [`norm`]).
//!
//! Every kernel here uses only integer arithmetic, in a fixed order, with overflow ruled out at
//! compile time (reduction lengths against [`quant::MAX_WEIGHT_DOT_TERMS`] /
//! [`quant::MAX_ACT_DOT_TERMS`]) or saturated: the same input gives the same bits on every
//! platform, in debug and release. Run-time parameters (multipliers, shifts, clamps, tables
//! from a blob) are never trusted to be in range: out-of-range values give a defined result,
//! never a panic. The only floating point in this module is the clearly marked build-time
//! section of [`quant`] (multipliers and tables computed on the host).
//!
//! # Kernels and their accuracy against "dequantize → f64 op → quantize"
//!
//! | kernel | TFLite counterpart | error |
//! |---|---|---|
//! | [`Conv2dQ`], [`DepthwiseConv2dQ`] | `ConvPerChannel`, `DepthwiseConvPerChannel` | ≤ 1 LSB |
//! | [`linalg::linear`], [`linalg::matmul`] (+ `_bt`, `_at`) | `FullyConnected`, `BatchMatMul` | ≤ 1 LSB |
//! | [`elementwise::add`] (+ broadcasts) | `Add` (left shift 20) | ≤ 1 LSB |
//! | [`elementwise::mul`] (+ broadcasts) | `Mul` | ≤ 1 LSB |
//! | [`concat::concat2`], [`concat::requantize`] | `Concatenation` + `Requantize` | ≤ 1 LSB |
//! | [`pool`] (global / adaptive avg, max) | `Mean`, `AveragePool`, `MaxPool` | exact |
//! | [`resize::resize_bilinear`] | `ResizeBilinear` (integer coordinates) | ≤ 1 LSB, exact for ×2ⁿ |
//! | [`lut::apply_lut`] (sigmoid, GELU, exp, …) | `LUTPopulate` / `LUTLookup` | exact |
//! | [`softmax()`] | int8 `Softmax` (output 1/256, −128) | ≤ 1 LSB |
//! | [`norm::layer_norm`] | — (own integer scheme) | ≤ 1 LSB |
//!
//! "≤ 1 LSB" kernels compute an exact (or nearly exact) integer result and requantize it
//! once; they equal the reference except near rounding ties, where TFLite's double rounding
//! or the fixed-point weights can step across (measured rates in `tests/tests/int8_*.rs`).

pub mod concat;
pub mod conv;
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    not(all(target_feature = "avx512vnni", target_feature = "avx512vl"))
))]
mod conv_avx2;
mod conv_fast;
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod conv_neon;
// The fast convolution's tile scheme in this build: the AVX-512 VNNI quads where the build
// enables them, else the `i16` pairs (AVX2, NEON or portable micro-kernel).
#[cfg(not(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512vl"
)))]
#[path = "conv_pairs.rs"]
mod conv_tiles;
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512vl"
))]
#[path = "conv_vnni.rs"]
mod conv_tiles;
pub mod elementwise;
pub mod graph;
pub mod linalg;
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512vl"
))]
mod linear_vnni;
pub mod lut;
pub mod norm;
pub mod pool;
pub mod quant;
#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
mod requant_avx2;
pub mod resize;
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx512vnni",
    target_feature = "avx512vl"
))]
mod scores_vnni;
pub mod softmax;

pub use concat::{concat2, requantize, requantize_in_place, Rescale};
pub use conv::{Conv2dQ, DepthwiseConv2dQ};
pub use elementwise::{AddQuant, MulQuant};
pub use lut::{apply_lut, apply_lut_into};
pub use norm::{isqrt_u64, layer_norm, LayerNormQuant};
pub use quant::{
    build_exp_table, build_lut, multiply_by_quantized_multiplier, quantize_multiplier, Clamp,
    PerChannelQuant, QuantParams, Requant, TensorQuant,
};
pub use resize::resize_bilinear;
pub use softmax::{softmax, softmax_in_place, ExpTable};
