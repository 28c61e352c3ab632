//! Parameter initialisation, computed on the host from a seeded, platform-independent RNG.
//!
//! Values are drawn on the host (not with the device's RNG) and then uploaded, so a given seed
//! gives the same initial network on the CPU and on a GPU, and each parameter's stream is
//! derived from its *name* — adding a layer elsewhere does not change the others.

use crate::data::rng::Rng;
use hepaseg_core::params::Role;

/// How to fill a parameter when it is registered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    /// By role: weights of convolutions and linear layers `U(±1/√fan_in)` (PyTorch's default
    /// `kaiming_uniform_(a=√5)`), norm scales 1, shifts 0, running mean 0, running variance 1,
    /// gates 0, biases 0 (layers pass PyTorch's bias bound explicitly as [`Init::Uniform`]).
    Default,
    /// All zeros.
    Zeros,
    /// All ones.
    Ones,
    /// One value everywhere.
    Constant(f64),
    /// `U(−bound, bound)`.
    Uniform {
        /// Half-width.
        bound: f64,
    },
    /// `N(0, std²)`.
    Normal {
        /// Standard deviation.
        std: f64,
    },
    /// `N(0, std²)` redrawn until within `±2·std` (PVT-v2's `trunc_normal_` for linear layers).
    TruncNormal {
        /// Standard deviation.
        std: f64,
    },
    /// `N(0, 2/fan_out)` with `fan_out = shape[0]·Π shape[2..]` (torchvision ResNet convs:
    /// `kaiming_normal_(mode="fan_out", nonlinearity="relu")`).
    KaimingNormalFanOut,
}

/// `shape[1]·shape[2]·…` — PyTorch's fan-in of a weight tensor (1 for vectors).
pub fn fan_in(shape: &[usize]) -> usize {
    shape.iter().skip(1).product::<usize>().max(1)
}

/// `shape[0]·shape[2]·…` — PyTorch's fan-out of a weight tensor.
pub fn fan_out(shape: &[usize]) -> usize {
    let receptive: usize = shape.iter().skip(2).product();
    (shape.first().copied().unwrap_or(1) * receptive).max(1)
}

/// FNV-1a of a name: the per-parameter stream selector.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The initial values of parameter `name` (`shape`, `role`) under `init` and `seed`.
pub fn values(init: Init, name: &str, shape: &[usize], role: Role, seed: u64) -> Vec<f64> {
    let n: usize = shape.iter().product();
    let mut rng = Rng::derived(seed, &[name_hash(name)]);
    let init = match init {
        Init::Default => match role {
            Role::ConvWeight | Role::LinearWeight => Init::Uniform {
                bound: 1.0 / (fan_in(shape) as f64).sqrt(),
            },
            Role::BnWeight | Role::LnWeight | Role::BnRunningVar => Init::Ones,
            Role::ConvBias
            | Role::LinearBias
            | Role::BnBias
            | Role::LnBias
            | Role::BnRunningMean
            | Role::Gate => Init::Zeros,
        },
        other => other,
    };
    match init {
        Init::Default | Init::Zeros => vec![0.0; n],
        Init::Ones => vec![1.0; n],
        Init::Constant(v) => vec![v; n],
        Init::Uniform { bound } => (0..n).map(|_| rng.uniform(-bound, bound)).collect(),
        Init::Normal { std } => (0..n).map(|_| std * rng.normal()).collect(),
        Init::TruncNormal { std } => (0..n)
            .map(|_| loop {
                let v = rng.normal();
                if v.abs() <= 2.0 {
                    break std * v;
                }
            })
            .collect(),
        Init::KaimingNormalFanOut => {
            let std = (2.0 / fan_out(shape) as f64).sqrt();
            (0..n).map(|_| std * rng.normal()).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_pytorch() {
        let w = values(
            Init::Default,
            "c.weight",
            &[4, 2, 3, 3],
            Role::ConvWeight,
            1,
        );
        let bound = 1.0 / 18f64.sqrt();
        assert_eq!(w.len(), 72);
        assert!(w.iter().all(|v| v.abs() <= bound));
        assert!(w.iter().any(|v| v.abs() > bound / 2.0));
        assert_eq!(
            values(Init::Default, "b", &[3], Role::BnRunningVar, 1),
            [1.0; 3]
        );
        assert_eq!(values(Init::Default, "g", &[1], Role::Gate, 1), [0.0]);
    }

    #[test]
    fn streams_depend_on_name_and_seed_only() {
        let a = values(Init::Normal { std: 1.0 }, "x", &[5], Role::LinearWeight, 3);
        let b = values(Init::Normal { std: 1.0 }, "x", &[5], Role::LinearWeight, 3);
        let c = values(Init::Normal { std: 1.0 }, "y", &[5], Role::LinearWeight, 3);
        assert_eq!(a, b);
        assert_ne!(a, c);
        let t = values(
            Init::TruncNormal { std: 0.02 },
            "t",
            &[1000],
            Role::LinearWeight,
            3,
        );
        assert!(t.iter().all(|v| v.abs() <= 0.04));
        assert_eq!(fan_out(&[8, 4, 3, 3]), 72);
        assert_eq!(fan_in(&[8, 4, 3, 3]), 36);
    }
}
