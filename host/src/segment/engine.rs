//! The core inference engine behind `segment` (and `eval --blob`): a weight blob loaded once,
//! bound to its concrete network type, with one arena reused for every slice.
//!
//! The blob names its network (architecture, preset, fingerprint); [`load`] finds the matching
//! core type through the registry and hides it behind [`SliceNet`], so the rest of the
//! pipeline handles any network alike. Everything a slice needs is allocated here, once: the
//! arena of exactly `N::ARENA_BYTES`, as the device would have it.

use crate::blob::networks::model_of;
use crate::registry::with_network;
use hepaseg_core::blob::{Blob, BlobError, BlobParams, QuantScheme, SignaturePolicy};
use hepaseg_core::nets::Network;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Which core engine runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineKind {
    /// The f32 reference engine (an f32 blob, e.g. from `export --random-init`).
    #[default]
    F32,
    /// The integer-only int8 engine (not available yet).
    Int8,
}

/// A blob file's bytes at an 8-byte aligned address (core's typed views need 4).
#[derive(Debug)]
pub struct BlobFile {
    path: PathBuf,
    words: Vec<u64>,
    len: usize,
}

impl BlobFile {
    /// Reads `path` into aligned memory.
    pub fn read(path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(&bytes);
        Ok(Self {
            path: path.to_path_buf(),
            words,
            len: bytes.len(),
        })
    }

    /// The blob's bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }

    /// The file it came from.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// One network ready to run slices.
pub trait SliceNet {
    /// `"agcaf-net tiny (f32 engine)"`.
    fn describe(&self) -> String;
    /// Input `[height, width]` (one channel).
    fn input_hw(&self) -> [usize; 2];
    /// Output `[channels, height, width]`.
    fn output_shape(&self) -> [usize; 3];
    /// Runs one preprocessed slice (`1 × H × W`, values in `[0, 1]`) and copies the logits
    /// (`C × H × W`) into `logits`.
    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String>;
}

/// The f32 engine for network `N`: the blob's parameters borrowed in place and one arena.
struct F32Net<'a, N> {
    params: BlobParams<'a>,
    /// `N::ARENA_BYTES`, as `u64` words for alignment.
    arena: Vec<u64>,
    _net: PhantomData<N>,
}

impl<N: Network> SliceNet for F32Net<'_, N> {
    fn describe(&self) -> String {
        format!("{} {} (f32 engine)", N::ARCHITECTURE.name(), N::PRESET)
    }

    fn input_hw(&self) -> [usize; 2] {
        [N::INPUT[1], N::INPUT[2]]
    }

    fn output_shape(&self) -> [usize; 3] {
        N::OUTPUT
    }

    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String> {
        let arena = &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.arena)[..N::ARENA_BYTES];
        let out = N::forward_flat(&self.params, input, arena)
            .map_err(|e| format!("f32 forward pass failed: {e:?}"))?;
        logits.clear();
        logits.extend_from_slice(out);
        Ok(())
    }
}

/// Binds an f32 blob to network `N` and allocates the arena.
fn build_f32<'a, N: Network + 'static>(
    blob: Blob<'a>,
) -> Result<Box<dyn SliceNet + 'a>, BlobError> {
    let params = BlobParams::new::<N>(blob)?;
    Ok(Box::new(F32Net::<N> {
        params,
        arena: vec![0u64; N::ARENA_BYTES.div_ceil(8)],
        _net: PhantomData,
    }))
}

/// Parses and validates `blob` (checksum; the signature too when `pubkey` is given, which then
/// requires one) and returns its network on the chosen engine.
pub fn load<'a>(
    blob: &'a BlobFile,
    kind: EngineKind,
    pubkey: Option<&[u8; 32]>,
) -> Result<Box<dyn SliceNet + 'a>, String> {
    let file = blob.path().display();
    if kind == EngineKind::Int8 {
        return Err(format!(
            "{file}: the int8 engine is not available yet; use --engine f32 with an f32 blob"
        ));
    }
    let policy = pubkey.map_or(SignaturePolicy::Optional, SignaturePolicy::Required);
    let parsed = Blob::parse(blob.bytes(), policy)
        .map_err(|e| format!("{file}: invalid weight blob: {e}"))?;
    let h = *parsed.header();
    if h.scheme != QuantScheme::F32 {
        return Err(format!(
            "{file}: a quantized ({:?}) blob; the f32 engine needs an f32 blob and the int8 \
             engine is not available yet",
            h.scheme
        ));
    }
    let model = model_of(h.architecture);
    let preset = h.preset.as_str();
    with_network!(model, preset, build_f32, parsed)
        .ok_or_else(|| {
            format!(
                "{file}: preset `{preset}` of {} is unknown to this build",
                model.name()
            )
        })?
        .map_err(|e| format!("{file}: blob does not fit {} {preset}: {e}", model.name()))
}
