//! The figures of every network × preset that a blob needs (architecture, preset, parameter
//! table, fingerprint), by command-line name.
//!
//! `registry::with_network!` is private to the registry module, so the mapping is listed once
//! more here; a test checks that it covers exactly `registry::presets` with the same
//! fingerprints, so the two cannot drift apart unnoticed.

use crate::registry::Model;
use hepaseg_core::nets::{agcaf, cafct, Architecture, Network};
use hepaseg_core::params::ParamSpec;

/// What the blob writer and `inspect` need to know about one network.
#[derive(Debug, Clone, Copy)]
pub struct NetEntry {
    /// The architecture.
    pub architecture: Architecture,
    /// Preset name.
    pub preset: &'static str,
    /// The parameter table.
    pub params: &'static [ParamSpec],
    /// The architecture fingerprint.
    pub fingerprint: u64,
}

fn entry<N: Network>() -> NetEntry {
    NetEntry {
        architecture: N::ARCHITECTURE,
        preset: N::PRESET,
        params: N::PARAMS,
        fingerprint: N::FINGERPRINT,
    }
}

/// The network named by `(model, preset)`, or `None` for an unknown preset.
pub fn network(model: Model, preset: &str) -> Option<NetEntry> {
    Some(match (model, preset) {
        (Model::AgcafNet, "paper") => entry::<agcaf::paper::Net>(),
        (Model::AgcafNet, "edge") => entry::<agcaf::edge::Net>(),
        (Model::AgcafNet, "tiny") => entry::<agcaf::tiny::Net>(),
        (Model::AgcafNet, "tiny-2.5d") => entry::<agcaf::tiny_2_5d::Net>(),
        (Model::AgcafNet, "edge-2.5d") => entry::<agcaf::edge_2_5d::Net>(),
        (Model::AgcafNet, "tiny-backbone") => entry::<agcaf::tiny_backbone::Net>(),
        (Model::AgcafNet, "tiny-cpm") => entry::<agcaf::tiny_cpm::Net>(),
        (Model::AgcafNet, "tiny-afm") => entry::<agcaf::tiny_afm::Net>(),
        (Model::CafctNet, "paper") => entry::<cafct::paper::Net>(),
        (Model::CafctNet, "edge") => entry::<cafct::edge::Net>(),
        (Model::CafctNet, "tiny") => entry::<cafct::tiny::Net>(),
        (Model::CafctNet, "tiny-2.5d") => entry::<cafct::tiny_2_5d::Net>(),
        (Model::CafctNet, "edge-2.5d") => entry::<cafct::edge_2_5d::Net>(),
        (Model::CafctNet, "tiny-no-transformer") => entry::<cafct::tiny_no_transformer::Net>(),
        (Model::CafctNet, "tiny-no-aff") => entry::<cafct::tiny_no_aff::Net>(),
        (Model::CafctNet, "tiny-no-aspp") => entry::<cafct::tiny_no_aspp::Net>(),
        (Model::CafctNet, "tiny-no-ag") => entry::<cafct::tiny_no_ag::Net>(),
        _ => return None,
    })
}

/// The command-line model of an architecture.
pub fn model_of(a: Architecture) -> Model {
    match a {
        Architecture::AgcafNet => Model::AgcafNet,
        Architecture::CafctNet => Model::CafctNet,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{presets, summary};

    #[test]
    fn covers_exactly_the_registry_with_the_same_fingerprints() {
        for model in [Model::AgcafNet, Model::CafctNet] {
            for &preset in presets(model) {
                let n = network(model, preset).unwrap_or_else(|| panic!("{preset} missing"));
                let s = summary(model, preset).expect("registry knows it");
                assert_eq!(format!("{:016x}", n.fingerprint), s.fingerprint);
                assert_eq!(n.preset, preset);
                assert_eq!(model_of(n.architecture), model);
                assert_eq!(n.params.len(), s.tensors);
            }
            assert!(network(model, "no-such-preset").is_none());
        }
    }
}
