//! The two networks, one module per architecture, each a macro that expands a preset (a few
//! sizes) into a concrete network type with compile-time shapes, parameter table, memory plan
//! and MAC count.
//!
//! Presets live at the bottom of each module; adding one is a few lines. A preset whose sizes
//! do not fit (a scale larger than the deepest map, channels not divisible by a ratio, an input
//! size a stride-2 level cannot halve) fails to build.

pub mod agcaf;
pub mod agcaf_int8;
pub mod cafct;
pub mod cafct_int8;
pub mod int8;

pub use int8::Int8Network;

use crate::error::Error;
use crate::params::ParamSpec;
use crate::tensor::Map;

/// Which architecture a network is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// AGCAF-Net (attention-guided context pyramid + asymmetric fusion, after AGPCNet).
    AgcafNet,
    /// CAFCT-Net (CNN + transformer branches with attentive feature fusion).
    CafctNet,
}

impl Architecture {
    /// The command-line name.
    pub const fn name(self) -> &'static str {
        match self {
            Architecture::AgcafNet => "agcaf-net",
            Architecture::CafctNet => "cafct-net",
        }
    }
}

/// One row of a network's per-block summary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockInfo {
    /// Parameter-name prefix of the block (its parameters are the rows under it).
    pub name: &'static str,
    /// Output shape `[C, H, W]`.
    pub output: [usize; 3],
    /// Multiply-accumulates of the block.
    pub macs: u64,
}

/// What every concrete network publishes, and a forward pass over flat slices.
///
/// The typed `forward` (input `&Map<K, H, W>`, `K` = [`Network::INPUT`]`[0]`: 1 for a 2D
/// preset, k adjacent slices for a 2.5D one) is an inherent method of each network type;
/// this trait is for code that handles any network by its figures (the host's `info`, the
/// blob writer, parity tests).
pub trait Network {
    /// The architecture.
    const ARCHITECTURE: Architecture;
    /// Preset name (`paper`, `edge`, `tiny`, possibly with an ablation suffix).
    const PRESET: &'static str;
    /// Input shape `[C, H, W]`: `C` is 1 for the 2D presets and k (adjacent CT slices, the
    /// centre one in the middle channel) for the 2.5D presets (`tiny-2.5d`, …).
    const INPUT: [usize; 3];
    /// Output (logits) shape `[C, H, W]`.
    const OUTPUT: [usize; 3];
    /// Every parameter tensor, in the order the forward pass reads them.
    const PARAMS: &'static [ParamSpec];
    /// Hash of every tensor's name and shape.
    const FINGERPRINT: u64;
    /// Trainable scalar parameters (PyTorch's count; BN running stats excluded).
    const PARAM_COUNT: usize;
    /// Multiply-accumulates per slice (convolutions, linear layers, attention products).
    const MACS: u64;
    /// Bytes of arena the f32 forward pass needs.
    const ARENA_BYTES: usize;
    /// The per-block summary.
    const BLOCKS: &'static [BlockInfo];

    /// Runs the f32 forward pass on a flat `C × H × W` input (`C = INPUT[0]`); the logits live
    /// in the arena.
    fn forward_flat<'a, S: crate::params::ParamSource + ?Sized>(
        params: &S,
        input: &[f32],
        arena: &'a mut [u8],
    ) -> Result<&'a [f32], Error>;
}

/// A typed map view of one planned region (the plan sized it, so this only fails on a
/// planner bug).
#[doc(hidden)]
pub fn view<const C: usize, const H: usize, const W: usize>(
    region: &mut [f32],
) -> Result<&mut Map<C, H, W>, Error> {
    crate::tensor::map_mut(region).ok_or(Error::PlanOverlap)
}

/// The f32 words of an arena given as bytes (must be 4-byte aligned).
#[doc(hidden)]
pub fn arena_words(arena: &mut [u8]) -> Result<&mut [f32], Error> {
    let whole = arena.len() / 4 * 4;
    bytemuck::try_cast_slice_mut::<u8, f32>(&mut arena[..whole]).map_err(|_| Error::ArenaMisaligned)
}

/// The input-channel count of a preset macro's optional `in_channels: K` field: `K` when
/// given (a 2.5D preset: K adjacent slices), else 1 (a 2D preset). The macros pass the
/// field's tokens as a 0- or 1-element array.
#[doc(hidden)]
pub const fn in_channels(given: &[usize]) -> usize {
    if given.is_empty() {
        1
    } else {
        given[0]
    }
}

/// Sum of the blocks' multiply-accumulates.
pub const fn total_macs(blocks: &[BlockInfo]) -> u64 {
    let mut s = 0;
    let mut i = 0;
    while i < blocks.len() {
        s += blocks[i].macs;
        i += 1;
    }
    s
}

/// Implements [`Network`] for a preset module's `Net` from the items every preset macro defines
/// (`PRESET`, `IN_CHANNELS`, `SIZE`, `TABLE`, `PLAN`, `BLOCKS` and an inherent typed
/// `Net::forward`), so both architectures publish their figures the same way.
#[doc(hidden)]
#[macro_export]
macro_rules! impl_network {
    ($arch:expr) => {
        impl $crate::nets::Network for Net {
            const ARCHITECTURE: $crate::nets::Architecture = $arch;
            const PRESET: &'static str = PRESET;
            const INPUT: [usize; 3] = [IN_CHANNELS, SIZE, SIZE];
            const OUTPUT: [usize; 3] = [1, SIZE, SIZE];
            const PARAMS: &'static [$crate::params::ParamSpec] = &TABLE;
            const FINGERPRINT: u64 = $crate::params::fingerprint(&TABLE);
            const PARAM_COUNT: usize = $crate::params::count_elements(&TABLE, true);
            const MACS: u64 = $crate::nets::total_macs(&BLOCKS);
            const ARENA_BYTES: usize = PLAN.total;
            const BLOCKS: &'static [$crate::nets::BlockInfo] = &BLOCKS;

            fn forward_flat<'a, S: $crate::params::ParamSource + ?Sized>(
                params: &S,
                input: &[f32],
                arena: &'a mut [u8],
            ) -> Result<&'a [f32], $crate::Error> {
                let input = $crate::tensor::map_ref::<f32, IN_CHANNELS, SIZE, SIZE>(input).ok_or(
                    $crate::Error::InputShape {
                        expected: IN_CHANNELS * SIZE * SIZE,
                        found: input.len(),
                    },
                )?;
                Ok($crate::tensor::Flat::flat(Self::forward(
                    params, input, arena,
                )?))
            }
        }
    };
}
