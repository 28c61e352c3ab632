//! Dropout: active only in [`super::Mode::Train`] (inverted scaling by `1/(1−p)` as PyTorch),
//! the identity in evaluation. The mask comes from the device's seeded RNG.

use super::{dev_err, Map, NnError, ParamStore, Real};
use dfdx::tensor::Tape;
use dfdx::tensor_ops::Device;

/// Dropout with probability `p` of zeroing each element.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Dropout {
    p: f64,
}

impl Dropout {
    /// `p` must lie in `[0, 1)`.
    pub fn new(p: f64) -> Result<Self, NnError> {
        if !(0.0..1.0).contains(&p) {
            return Err(NnError::config(
                "dropout",
                format!("p = {p} is not in [0, 1)"),
            ));
        }
        Ok(Self { p })
    }

    /// The drop probability.
    pub fn p(&self) -> f64 {
        self.p
    }

    /// Drops elements of `x` while training; returns `x` unchanged otherwise.
    pub fn forward<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        store: &ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        if store.is_training() && self.p > 0.0 {
            x.try_dropout(self.p).map_err(dev_err)
        } else {
            Ok(x)
        }
    }
}
