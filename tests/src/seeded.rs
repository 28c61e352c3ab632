//! Seed-initialised parameter sets for any network or block table, so tests can run real
//! forward passes without a trained checkpoint.

use hepaseg_core::params::{ParamSpec, Role};

/// xorshift64* — tiny, deterministic, good enough for test weights.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed (0 is mapped to a fixed non-zero state).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let v = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (v >> 40) as f32 / (1u64 << 24) as f32
    }
    /// Uniform in [-a, a).
    pub fn sym(&mut self, a: f32) -> f32 {
        (self.unit() * 2.0 - 1.0) * a
    }
}

/// Values for every row of `table`: weights scaled by 1/√fan_in (so activations stay O(1)
/// through deep stacks), batch norms near identity with positive variance, layer norms near
/// identity, gates set to `gate`.
pub fn seeded_params(table: &[ParamSpec], seed: u64, gate: f32) -> Vec<Vec<f32>> {
    let mut rng = Rng::new(seed);
    table
        .iter()
        .map(|p| {
            let n = p.numel();
            let fan_in = match p.role {
                Role::ConvWeight => p.dims[1] * p.dims[2] * p.dims[3],
                Role::LinearWeight => p.dims[1],
                _ => 1,
            };
            let limit = (3.0 / fan_in as f32).sqrt();
            (0..n)
                .map(|_| match p.role {
                    Role::ConvWeight | Role::LinearWeight => rng.sym(limit),
                    Role::ConvBias | Role::LinearBias | Role::BnBias | Role::LnBias => rng.sym(0.1),
                    Role::BnWeight | Role::LnWeight => 1.0 + rng.sym(0.1),
                    Role::BnRunningMean => rng.sym(0.1),
                    Role::BnRunningVar => 1.0 + rng.sym(0.2),
                    Role::Gate => gate,
                })
                .collect()
        })
        .collect()
}

/// Borrowed form for [`hepaseg_core::params::SliceParams`].
pub fn as_slices(params: &[Vec<f32>]) -> Vec<&[f32]> {
    params.iter().map(Vec::as_slice).collect()
}

/// A deterministic input slice with values like a windowed CT slice (0..1 plus structure).
pub fn synthetic_slice(h: usize, w: usize, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    (0..h * w)
        .map(|i| {
            let (y, x) = ((i / w) as f32 / h as f32, (i % w) as f32 / w as f32);
            let disc = ((y - 0.5).powi(2) + (x - 0.45).powi(2) < 0.1) as u8 as f32;
            0.2 + 0.5 * disc + 0.05 * rng.sym(1.0)
        })
        .collect()
}

/// FNV-1a 64 over the bit patterns of a float slice: a golden-vector fingerprint.
pub fn hash_f32(values: &[f32]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for v in values {
        for b in v.to_bits().to_le_bytes() {
            h = (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// A zeroed, 8-byte aligned arena of at least `bytes` bytes (core needs 4-byte alignment).
pub fn arena(bytes: usize) -> Vec<u64> {
    vec![0u64; bytes.div_ceil(8)]
}

/// Exactly `bytes` bytes of an arena made by [`arena`].
pub fn arena_bytes(a: &mut [u64], bytes: usize) -> &mut [u8] {
    &mut bytemuck::cast_slice_mut::<u64, u8>(a)[..bytes]
}

/// Parameters for a 2.5D preset (table `wide`, k input channels) that compute exactly what the
/// 2D preset's `values` (table `narrow`) compute on the centre channel: every tensor copied,
/// except the first convolutions' weights (`CO × 1 × K × K` in `narrow`, `CO × k × K × K` in
/// `wide`), whose middle input channel gets the 2D weights and the others zeros. Panics if the
/// tables differ anywhere else (names, order, other shapes).
pub fn centre_only(narrow: &[ParamSpec], wide: &[ParamSpec], values: &[Vec<f32>]) -> Vec<Vec<f32>> {
    assert_eq!(narrow.len(), wide.len(), "tables differ in length");
    narrow
        .iter()
        .zip(wide)
        .zip(values)
        .map(|((n, w), v)| {
            assert_eq!(n.name.as_str(), w.name.as_str());
            if n.shape() == w.shape() {
                return v.clone();
            }
            let (co, k, kk) = (w.dims[0], w.dims[1], w.dims[2] * w.dims[3]);
            assert!(
                n.role == Role::ConvWeight
                    && n.dims[1] == 1
                    && [n.dims[0], n.dims[2], n.dims[3]] == [co, w.dims[2], w.dims[3]],
                "{}: {:?} vs {:?}",
                n.name.as_str(),
                n.shape(),
                w.shape()
            );
            let mut out = vec![0.0; co * k * kk];
            for o in 0..co {
                let dst = (o * k + k / 2) * kk;
                out[dst..dst + kk].copy_from_slice(&v[o * kk..(o + 1) * kk]);
            }
            out
        })
        .collect()
}
