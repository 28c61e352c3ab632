//! f32 operators with shapes in their signatures.
//!
//! Every op takes its inputs and its output as typed tensors; the shape relation between them
//! (e.g. a convolution's `HO == (H + 2P − D(K−1) − 1)/S + 1`) is asserted in an inline `const`
//! block, so a wrong wiring is a build error with a readable message, not a run-time surprise.
//! Ops write their whole output and never allocate.
//!
//! Transcendental functions come from `libm` (never from `std` or `num_traits::Float`, whose
//! implementation changes when some other crate in a build turns on `std`), so the same build
//! gives the same bits everywhere.

pub mod activation;
pub(crate) mod attention_tiles;
pub mod concat;
pub mod conv;
pub(crate) mod conv_fast;
#[cfg(all(
    target_arch = "x86_64",
    target_feature = "avx2",
    target_feature = "fma"
))]
mod conv_fma;
pub(crate) mod conv_geometry;
pub mod elementwise;
mod erf;
mod lane8;
pub mod linalg;
pub mod norm;
pub mod pool;
pub mod resize;
pub mod softmax;
pub mod tokens;

pub use activation::{gelu, relu, sigmoid};
pub use concat::concat2;
pub use conv::{conv_out, Conv2d, DepthwiseConv2d};
pub use elementwise::{add, add_channel, add_into, add_pixel, mul, mul_channel, mul_pixel, scale};
pub use linalg::{linear, matmul, matmul_at, matmul_bt};
pub use norm::{batch_norm, fold_batch_norm, layer_norm, BatchNorm, BN_EPS, LN_EPS};
pub use pool::{adaptive_avg_pool, adaptive_max_pool, global_avg_pool, pool_bin};
pub use resize::{resize_bilinear, AlignCorners};
pub use softmax::{softmax, softmax_in_place, Axis};
pub use tokens::{map_to_tokens, tokens_to_map};
