//! Both networks as trainable dfdx models built from [`crate::nn`] layers, mirroring core's
//! f32 networks exactly (names, shapes, order, wiring, ablation switches), so a trained store
//! exports straight into core's parameter table.
//!
//! [`SegNet`] is the architecture-erased handle `hepaseg train` uses; [`HostNetwork`] builds
//! it for any core preset type. The papers' baselines, U-Net and Attention U-Net ([`unet`]),
//! are host-only networks behind the same handle; [`identity`] gives every trainable network's
//! input side and fingerprint, from core's table or, for a baseline, from its own.

pub mod agcaf;
pub mod agcb;
pub mod cafct;
pub mod cafct_blocks;
pub mod pvt;
pub mod unet;
pub mod units;

pub use agcaf::{AgcafConfig, AgcafNet, AgcafPreset};
pub use cafct::{CafctConfig, CafctNet, CafctPreset};
pub use unet::{UnetConfig, UnetNet};

use crate::nn::{Backend, Map, NnError, ParamStore, Real};
use crate::registry::Model;
use dfdx::tensor::Tape;
use dfdx::tensor_ops::Device;
use hepaseg_core::nets::Network;

/// A trainable network of either architecture.
#[derive(Debug, Clone)]
pub enum SegNet {
    /// AGCAF-Net (boxed: both models are large, and of different sizes).
    Agcaf(Box<AgcafNet>),
    /// CAFCT-Net.
    Cafct(Box<CafctNet>),
    /// U-Net or Attention U-Net (host-only baselines).
    Unet(Box<UnetNet>),
}

impl SegNet {
    /// Logits `N × 1 × S × S` of `N × K × S × S` inputs (K input channels of the preset; the
    /// store's mode decides train/eval).
    pub fn forward<E: Real, D: Backend<E>, T: Tape<E, D>>(
        &self,
        store: &mut ParamStore<E, D>,
        x: Map<E, D, T>,
    ) -> Result<Map<E, D, T>, NnError> {
        match self {
            SegNet::Agcaf(net) => net.forward(store, x),
            SegNet::Cafct(net) => net.forward(store, x),
            SegNet::Unet(net) => net.forward(store, x),
        }
    }

    /// Random draws the forward pass takes from the device RNG in training mode (one per
    /// dropout layer): what a resumed run replays to continue the same random sequence.
    pub fn rng_draws_per_step(&self) -> u64 {
        match self {
            SegNet::Agcaf(_) => 1,
            SegNet::Cafct(net) => net.rng_draws_per_step(),
            SegNet::Unet(_) => 0,
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
    if model.is_baseline() {
        let attention = model == Model::AttentionUnet;
        let config = unet::config(preset, attention).ok_or_else(unknown)?;
        return Ok(SegNet::Unet(Box::new(UnetNet::new(store, config)?)));
    }
    let entry = crate::blob::network(model, preset).ok_or_else(unknown)?;
    let net = match model {
        Model::AgcafNet => SegNet::Agcaf(Box::new(AgcafNet::new(
            store,
            agcaf::config(preset).ok_or_else(unknown)?,
        )?)),
        Model::CafctNet => SegNet::Cafct(Box::new(CafctNet::new(
            store,
            cafct::config(preset).ok_or_else(unknown)?,
        )?)),
        Model::Unet | Model::AttentionUnet => return Err(unknown()),
    };
    store.check_table(entry.params)?;
    Ok(net)
}

/// What identifies a trainable network: its input side and architecture fingerprint (the
/// value a checkpoint records and a resumed run, an export or `eval --checkpoint` checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// Input (and output) height and width.
    pub size: usize,
    /// Input channels: 1, or the k adjacent slices of a 2.5D preset (the data pipeline feeds
    /// each slice with its neighbours, [`crate::data::DataConfig::channels`]).
    pub channels: usize,
    /// FNV-1a fingerprint of every tensor's name and shape (core's `params::fingerprint`).
    pub fingerprint: u64,
    /// Trainable parameters.
    pub params: usize,
}

/// The identity of `(model, preset)`, or `None` for an unknown preset. A core network's comes
/// from core's constants; a baseline's from the table of a freshly built instance (its
/// initial values are never computed beyond what building takes).
pub fn identity(model: Model, preset: &str) -> Option<Identity> {
    if model.is_baseline() {
        let config = unet::config(preset, model == Model::AttentionUnet)?;
        let mut store = ParamStore::<f32, dfdx::tensor::Cpu>::new(Default::default(), 0);
        UnetNet::new(&mut store, config).ok()?;
        let table = store.table().ok()?;
        return Some(Identity {
            size: config.size,
            channels: 1,
            fingerprint: fingerprint(&store).ok()?,
            params: hepaseg_core::params::count_elements(&table, true),
        });
    }
    let entry = crate::blob::network(model, preset)?;
    let summary = crate::registry::summary(model, preset)?;
    Some(Identity {
        size: summary.input[1],
        channels: summary.input[0],
        fingerprint: entry.fingerprint,
        params: summary.params,
    })
}

/// The architecture fingerprint of the network built in `store` (core's FNV-1a over every
/// tensor's name and shape, in registration order). For a core network it equals the core
/// type's `FINGERPRINT` (`build` checks the table); for a baseline it is the only one there is.
/// A run or a loaded checkpoint computes it once from the store it already built.
pub fn fingerprint<E: Real, D: Device<E>>(store: &ParamStore<E, D>) -> Result<u64, NnError> {
    Ok(hepaseg_core::params::fingerprint(&store.table()?))
}

/// A core network type the host can build and train.
pub trait HostNetwork: Network {
    /// Registers the network in `store` (empty) in `Self::PARAMS` order and checks the table.
    fn build<E: Real, D: Device<E>>(store: &mut ParamStore<E, D>) -> Result<SegNet, NnError>;
}

/// `HostNetwork` for concrete core preset types of one architecture (one blanket impl per
/// architecture trait would overlap).
macro_rules! host_networks {
    ($arch:ident, $net:ident, $variant:ident: $($m:ident),* $(,)?) => {$(
        impl HostNetwork for hepaseg_core::nets::$arch::$m::Net {
            fn build<E: Real, D: Device<E>>(
                store: &mut ParamStore<E, D>,
            ) -> Result<SegNet, NnError> {
                $net::for_preset::<Self, E, D>(store).map(|n| SegNet::$variant(Box::new(n)))
            }
        }
    )*};
}
host_networks!(
    agcaf,
    AgcafNet,
    Agcaf: paper,
    edge,
    tiny,
    tiny_2_5d,
    edge_2_5d,
    tiny_backbone,
    tiny_cpm,
    tiny_afm
);
host_networks!(
    cafct,
    CafctNet,
    Cafct: paper,
    edge,
    tiny,
    tiny_2_5d,
    edge_2_5d,
    tiny_no_transformer,
    tiny_no_aff,
    tiny_no_aspp,
    tiny_no_ag
);
