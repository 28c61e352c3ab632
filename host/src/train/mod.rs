//! Training machinery that does not depend on a particular network: losses, optimizers,
//! learning-rate schedules and gradient clipping.
//!
//! One training step with the pieces of this module and [`crate::nn`]:
//!
//! ```text
//! let x = images.leaky_traced();                    // dfdx tape starts at the input
//! let logits = model.forward(&mut store, x)?;      // store in Mode::Train
//! let loss = loss_cfg.compute(logits, masks)?;     // Tensor<(), E, D, OwnedTape>
//! let value = check_loss(loss.as_vec()[0].into())?; // NaN/inf loss → TrainError, not a panic
//! let mut grads = store.collect_grads(loss.backward())?;
//! clip_grad_norm(&store, &mut grads, 1.0)?;        // also rejects non-finite gradients
//! optimizer.step(&mut store, &grads, schedule.lr(step))?;
//! ```

pub mod checkpoint;
pub mod clip;
pub mod interrupt;
pub mod loss;
pub mod optim;
pub mod run;
pub mod schedule;
pub mod step_bench;

pub use clip::{check_loss, clip_grad_norm, grad_norm};
pub use loss::{LossConfig, LossKind};
pub use optim::{AdamConfig, Optimizer, OptimizerKind, SgdConfig};
pub use schedule::{Schedule, ScheduleKind};
pub use step_bench::StepBench;

use crate::nn::NnError;

/// Why a training step could not be taken.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TrainError {
    /// A layer, store or device error.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The loss is NaN or infinite.
    #[error("the loss is not finite ({0})")]
    NonFiniteLoss(f64),
    /// A parameter's gradient contains NaN or infinity (or overflows when squared).
    #[error("the gradient of `{name}` is not finite")]
    NonFiniteGradient {
        /// The parameter.
        name: String,
    },
    /// Optimizer or schedule settings that cannot work, or a state that does not fit.
    #[error("invalid training setting: {0}")]
    Config(String),
}
