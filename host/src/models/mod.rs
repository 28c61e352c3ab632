//! Both networks as trainable dfdx models built from [`crate::nn`] layers, mirroring core's
//! f32 networks exactly (names, shapes, order, wiring, ablation switches), so a trained store
//! exports straight into core's parameter table.
//!
//! [`SegNet`] is the architecture-erased handle `hepaseg train` uses; [`HostNetwork`] builds
//! it for any core preset type.

pub mod agcaf;
pub mod agcb;
pub mod units;

pub use agcaf::{AgcafConfig, AgcafNet, AgcafPreset};

use crate::nn::{Backend, Map, NnError, ParamStore, Real};
use crate::registry::Model;
use dfdx::tensor::Tape;
use dfdx::tensor_ops::Device;
use hepaseg_core::nets::Network;

/// A trainable network of either architecture.
#[derive(Debug, Clone)]
pub enum SegNet {
    /// AGCAF-Net.
    Agcaf(AgcafNet),
}

impl SegNet {
    /// Logits `N × 1 × S × S` of `N × 1 × S × S` inputs (the store's mode decides train/eval).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        match self {
            SegNet::Agcaf(net) => net.forward(store, x),
        }
    }

    /// Random draws the forward pass takes from the device RNG in training mode (one per
    /// dropout layer): what a resumed run replays to continue the same random sequence.
    pub fn rng_draws_per_step(&self) -> u64 {
        match self {
            SegNet::Agcaf(_) => 1,
        }
    }
}

/// Builds the network named by `(model, preset)` into `store` (empty) and checks it against
/// core's table (`crate::blob::network` gives the table).
pub fn build<E: Real, D: Device<E>>(
    model: Model,
    preset: &str,
    store: &mut ParamStore<E, D>,
) -> Result<SegNet, NnError> {
    let unknown = || NnError::config(model.name(), format!("no trainable preset `{preset}`"));
    let entry = crate::blob::network(model, preset).ok_or_else(unknown)?;
    let net = match model {
        Model::AgcafNet => SegNet::Agcaf(AgcafNet::new(
            store,
            agcaf::config(preset).ok_or_else(unknown)?,
        )?),
        Model::CafctNet => {
            return Err(NnError::config(
                model.name(),
                "training CAFCT-Net is not implemented yet (host model pending)",
            ))
        }
    };
    store.check_table(entry.params)?;
    Ok(net)
}

/// A core network type the host can build and train.
pub trait HostNetwork: Network {
    /// Registers the network in `store` (empty) in `Self::PARAMS` order and checks the table.
    fn build<E: Real, D: Device<E>>(store: &mut ParamStore<E, D>) -> Result<SegNet, NnError>;
}

impl<N: AgcafPreset> HostNetwork for N {
    fn build<E: Real, D: Device<E>>(store: &mut ParamStore<E, D>) -> Result<SegNet, NnError> {
        AgcafNet::for_preset::<N, E, D>(store).map(SegNet::Agcaf)
    }
}
