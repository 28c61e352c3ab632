//! The core inference engine behind `segment` (and `eval --blob`): a weight blob loaded once,
//! bound to its concrete network type, with one arena reused for every slice.
//!
//! The blob names its network (architecture, preset, fingerprint); [`load`] finds the matching
//! core type through the registry and hides it behind [`SliceNet`], so the rest of the
//! pipeline handles any network alike. Everything a slice needs is allocated here, once: the
//! arena of exactly `N::ARENA_BYTES` (f32) or `N::ARENA_BYTES_INT8` (int8), as the device
//! would have it.
//!
//! The int8 engine's logits are handed on dequantized (`scale · (q − zero_point)`), so the
//! rest of the pipeline (thresholds, test-time augmentation) is the same for both engines;
//! `dequantize(q) > 0` is exactly the device's integer decision `q > zero_point`.

use crate::blob::networks::model_of;
use crate::quant::report::AlignedBytes;
use crate::registry::with_network;
use hepaseg_core::blob::{Blob, BlobError, BlobParams, QuantScheme, SignaturePolicy};
use hepaseg_core::nets::{Int8Network, Network};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

/// Which core engine runs the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum EngineKind {
    /// The integer-only int8 engine (an int8 blob from `export --quantize int8`), as on the
    /// device.
    #[default]
    Int8,
    /// The f32 reference engine (an f32 blob, e.g. from `export --checkpoint` or
    /// `--random-init`).
    F32,
}

impl EngineKind {
    /// The blob scheme this engine runs.
    pub fn scheme(self) -> QuantScheme {
        match self {
            EngineKind::Int8 => QuantScheme::Int8PerChannel,
            EngineKind::F32 => QuantScheme::F32,
        }
    }

    /// `int8` / `f32`, as on the command line.
    pub fn name(self) -> &'static str {
        match self {
            EngineKind::Int8 => "int8",
            EngineKind::F32 => "f32",
        }
    }
}

/// A blob file's bytes at an 8-byte aligned address (core's typed views need 4).
#[derive(Debug)]
pub struct BlobFile {
    path: PathBuf,
    bytes: AlignedBytes,
}

impl BlobFile {
    /// Reads `path` into aligned memory.
    pub fn read(path: &Path) -> Result<Self, String> {
        let bytes =
            std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        Ok(Self {
            path: path.to_path_buf(),
            bytes: AlignedBytes::new(&bytes),
        })
    }

    /// The blob's bytes.
    pub fn bytes(&self) -> &[u8] {
        self.bytes.bytes()
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
    /// Input `[height, width]` of each channel.
    fn input_hw(&self) -> [usize; 2];
    /// Input channels: 1, or k for a 2.5D network (the slice and its k − 1 neighbours,
    /// [`crate::data::stack`]).
    fn input_channels(&self) -> usize;
    /// Output `[channels, height, width]`.
    fn output_shape(&self) -> [usize; 3];
    /// Runs one preprocessed input (`K × H × W`, values in `[0, 1]`) and copies the logits
    /// (`C × H × W`) into `logits`.
    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String>;
}

/// The f32 engine for network `N`: the blob's parameters borrowed in place and one arena.
struct F32Net<'a, N> {
    params: BlobParams<'a>,
    /// `N::ARENA_BYTES`, 8-byte aligned.
    arena: AlignedBytes,
    _net: PhantomData<N>,
}

impl<N: Network> SliceNet for F32Net<'_, N> {
    fn describe(&self) -> String {
        format!("{} {} (f32 engine)", N::ARCHITECTURE.name(), N::PRESET)
    }

    fn input_hw(&self) -> [usize; 2] {
        [N::INPUT[1], N::INPUT[2]]
    }

    fn input_channels(&self) -> usize {
        N::INPUT[0]
    }

    fn output_shape(&self) -> [usize; 3] {
        N::OUTPUT
    }

    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String> {
        let out = N::forward_flat(&self.params, input, self.arena.bytes_mut())
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
        arena: AlignedBytes::zeroed(N::ARENA_BYTES),
        _net: PhantomData,
    }))
}

/// The int8 engine for network `N`: the blob borrowed in place and one arena.
struct Int8Net<'a, N> {
    blob: Blob<'a>,
    /// `N::ARENA_BYTES_INT8`, 8-byte aligned.
    arena: AlignedBytes,
    _net: PhantomData<N>,
}

impl<N: Int8Network> SliceNet for Int8Net<'_, N> {
    fn describe(&self) -> String {
        format!("{} {} (int8 engine)", N::ARCHITECTURE.name(), N::PRESET)
    }

    fn input_hw(&self) -> [usize; 2] {
        [N::INPUT[1], N::INPUT[2]]
    }

    fn input_channels(&self) -> usize {
        N::INPUT[0]
    }

    fn output_shape(&self) -> [usize; 3] {
        N::OUTPUT
    }

    fn infer(&mut self, input: &[f32], logits: &mut Vec<f32>) -> Result<(), String> {
        let (q, quant) = N::forward_int8_flat(&self.blob, input, self.arena.bytes_mut())
            .map_err(|e| format!("int8 forward pass failed: {e}"))?;
        logits.clear();
        logits.extend(q.iter().map(|&v| quant.dequantize(v)));
        Ok(())
    }
}

/// Binds an int8 blob to network `N` (architecture, preset, fingerprint, alignment; the
/// engine checks each tensor by name when it runs) and allocates the arena.
fn build_int8<'a, N: Int8Network + 'static>(
    blob: Blob<'a>,
) -> Result<Box<dyn SliceNet + 'a>, BlobError> {
    blob.check_network::<N>()?;
    Ok(Box::new(Int8Net::<N> {
        blob,
        arena: AlignedBytes::zeroed(N::ARENA_BYTES_INT8),
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
    let policy = pubkey.map_or(SignaturePolicy::Optional, SignaturePolicy::Required);
    let parsed = Blob::parse(blob.bytes(), policy)
        .map_err(|e| format!("{file}: invalid weight blob: {e}"))?;
    let h = *parsed.header();
    if h.scheme != kind.scheme() {
        return Err(match kind {
            EngineKind::Int8 => format!(
                "{file}: an f32 blob, but the int8 engine (the default) needs an int8 blob: \
                 quantize it with `hepaseg export --quantize int8 --calib DIR`, or run it with \
                 --engine f32"
            ),
            EngineKind::F32 => format!(
                "{file}: an int8 blob, but the f32 engine needs an f32 blob: run it with \
                 --engine int8"
            ),
        });
    }
    let model = model_of(h.architecture);
    let preset = h.preset.as_str();
    let built = match kind {
        EngineKind::F32 => with_network!(model, preset, build_f32, parsed),
        EngineKind::Int8 => with_network!(model, preset, build_int8, parsed),
    };
    built
        .ok_or_else(|| {
            format!(
                "{file}: preset `{preset}` of {} is unknown to this build",
                model.name()
            )
        })?
        .map_err(|e| format!("{file}: blob does not fit {} {preset}: {e}", model.name()))
}
