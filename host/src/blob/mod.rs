//! Weight blobs on the host: writing them ([`BlobWriter`], atomic and optionally signed), the
//! Ed25519 keys that sign them ([`keys`]), reading them back for people ([`inspect`]) and a
//! development aid that writes a seed-initialised `f32` network ([`export_random_init`]).
//!
//! The byte layout is core's (`hepaseg_core::blob`, documented in `docs/blob-format.md`): the
//! writer hands its tensors to core's encoder, which lays them out and parses the result back,
//! so the host can only write blobs the device accepts.

pub mod inspect;
pub mod keys;
pub mod networks;
pub mod writer;

pub use inspect::inspect;
pub use keys::{keygen, load_public_key, load_signing_key, KeyError};
pub use networks::{network, NetEntry};
pub use writer::{BlobWriter, WriteError, WriteReport};

use crate::registry::Model;
use hepaseg_core::blob::QuantScheme;
use hepaseg_core::params::{ParamSpec, Role};
use std::path::Path;

/// Seed-initialised values for every row of `table` — the scheme of the test suite's
/// `hepaseg_tests::seeded::seeded_params` with gate 0.5, reproduced here so that
/// `hepaseg export --random-init --seed S` writes the very parameters the core tests run:
/// xorshift64* draws in table order, weights uniform in ±√(3/fan_in), biases ±0.1, norm scales
/// 1 ± 0.1, running means ±0.1, running variances 1 ± 0.2, gates 0.5.
pub fn seeded_params(table: &[ParamSpec], seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut unit = move || {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let v = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 40) as f32 / (1u64 << 24) as f32
    };
    table
        .iter()
        .map(|p| {
            let fan_in = match p.role {
                Role::ConvWeight => p.dims[1] * p.dims[2] * p.dims[3],
                Role::LinearWeight => p.dims[1],
                _ => 1,
            };
            let limit = (3.0 / fan_in as f32).sqrt();
            (0..p.numel())
                .map(|_| {
                    let mut sym = |a: f32| (unit() * 2.0 - 1.0) * a;
                    match p.role {
                        Role::ConvWeight | Role::LinearWeight => sym(limit),
                        Role::ConvBias | Role::LinearBias | Role::BnBias | Role::LnBias => sym(0.1),
                        Role::BnWeight | Role::LnWeight => 1.0 + sym(0.1),
                        Role::BnRunningMean => sym(0.1),
                        Role::BnRunningVar => 1.0 + sym(0.2),
                        Role::Gate => 0.5,
                    }
                })
                .collect()
        })
        .collect()
}

/// `hepaseg export --random-init`: an `f32` blob of a seed-initialised network at `out`,
/// signed with the secret key at `sign` if given.
///
/// **A development aid**: it lets the device-side loader, `inspect`, signing and the f32
/// engine be exercised end to end before any checkpoint exists. The values are not trained;
/// the real `export --checkpoint … --calib …` (int8, from the quantizer) replaces it.
pub fn export_random_init(
    model: Model,
    preset: &str,
    seed: u64,
    out: &Path,
    sign: Option<&Path>,
) -> Result<String, String> {
    let net =
        network(model, preset).ok_or_else(|| crate::registry::unknown_preset(model, preset))?;
    let signer = sign
        .map(load_signing_key)
        .transpose()
        .map_err(|e| e.to_string())?;
    let values = seeded_params(net.params, seed);
    let mut w = BlobWriter::new(
        net.architecture,
        net.preset,
        net.fingerprint,
        QuantScheme::F32,
    );
    for (p, v) in net.params.iter().zip(&values) {
        w.add_f32(p.name.as_str(), p.shape(), v)
            .map_err(|e| e.to_string())?;
    }
    let report = w.write(out, signer.as_ref()).map_err(|e| e.to_string())?;
    Ok(format!(
        "{report}\n(development aid: seed-initialised f32 {} {}, seed {seed}; not a trained model)",
        model.name(),
        net.preset
    ))
}

#[cfg(test)]
mod tests {
    use hepaseg_core::nets::{agcaf::AgcafTiny, Network};

    /// The same constant as `SEEDED_TINY_11_HASH` in `tests/tests/blob_roundtrip.rs`, which
    /// hashes `hepaseg_tests::seeded::seeded_params(AgcafTiny::PARAMS, 11, 0.5)`: the host's
    /// `--random-init` values are exactly the test suite's.
    #[test]
    fn seeded_params_match_the_test_suite() {
        let flat: Vec<f32> = super::seeded_params(AgcafTiny::PARAMS, 11).concat();
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in flat.iter().flat_map(|v| v.to_bits().to_le_bytes()) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        assert_eq!(h, 0x3c0d_f48f_2933_52ad);
    }
}
