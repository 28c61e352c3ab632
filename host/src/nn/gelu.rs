//! Exact GELU, `x·Φ(x) = ½x(1 + erf(x/√2))` (SPEC §2: the erf form, not the tanh one), with a
//! correct gradient.
//!
//! dfdx 0.13's `accurate_gelu` computes the right value but a wrong derivative on every device
//! (CPU and CUDA kernels alike): the second term is `½x·(2/√π)·e^{−x²/2}` where
//! `d/dx ½x(1 + erf(x/√2))` has `x·e^{−x²/2}/√(2π)` — the chain rule's `1/√2` is missing, so
//! the derivative is too large by `k·x·e^{−x²/2}` with `k = (1 − 1/√2)/√π`. Rather than a
//! custom op per device, [`gelu`] adds `k·(E − E')` with `E = e^{−x²/2}` on the tape and `E'`
//! the same value computed without one: the sum is exactly 0 (the value is dfdx's, bit for
//! bit) and its derivative `−k·x·e^{−x²/2}` cancels the excess. A test pins dfdx's behaviour,
//! so a dfdx that fixes its kernel is noticed before the correction doubles.

use super::{dev_err, NnError, Real};
use dfdx::shapes::Shape;
use dfdx::tensor::{NoneTape, Tape, Tensor};
use dfdx::tensor_ops::{Device, TryAdd, TryMul, TrySub};

/// `(1 − 1/√2)/√π`: the excess of dfdx's derivative over the true one, per `x·e^{−x²/2}`.
pub fn dfdx_excess() -> f64 {
    (1.0 - std::f64::consts::FRAC_1_SQRT_2) / std::f64::consts::PI.sqrt()
}

/// `e^{−x²/2}` element-wise.
fn bump<S: Shape, E: Real, D: Device<E>, R: Tape<E, D>>(
    t: Tensor<S, E, D, R>,
) -> Result<Tensor<S, E, D, R>, NnError> {
    t.try_square()
        .map_err(dev_err)?
        .try_mul(E::of_f64(-0.5))
        .map_err(dev_err)?
        .try_exp()
        .map_err(dev_err)
}

/// Exact GELU of `x`, element-wise, with the right gradient (see the module docs).
pub fn gelu<S: Shape, E: Real, D: Device<E>, T: Tape<E, D>>(
    x: Tensor<S, E, D, T>,
) -> Result<Tensor<S, E, D, T>, NnError> {
    let traced = bump(x.retaped::<T>())?;
    // the same values off the tape, in a new tensor (its own id, so no gradient flows to it)
    let constant = bump(x.retaped::<NoneTape>())?;
    let zero = traced
        .try_sub(constant)
        .map_err(dev_err)?
        .try_mul(E::of_f64(dfdx_excess()))
        .map_err(dev_err)?;
    x.try_accurate_gelu()
        .map_err(dev_err)?
        .try_add(zero)
        .map_err(dev_err)
}
