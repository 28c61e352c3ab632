//! f32 vs int8: both of core's engines on the same slices, compared logit by logit and mask by
//! mask, and per activation point.

use super::graph::Observer;
use hepaseg_core::blob::{Blob, SignaturePolicy};
use hepaseg_core::int8::graph::{OutputQuant, Probe};
use hepaseg_core::nets::Int8Network;
use hepaseg_core::params::SliceParams;
use std::collections::BTreeMap;
use std::fmt;

/// Bytes at an 8-byte aligned address (typed blob views need 4).
#[derive(Debug, Clone)]
pub struct AlignedBytes {
    words: Vec<u64>,
    len: usize,
}

impl AlignedBytes {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Self {
        let mut words = vec![0u64; bytes.len().div_ceil(8)];
        bytemuck::cast_slice_mut::<u64, u8>(&mut words)[..bytes.len()].copy_from_slice(bytes);
        Self {
            words,
            len: bytes.len(),
        }
    }

    /// `len` zero bytes.
    pub fn zeroed(len: usize) -> Self {
        Self {
            words: vec![0u64; len.div_ceil(8)],
            len,
        }
    }

    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice::<u64, u8>(&self.words)[..self.len]
    }

    /// The bytes, mutably.
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut::<u64, u8>(&mut self.words)[..self.len]
    }
}

/// One slice to compare on: the input and, if known, the ground-truth mask.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalSlice {
    /// `size × size` input in `[0, 1]`.
    pub image: Vec<f32>,
    /// Ground truth (0/1), if any.
    pub mask: Option<Vec<f32>>,
}

/// What the comparison measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Slices compared.
    pub slices: usize,
    /// Pixels compared.
    pub pixels: usize,
    /// Largest `|f32 − dequantized int8|` logit difference.
    pub max_logit_error: f64,
    /// Mean of the same.
    pub mean_logit_error: f64,
    /// Range of the f32 logits (`max − min`), for scale.
    pub logit_range: f64,
    /// Fraction of pixels whose mask (logit > 0) agrees.
    pub pixel_agreement: f64,
    /// Pooled Dice of the int8 masks against the f32 masks (1 when both are empty).
    pub dice_int8_vs_f32: f64,
    /// Pooled Dice of the f32 masks against the ground truth (slices with one).
    pub dice_f32: Option<f64>,
    /// The same for the int8 masks.
    pub dice_int8: Option<f64>,
    /// The logits' int8 quantization.
    pub output: OutputQuant,
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "f32 vs int8 on {} slices ({} pixels), logits at scale {:.5}, zero point {}:",
            self.slices, self.pixels, self.output.scale, self.output.zero_point
        )?;
        writeln!(
            f,
            "  logit error: max {:.5}, mean {:.5} (f32 logit range {:.3})",
            self.max_logit_error, self.mean_logit_error, self.logit_range
        )?;
        writeln!(
            f,
            "  masks (logit > 0): pixel agreement {:.4} %, Dice int8 vs f32 {:.4}",
            100.0 * self.pixel_agreement,
            self.dice_int8_vs_f32
        )?;
        if let (Some(a), Some(b)) = (self.dice_f32, self.dice_int8) {
            write!(
                f,
                "  Dice against ground truth: f32 {a:.4}, int8 {b:.4} (difference {:+.4})",
                b - a
            )?;
        }
        Ok(())
    }
}

fn dice(tp: usize, a: usize, b: usize) -> f64 {
    if a + b == 0 {
        1.0
    } else {
        2.0 * tp as f64 / (a + b) as f64
    }
}

/// Pooled overlap counts.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Overlap {
    tp: usize,
    a: usize,
    b: usize,
}

impl Overlap {
    pub(super) fn add(&mut self, x: bool, y: bool) {
        self.tp += usize::from(x && y);
        self.a += usize::from(x);
        self.b += usize::from(y);
    }
    pub(super) fn dice(&self) -> f64 {
        dice(self.tp, self.a, self.b)
    }
}

