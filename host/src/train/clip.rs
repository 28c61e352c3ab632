//! Global-norm gradient clipping and the finiteness checks that turn a diverging run into an
//! error value instead of a panic or silently poisoned weights.

use super::TrainError;
use crate::nn::{dev_err, ParamGrads, ParamStore, Real};
use dfdx::tensor_ops::{Device, SumTo, TryMul};

/// `Ok(loss)` when the loss is finite, else [`TrainError::NonFiniteLoss`].
pub fn check_loss(loss: f64) -> Result<f64, TrainError> {
    if loss.is_finite() {
        Ok(loss)
    } else {
        Err(TrainError::NonFiniteLoss(loss))
    }
}

/// `√(Σ over all gradients of Σ g²)`; a NaN/inf (or overflowing) gradient is reported with
/// the name of its parameter.
pub fn grad_norm<E: Real, D: Device<E>>(
    store: &ParamStore<E, D>,
    grads: &ParamGrads<E, D>,
) -> Result<f64, TrainError> {
    let mut total = 0.0f64;
    for (id, g) in grads.iter() {
        let sq = g
            .clone()
            .try_square()
            .map_err(dev_err)?
            .try_sum::<(), _>()
            .map_err(dev_err)?
            .as_vec()
            .first()
            .map_or(f64::NAN, |&v| v.into());
        if !sq.is_finite() {
            return Err(TrainError::NonFiniteGradient {
                name: store.param(id)?.name().to_string(),
            });
        }
        total += sq;
    }
    Ok(total.sqrt())
}

/// Scales all gradients by `max_norm/(norm + 1e-6)` when their global norm exceeds
/// `max_norm` (PyTorch's `clip_grad_norm_`); returns the norm before clipping.
pub fn clip_grad_norm<E: Real, D: Device<E>>(
    store: &ParamStore<E, D>,
    grads: &mut ParamGrads<E, D>,
    max_norm: f64,
) -> Result<f64, TrainError> {
    let valid = max_norm.is_finite() && max_norm > 0.0;
    if !valid {
        return Err(TrainError::Config(format!(
            "max_norm {max_norm} must be finite and > 0"
        )));
    }
    let norm = grad_norm(store, grads)?;
    let coef = max_norm / (norm + 1e-6);
    if coef < 1.0 {
        let scaled: Vec<_> = grads
            .iter()
            .map(|(id, g)| Ok((id, g.clone().try_mul(E::of_f64(coef)).map_err(dev_err)?)))
            .collect::<Result<_, TrainError>>()?;
        for (id, g) in scaled {
            grads.set(id, g)?;
        }
    }
    Ok(norm)
}
