//! The int8 engines of the networks, behind one trait.
//!
//! Each preset module of [`super::agcaf`] carries its int8 engine in a submodule `int8`
//! (`agcaf::edge::int8::forward`, `PLAN_INT8`, `ARENA_BYTES_INT8`); this trait lets code that
//! handles any network by its figures (the host's `segment`/`eval`, tests) call it.
//!
//! ```ignore
//! use hepaseg_core::blob::{Blob, SignaturePolicy};
//! use hepaseg_core::nets::{agcaf::AgcafEdge, Int8Network};
//! let blob = Blob::parse(bytes, SignaturePolicy::Optional)?;       // an int8 blob
//! let mut arena = vec![0u32; AgcafEdge::ARENA_BYTES_INT8.div_ceil(4)];
//! let (logits, q) = AgcafEdge::forward_int8_flat(&blob, &slice, bytemuck::cast_slice_mut(&mut arena))?;
//! let mask: Vec<bool> = logits.iter().map(|&v| q.is_positive(v)).collect();
//! ```

// Errors carry the failing tensor's name (no allocation), which makes `Int8Error` larger
// than clippy's default; it is only built on the error path.
#![allow(clippy::result_large_err)]

use super::Network;
use crate::blob::Blob;
use crate::int8::graph::{Int8Error, NoProbe, OutputQuant, Probe};

/// A network with an int8, integer-only forward pass over a quantized (scheme 1) blob.
pub trait Int8Network: Network {
    /// Bytes of arena the int8 forward pass needs (its compile-time plan).
    const ARENA_BYTES_INT8: usize;

    /// Runs the int8 forward pass on a flat `1 × H × W` `f32` input (a windowed slice,
    /// quantized once at the start with the blob's `act.input` point), reporting every
    /// activation point to `probe`. The int8 logits live in `arena` (4-byte aligned, at least
    /// [`Self::ARENA_BYTES_INT8`] bytes); their quantization comes with them.
    fn forward_int8_probe<'a>(
        blob: &Blob<'_>,
        input: &[f32],
        arena: &'a mut [u8],
        probe: &mut dyn Probe,
    ) -> Result<(&'a [i8], OutputQuant), Int8Error>;

    /// [`Self::forward_int8_probe`] without a probe.
    fn forward_int8_flat<'a>(
        blob: &Blob<'_>,
        input: &[f32],
        arena: &'a mut [u8],
    ) -> Result<(&'a [i8], OutputQuant), Int8Error> {
        Self::forward_int8_probe(blob, input, arena, &mut NoProbe)
    }
}
