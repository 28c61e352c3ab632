//! The dfdx device the host trains on.
//!
//! A build with `--features cuda` trains on an NVIDIA GPU through dfdx's [`Cuda`] device;
//! every other build uses dfdx's [`Cpu`] device. [`Dev`] names whichever was compiled in, so
//! model and training code are written once against it. The CPU device is always available
//! ([`cpu_device`]), so a CUDA build can still run small jobs and tests on the CPU.
//!
//! CI has no CUDA toolkit: it type-checks this module with `--features cuda,ci-check`, which
//! makes dfdx's build script skip `nvcc`/`nvidia-smi` and cudarc skip linking the CUDA
//! libraries. Such a build is for `cargo check` only; it cannot run GPU kernels.
//!
//! [`Cuda`]: dfdx::tensor::Cuda
//! [`Cpu`]: dfdx::tensor::Cpu

use std::fmt;

/// The device training runs on in this build: dfdx's CUDA device.
#[cfg(feature = "cuda")]
pub type Dev = dfdx::tensor::Cuda;

/// The device training runs on in this build: dfdx's CPU device.
#[cfg(not(feature = "cuda"))]
pub type Dev = dfdx::tensor::Cpu;

/// The name of the compiled-in backend (`"cuda"` or `"cpu"`), for logs and `--help`.
pub const BACKEND: &str = if cfg!(feature = "cuda") {
    "cuda"
} else {
    "cpu"
};

/// The device could not be opened (no GPU, driver missing, out of memory, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceError {
    backend: &'static str,
    detail: String,
}

impl fmt::Display for DeviceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "cannot open the {} device: {}",
            self.backend, self.detail
        )
    }
}

impl std::error::Error for DeviceError {}

/// Opens the build's device with a fixed RNG seed (parameter initialisation, dropout).
///
/// On a CUDA build this opens GPU `ordinal`; on a CPU build `ordinal` must be 0.
pub fn try_device(ordinal: usize, seed: u64) -> Result<Dev, DeviceError> {
    #[cfg(feature = "cuda")]
    {
        dfdx::tensor::Cuda::try_build(ordinal, seed).map_err(|e| DeviceError {
            backend: BACKEND,
            detail: format!("GPU {ordinal}: {e}"),
        })
    }
    #[cfg(not(feature = "cuda"))]
    {
        if ordinal == 0 {
            Ok(cpu_device(seed))
        } else {
            Err(DeviceError {
                backend: BACKEND,
                detail: format!(
                    "device ordinal {ordinal} requested, but this build has no GPU support \
                     (rebuild with `--features cuda`)"
                ),
            })
        }
    }
}

/// The build's default device: GPU 0 on a CUDA build, the CPU otherwise, seeded with 0.
pub fn default_device() -> Result<Dev, DeviceError> {
    try_device(0, 0)
}

/// dfdx's CPU device with a fixed RNG seed; available in every build.
pub fn cpu_device(seed: u64) -> dfdx::tensor::Cpu {
    dfdx::tensor::Cpu::seed_from_u64(seed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_matches_features() {
        assert_eq!(
            BACKEND,
            if cfg!(feature = "cuda") {
                "cuda"
            } else {
                "cpu"
            }
        );
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cpu_build_opens_ordinal_zero_only() {
        assert!(default_device().is_ok());
        let err = try_device(1, 0).unwrap_err();
        assert!(err.to_string().contains("--features cuda"), "{err}");
    }
}