/// Runs core's f32 engine (`values`) and int8 engine (`blob`) of network `N` on `slices` and
/// compares them.
pub fn compare<N: Int8Network>(
    blob: &[u8],
    values: &[Vec<f32>],
    slices: &[EvalSlice],
) -> Result<Comparison, String> {
    let aligned = AlignedBytes::new(blob);
    let blob =
        Blob::parse(aligned.bytes(), SignaturePolicy::Optional).map_err(|e| e.to_string())?;
    let tensors: Vec<&[f32]> = values.iter().map(Vec::as_slice).collect();
    let params = SliceParams { tensors: &tensors };
    let mut arena32 = AlignedBytes::zeroed(N::ARENA_BYTES);
    let mut arena8 = AlignedBytes::zeroed(N::ARENA_BYTES_INT8);
    let (mut max_err, mut sum_err, mut pixels) = (0f64, 0f64, 0usize);
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let (mut agree, mut vs, mut gt32, mut gt8) = (
        0usize,
        Overlap::default(),
        Overlap::default(),
        Overlap::default(),
    );
    let mut any_gt = false;
    let mut output = OutputQuant {
        scale: 1.0,
        zero_point: 0,
    };
    for s in slices {
        let f = N::forward_flat(&params, &s.image, arena32.bytes_mut())
            .map_err(|e| e.to_string())?
            .to_vec();
        let (q, oq) =
            N::forward_int8_flat(&blob, &s.image, arena8.bytes_mut()).map_err(|e| e.to_string())?;
        output = oq;
        for (i, (&a, &b)) in f.iter().zip(q).enumerate() {
            let (a64, b64) = (f64::from(a), f64::from(oq.dequantize(b)));
            let e = (a64 - b64).abs();
            max_err = max_err.max(e);
            sum_err += e;
            lo = lo.min(a64);
            hi = hi.max(a64);
            let (m32, m8) = (a > 0.0, oq.is_positive(b));
            agree += usize::from(m32 == m8);
            vs.add(m8, m32);
            if let Some(gt) = &s.mask {
                let g = gt[i] > 0.5;
                gt32.add(m32, g);
                gt8.add(m8, g);
                any_gt = true;
            }
        }
        pixels += f.len();
    }
    Ok(Comparison {
        slices: slices.len(),
        pixels,
        max_logit_error: max_err,
        mean_logit_error: sum_err / pixels.max(1) as f64,
        logit_range: if hi >= lo { hi - lo } else { 0.0 },
        pixel_agreement: agree as f64 / pixels.max(1) as f64,
        dice_int8_vs_f32: vs.dice(),
        dice_f32: any_gt.then(|| gt32.dice()),
        dice_int8: any_gt.then(|| gt8.dice()),
        output,
    })
}

/// Collects probe / observer values per point, concatenating chunks.
#[derive(Debug, Default, Clone)]
pub struct Recorder<T> {
    /// Values per point name (without the `act.` prefix).
    pub values: BTreeMap<String, Vec<T>>,
    /// Quantization per point (probes only).
    pub quant: BTreeMap<String, OutputQuant>,
}

impl Probe for Recorder<i8> {
    fn observe(&mut self, name: &str, point: OutputQuant, values: &[i8]) {
        let name = name.strip_prefix("act.").unwrap_or(name).to_owned();
        self.quant.insert(name.clone(), point);
        self.values
            .entry(name)
            .or_default()
            .extend_from_slice(values);
    }
}

impl Observer for Recorder<f32> {
    fn observe(&mut self, point: &str, values: &[f32]) {
        self.values
            .entry(point.to_owned())
            .or_default()
            .extend_from_slice(values);
    }
}

/// The int8 error at one activation point on one slice.
#[derive(Debug, Clone, PartialEq)]
pub struct PointError {
    /// Point name.
    pub point: String,
    /// Its scale.
    pub scale: f32,
    /// Largest `|f32 − dequantized int8|`.
    pub max_abs: f64,
    /// Mean of the same.
    pub mean_abs: f64,
    /// `max_abs / scale`: the error in LSBs.
    pub max_lsb: f64,
}

/// Compares the int8 values a probe saw with the `f32` values the calibration forward saw,
/// point by point (points only one side reports are skipped), in execution order of `order`.
pub fn point_errors(
    order: &[String],
    int8: &Recorder<i8>,
    f32s: &Recorder<f32>,
) -> Vec<PointError> {
    order
        .iter()
        .filter_map(|p| {
            let (q, f, oq) = (int8.values.get(p)?, f32s.values.get(p)?, int8.quant.get(p)?);
            if q.len() != f.len() || q.is_empty() {
                return None;
            }
            let (mut max_abs, mut sum) = (0f64, 0f64);
            for (&a, &b) in q.iter().zip(f) {
                let e = (f64::from(oq.dequantize(a)) - f64::from(b)).abs();
                max_abs = max_abs.max(e);
                sum += e;
            }
            Some(PointError {
                point: p.clone(),
                scale: oq.scale,
                max_abs,
                mean_abs: sum / q.len() as f64,
                max_lsb: max_abs / f64::from(oq.scale),
            })
        })
        .collect()
}

/// The per-point errors of network `N`'s int8 engine (blob `blob`) against its calibration
/// forward (`calib`, parameters `values`) on one slice, in execution order.
pub fn point_errors_on<N: hepaseg_core::nets::Int8Network>(
    calib: &super::Calib,
    blob: &[u8],
    values: &[Vec<f32>],
    slice: &[f32],
) -> Result<Vec<PointError>, String> {
    let aligned = AlignedBytes::new(blob);
    let b = Blob::parse(aligned.bytes(), SignaturePolicy::Optional).map_err(|e| e.to_string())?;
    let mut arena = AlignedBytes::zeroed(N::ARENA_BYTES_INT8);
    let mut probe = Recorder::<i8>::default();
    N::forward_int8_probe(&b, slice, arena.bytes_mut(), &mut probe).map_err(|e| e.to_string())?;
    let params = super::graph::NamedParams::new(N::PARAMS, values)?;
    let mut seen = Recorder::<f32>::default();
    let mut trace = super::graph::Trace::default();
    let mut ctx = super::graph::Ctx::new(&params, &mut seen, Some(&mut trace));
    calib.forward(&mut ctx, slice)?;
    let order: Vec<String> = trace.ops.iter().map(|o| o.output().to_owned()).collect();
    Ok(point_errors(&order, &probe, &seen))
}
