//! The few kernels the layers specialise per dfdx device.
//!
//! Everything else is plain dfdx ops and therefore device-generic. The exception is im2col:
//! dfdx's generic CPU `gather` is ≈ 10× slower than a purpose-written copy loop, and im2col
//! moves k² times the input, so on the CPU the unfold is a custom op on dfdx's public tape API
//! ([`super::im2col::unfold_cpu`]); CUDA uses the all-dfdx gather
//! ([`super::im2col::unfold_gather`]), whose kernel is already parallel. Layers are generic
//! over `D: Backend<E>`, which both devices implement.

#[cfg(feature = "cuda")]
use super::dev_err;
use super::im2col::{self, ConvGeometry};
use super::{Map, NnError, ParamStore, Real};
use dfdx::tensor::{Cpu, Storage, Tape, Tensor};
use dfdx::tensor_ops::Device;
use std::ops::DerefMut;

/// A dfdx device the layers run on: [`Cpu`] and (with `--features cuda`) `Cuda`.
pub trait Backend<E: Real>: Device<E> {
    /// im2col: `N × C × H × W` → `(C·k²) × (HO·WO·N)`, differentiable (see [`im2col`]).
    fn unfold<T: Tape<E, Self>>(
        store: &ParamStore<E, Self>,
        x: Map<E, Self, T>,
        g: &ConvGeometry,
    ) -> Result<Tensor<(usize, usize), E, Self, T>, NnError>;
}

impl<E: Real> Backend<E> for Cpu
where
    Cpu: Device<E>,
    <Cpu as Storage<E>>::Vec: DerefMut<Target = Vec<E>>,
{
    fn unfold<T: Tape<E, Self>>(
        _store: &ParamStore<E, Self>,
        x: Map<E, Self, T>,
        g: &ConvGeometry,
    ) -> Result<Tensor<(usize, usize), E, Self, T>, NnError> {
        im2col::unfold_cpu(x, g)
    }
}

#[cfg(feature = "cuda")]
impl<E: Real> Backend<E> for dfdx::tensor::Cuda
where
    dfdx::tensor::Cuda: Device<E>,
{
    fn unfold<T: Tape<E, Self>>(
        store: &ParamStore<E, Self>,
        x: Map<E, Self, T>,
        g: &ConvGeometry,
    ) -> Result<Tensor<(usize, usize), E, Self, T>, NnError> {
        im2col::unfold_gather(store, x, g)
    }
}

/// Never called: instantiates every layer, loss and optimizer with the CUDA device so that
/// `cargo check --features cuda,ci-check` proves the device-generic bounds hold for it.
#[cfg(feature = "cuda")]
#[allow(dead_code)]
fn cuda_bounds_hold(
    store: &mut ParamStore<f32, dfdx::tensor::Cuda>,
    x: Map<f32, dfdx::tensor::Cuda, dfdx::tensor::OwnedTape<f32, dfdx::tensor::Cuda>>,
    target: Map<f32, dfdx::tensor::Cuda>,
) -> Result<(), crate::train::TrainError> {
    use super::{
        adaptive_avg_pool, adaptive_max_pool, global_avg_pool, layout, resize_bilinear,
        AlignCorners, BatchNorm2d, Conv2d, ConvConfig, Dropout, LayerNorm, Linear, NonLocal, Sra,
        SraConfig,
    };
    use crate::train::{clip_grad_norm, LossConfig, LossKind, Optimizer, OptimizerKind, SgdConfig};
    use dfdx::tensor_ops::Backward;
    let conv = Conv2d::new(store, "c", ConvConfig::new(4, 4, 3).padding(1))?;
    let bn = BatchNorm2d::new(store, "bn", 4)?;
    let nl = NonLocal::new(store, "nl", 4, 2)?;
    let ln = LayerNorm::new(store, "ln", 4)?;
    let fc = Linear::new(store, "fc", 4, 4)?;
    let sra = Sra::new(
        store,
        "sra",
        SraConfig {
            dim: 4,
            heads: 2,
            sr: 2,
        },
    )?;
    let y = conv.forward(store, x)?;
    let y = bn.forward(store, y)?;
    let y = nl.forward(store, y)?;
    let y = Dropout::new(0.1)?.forward(store, y)?;
    let t = layout::map_to_tokens(y)?;
    let t = sra.forward(store, ln.forward(store, fc.forward(store, t)?)?, 8, 8)?;
    let y = layout::tokens_to_map(t, 8, 8)?;
    let y = adaptive_max_pool(store, y, (4, 4))?;
    let y = adaptive_avg_pool(store, y, (2, 2))?;
    let y = resize_bilinear(store, y, (8, 8), AlignCorners::False)?;
    let y = layout::crop(store, y, 0..8, 0..8)?;
    let y = layout::narrow_channels(store, y, 0..1)?;
    let _ = global_avg_pool(y.retaped::<dfdx::tensor::NoneTape>())?;
    let y = layout::concat_channels(
        y.retaped::<dfdx::tensor::OwnedTape<f32, dfdx::tensor::Cuda>>(),
        y,
    )?;
    let y = layout::narrow_channels(store, y, 0..1)?;
    let loss = LossConfig::new(LossKind::BceDice).compute(y, target)?;
    let mut grads = store.collect_grads(loss.try_backward().map_err(dev_err)?)?;
    clip_grad_norm(store, &mut grads, 1.0)?;
    Optimizer::new(OptimizerKind::Sgd(SgdConfig::AGCAF))?.step(store, &grads, 0.01)?;
    // both whole networks (CAFCT-Net's transformer branch uses `gelu`) with a taped input
    let _ = crate::models::SegNet::forward::<
        f32,
        dfdx::tensor::Cuda,
        dfdx::tensor::OwnedTape<f32, dfdx::tensor::Cuda>,
    >;
    Ok(())
}
