//! Trainable building blocks on dfdx 0.13 (stable Rust), generic over the dfdx device.
//!
//! dfdx's own `conv2d`, `convtrans2d` and `pool2d` are nightly-only and its `nn` modules need
//! compile-time shapes, so the layers here are built from the stable, differentiable tensor ops
//! every dfdx device implements (matmul, gather, reshape/permute, broadcast, reductions,
//! element-wise maths). The same code therefore trains on [`dfdx::tensor::Cpu`] and, with
//! `--features cuda`, on dfdx's `Cuda` device; gradient checks run it in `f64` on the CPU.
//!
//! Design:
//! * **Activations** are `N × C × H × W` tensors with run-time (`usize`) dimensions ([`Map`]);
//!   token sequences are `N × L × D` ([`Tokens`]). Shapes come from the core presets.
//! * **Parameters** live in one [`ParamStore`], addressed by the dotted names, shapes and roles
//!   core publishes (`Net::PARAMS`). A layer is a small descriptor (its configuration and the
//!   [`ParamId`]s it registered); its `forward` reads the tensors from the store. So a model is
//!   exported/imported in core's table order by name, optimizers walk the named trainable
//!   tensors, and batch-norm running statistics are buffers the store updates in training mode.
//! * **Tapes** (dfdx's autograd): the input carries the tape; parameters are plain tensors
//!   that join it when combined with it (a parameter on the *left* of a matmul is `retaped`).
//!   A tensor used by several branches is passed as `x.retaped::<T>()` to all but one, and
//!   every branch must flow into the loss, since the recorded ops live in whichever copy
//!   holds them. Never use dfdx's `slice` on a tensor with other consumers — see [`layout`].
//! * **Errors are values**: every shape or configuration a caller can get wrong is checked
//!   before any dfdx op (whose own checks panic) sees it, and device failures become
//!   [`NnError::Device`].
//!
//! CPU speed (2-core machine, release, `cargo test --release -p hepaseg --test nn_bench --
//! --ignored --nocapture`): a 16→16 3×3 convolution on 8 × 64 × 64 takes ≈ 7 ms forward and
//! ≈ 29–49 ms forward + backward. The spread is glibc: gradient and im2col buffers are large
//! enough to be `mmap`ed and unmapped each step, and re-faulting them costs as much as the
//! GEMMs. Running with `MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=17179869184`
//! (or a caching global allocator in the binary) gives the lower figure.
//!
//! Module map: [`conv`] (+ [`im2col`]) convolution, [`batch_norm`], [`layer_norm`], [`linear`],
//! [`gelu`] (exact GELU; works around a wrong dfdx derivative),
//! [`attention`] (PVT-v2 spatial-reduction attention), [`non_local`] (AGPCNet non-local block),
//! [`resize`] (bilinear, both `align_corners`), [`pool`] (adaptive/global pooling), [`dropout`],
//! [`layout`] (map ↔ tokens, gradient-safe crops/splits/concat), [`store`] + [`init`] +
//! [`cache`] (parameters, their initialisation, cached index/weight tensors), [`backend`]
//! (the device trait: a custom CPU im2col kernel, dfdx's gather on CUDA).

pub mod attention;
pub mod backend;
pub mod batch_norm;
pub mod cache;
pub mod conv;
pub mod dropout;
pub mod error;
pub mod gelu;
pub mod im2col;
pub mod init;
pub mod layer_norm;
pub mod layout;
pub mod linear;
pub mod non_local;
pub mod pool;
pub mod resize;
pub mod store;

pub use attention::{Sra, SraConfig};
pub use backend::Backend;
pub use batch_norm::BatchNorm2d;
pub use conv::{Conv2d, ConvConfig};
pub use dropout::Dropout;
pub use error::NnError;
pub use gelu::gelu;
pub use init::Init;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use non_local::NonLocal;
pub use pool::{adaptive_avg_pool, adaptive_max_pool, global_avg_pool};
pub use resize::{resize_bilinear, AlignCorners};
pub use store::{Mode, Param, ParamGrads, ParamId, ParamStore};

use dfdx::shapes::Dtype;
use dfdx::tensor::Tensor;

/// `N × C × H × W` with run-time dimensions.
pub type Shape4 = (usize, usize, usize, usize);
/// `N × L × D` with run-time dimensions (token sequences).
pub type Shape3 = (usize, usize, usize);
/// A batch of feature maps, `N × C × H × W`.
pub type Map<E, D, T = dfdx::tensor::NoneTape> = Tensor<Shape4, E, D, T>;
/// A batch of token sequences, `N × L × D`.
pub type Tokens<E, D, T = dfdx::tensor::NoneTape> = Tensor<Shape3, E, D, T>;
/// A flat parameter or buffer.
pub type Flat<E, D, T = dfdx::tensor::NoneTape> = Tensor<(usize,), E, D, T>;

/// The element types the layers run in: `f32` for training, `f64` for gradient checks.
pub trait Real: Dtype + Into<f64> {
    /// Rounds an `f64` to this type.
    fn of_f64(v: f64) -> Self;
    /// Converts an `f32` (exact for both types).
    fn of_f32(v: f32) -> Self;
}

impl Real for f32 {
    fn of_f64(v: f64) -> Self {
        v as f32
    }
    fn of_f32(v: f32) -> Self {
        v
    }
}

impl Real for f64 {
    fn of_f64(v: f64) -> Self {
        v
    }
    fn of_f32(v: f32) -> Self {
        f64::from(v)
    }
}

/// Turns a dfdx device error into [`NnError::Device`] (for code building on these layers).
pub fn dev_err(e: impl std::fmt::Display) -> NnError {
    NnError::Device(e.to_string())
}
