//! `hepaseg segment`: tumour masks for new scans with the core engine.
//!
//! ```text
//! input (PNG | PNG dir | NIfTI | DICOM series)
//!   → planes in [0, 1] (volumes windowed, default [−200, 250] HU)
//!   → per slice: resize to the network input, forward (int8 or f32 core engine, one arena,
//!     reused; optionally averaged over flips), threshold, nearest-resize back to the slice
//!   → post-processing: [liver cascade: tumour ∩ largest liver component] [drop small parts]
//!   → mask PNGs (0/255) or a NIfTI mask with the input's geometry, overlays, a report
//! ```
//!
//! A PNG directory is treated as independent 2D slices (they may come from different
//! patients), so components are 8-connected per slice; a volume uses 26-connected 3D
//! components. A 2.5D network (k adjacent slices as input channels) gets each slice of a
//! volume with its neighbours, clamped at the volume ends ([`crate::data::stack`]); PNG input
//! has no neighbours, so a 2.5D network refuses it (use the volume, or `eval --data` on a
//! lits-png folder, whose slices are ordered per patient). Every output file is staged and renamed into place only when all of them
//! could be written ([`output::Staging`]): a failed run leaves no output behind.

pub mod components;
pub mod engine;
pub mod host_engine;
pub mod input;
pub mod output;
pub mod predict;
mod report;
pub mod tta;

pub use engine::{load as load_engine, BlobFile, EngineKind, SliceNet};
pub use tta::maybe_tta;

use crate::data::nifti_write::write_labels;
use crate::data::png_io::write_grey8;
use crate::data::stack::neighbours;
use crate::data::{Volume, Window};
use crate::eval::overlay::{Canvas, FP, LIVER};
use components::{keep_largest, label, remove_small};
use input::{is_nifti_name, CtVolume, Input, PngSlice};
use output::Staging;
use predict::Runner;
use report::Report;
use std::path::{Path, PathBuf};

/// The options of `hepaseg segment`.
#[derive(Debug, Clone, clap::Args)]
pub struct SegmentArgs {
    /// Tumour model: a weight blob (e.g. from `hepaseg export`).
    #[arg(long)]
    pub blob: PathBuf,
    /// Core engine: int8 (integer-only, as on the device; an int8 blob from `export
    /// --quantize int8`) or f32 (an f32 blob). The blob's scheme must match.
    #[arg(long, value_enum, default_value_t = EngineKind::Int8)]
    pub engine: EngineKind,
    /// Test-time augmentation: average the logits of the slice and its three flips
    /// (left–right, top–bottom, both); 4× the time.
    #[arg(long)]
    pub tta: bool,
    /// A PNG slice, a directory of PNG slices, a NIfTI volume (.nii, .nii.gz), or a DICOM
    /// series directory (or one DICOM file).
    pub input: PathBuf,
    /// Output: a directory for PNG input (one 0/255 mask PNG per slice, same file names); a
    /// .nii or .nii.gz file for a volume (the input's geometry; 1 = tumour, or with
    /// --liver-blob LiTS labels 1 = liver, 2 = tumour).
    #[arg(long)]
    pub out: PathBuf,
    /// Logit threshold (0 = probability 0.5).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub threshold: f32,
    /// Also write overlay PNGs (CT grey, tumour red, liver blue): OUT/overlays/ for PNG
    /// input, OUT-STEM_overlay/slice-NNNN.png beside a NIfTI mask.
    #[arg(long)]
    pub overlay: bool,
    /// Remove tumour components smaller than this many voxels (3D 26-connected for volumes,
    /// 2D 8-connected per PNG slice); 0 keeps everything.
    #[arg(long, default_value_t = 0)]
    pub min_size: usize,
    /// Liver model blob: keep tumour only inside the largest 3D connected liver component.
    #[arg(long)]
    pub liver_blob: Option<PathBuf>,
    /// Logit threshold of the liver model (default: --threshold).
    #[arg(long, allow_negative_numbers = true)]
    pub liver_threshold: Option<f32>,
    /// HU window LO,HI for volumes (PNG slices are taken as already windowed).
    #[arg(long, value_parser = crate::eval::parse_window, default_value = "-200,250", allow_hyphen_values = true)]
    pub window: Window,
    /// Require the blobs to be signed by this Ed25519 public key (KEY.pub).
    #[arg(long)]
    pub pubkey: Option<PathBuf>,
}

/// The networks of a run and their timings.
struct Nets<'a> {
    tumour: Box<dyn SliceNet + 'a>,
    liver: Option<Box<dyn SliceNet + 'a>>,
    tumour_runner: Runner,
    liver_runner: Runner,
    threshold: f32,
    liver_threshold: f32,
}

/// Where one slice's input planes come from: a PNG slice alone, or a volume's plane `z` with
/// its neighbours for a 2.5D network.
enum Planes<'v> {
    Png(&'v PngSlice),
    Volume {
        v: &'v CtVolume,
        z: usize,
        window: &'v Window,
    },
}

impl Planes<'_> {
    /// The input of a network taking `k` slices: the slice and its neighbours (clamped at the
    /// volume ends), channel after channel.
    fn stack(&self, k: usize) -> Vec<f32> {
        match *self {
            Planes::Png(s) => s.image.clone(),
            Planes::Volume { v, z, window } => {
                let d = v.ct.dims()[2];
                neighbours(z, d, k)
                    .flat_map(|q| v.plane(q, window))
                    .collect()
            }
        }
    }
}

impl Nets<'_> {
    /// Tumour mask and, with a liver model, liver mask of one slice (at its own size).
    fn slice(
        &mut self,
        planes: &Planes<'_>,
        width: usize,
        height: usize,
    ) -> Result<(Vec<bool>, Option<Vec<bool>>), String> {
        let input = planes.stack(self.tumour.input_channels());
        let t =
            self.tumour_runner
                .mask(self.tumour.as_mut(), &input, width, height, self.threshold)?;
        let l = match self.liver.as_mut() {
            Some(net) => {
                let input = planes.stack(net.input_channels());
                Some(self.liver_runner.mask(
                    net.as_mut(),
                    &input,
                    width,
                    height,
                    self.liver_threshold,
                )?)
            }
            None => None,
        };
        Ok((t, l))
    }

    /// Refuses PNG input for a 2.5D network (a PNG slice has no neighbours).
    fn check_png_input(&self, a: &SegmentArgs) -> Result<(), String> {
        let nets = std::iter::once((&self.tumour, &a.blob))
            .chain(self.liver.as_ref().zip(a.liver_blob.as_ref()));
        for (net, blob) in nets {
            let k = net.input_channels();
            if k > 1 {
                return Err(format!(
                    "{}: {} takes {k} adjacent slices per input (2.5D), but {} is PNG input,                      which has no neighbouring slices; segment a NIfTI volume or a DICOM                      series with it (or score a lits-png folder with `hepaseg eval --data`)",
                    blob.display(),
                    net.describe(),
                    a.input.display()
                ));
            }
        }
        Ok(())
    }
}

/// A mask after post-processing.
#[derive(Debug, Clone)]
pub struct Cleaned {
    /// Tumour voxels.
    pub tumour: Vec<bool>,
    /// The largest liver component, with a liver model.
    pub liver: Option<Vec<bool>>,
    /// Tumour components removed for being below `--min-size`.
    pub removed: usize,
    /// Voxels of each remaining tumour component, in raster order of first voxel.
    pub components: Vec<usize>,
}

/// The post-processing of one slice or volume (`dims = [w, h, d]`): the liver cascade keeps
/// tumour only inside the largest liver component, then components below `min_size` go.
pub fn postprocess(
    mut tumour: Vec<bool>,
    liver: Option<Vec<bool>>,
    dims: [usize; 3],
    min_size: usize,
) -> Cleaned {
    let liver = liver.map(|mut l| {
        keep_largest(&mut l, dims);
        for (t, &inside) in tumour.iter_mut().zip(&l) {
            *t &= inside;
        }
        l
    });
    let removed = remove_small(&mut tumour, dims, min_size);
    let components = label(&tumour, dims).sizes;
    Cleaned {
        tumour,
        liver,
        removed,
        components,
    }
}

/// An overlay: the slice in grey, liver faint blue, tumour red.
fn overlay(
    grey: &[f32],
    width: usize,
    height: usize,
    tumour: &[bool],
    liver: Option<&[bool]>,
) -> Canvas {
    let mut c = Canvas::grey(width, height, Some(grey));
    if let Some(l) = liver {
        c.tint(l, LIVER, 0.3);
    }
    c.tint(tumour, FP, 0.6);
    c
}

fn run_slices(
    a: &SegmentArgs,
    nets: &mut Nets<'_>,
    slices: &[PngSlice],
    rep: &mut Report,
) -> Result<Vec<PathBuf>, String> {
    if a.out.is_file() {
        return Err(format!(
            "{}: is a file; PNG input writes one mask per slice into a directory (--out DIR)",
            a.out.display()
        ));
    }
    nets.check_png_input(a)?;
    let mut results = Vec::with_capacity(slices.len());
    for s in slices {
        let (t, l) = nets.slice(&Planes::Png(s), s.width, s.height)?;
        let cleaned = postprocess(t, l, [s.width, s.height, 1], a.min_size);
        rep.add_slice(&s.name, &cleaned);
        results.push(cleaned);
    }
    let mut staging = Staging::new();
    staging.dir(&a.out)?;
    for (s, c) in slices.iter().zip(&results) {
        let pixels: Vec<u8> = c.tumour.iter().map(|&v| if v { 255 } else { 0 }).collect();
        staging.add(&a.out.join(&s.name), |p| {
            write_grey8(p, s.width, s.height, &pixels)
        })?;
        if a.overlay {
            let pic = overlay(&s.image, s.width, s.height, &c.tumour, c.liver.as_deref());
            staging.add(&a.out.join("overlays").join(&s.name), |p| pic.write_png(p))?;
        }
    }
    staging.commit()
}

/// `mask.nii.gz` → `mask_overlay` beside it.
fn overlay_dir(out: &Path) -> PathBuf {
    let name = out
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lower = name.to_ascii_lowercase();
    let stem_len = if lower.ends_with(".nii.gz") {
        name.len() - 7
    } else if lower.ends_with(".nii") {
        name.len() - 4
    } else {
        name.len()
    };
    out.with_file_name(format!("{}_overlay", &name[..stem_len]))
}

fn run_volume(
    a: &SegmentArgs,
    nets: &mut Nets<'_>,
    v: &CtVolume,
    rep: &mut Report,
) -> Result<Vec<PathBuf>, String> {
    if !is_nifti_name(&a.out) {
        return Err(format!(
            "{}: a volume's mask is written as NIfTI: give --out a name ending in .nii or .nii.gz",
            a.out.display()
        ));
    }
    let dims = v.ct.dims();
    let [w, h, d] = dims;
    let mut tumour = Vec::with_capacity(w * h * d);
    let mut liver = nets.liver.is_some().then(|| Vec::with_capacity(w * h * d));
    for z in 0..d {
        let planes = Planes::Volume {
            v,
            z,
            window: &a.window,
        };
        let (t, l) = nets.slice(&planes, w, h)?;
        tumour.extend(t);
        if let (Some(all), Some(l)) = (liver.as_mut(), l) {
            all.extend(l);
        }
    }
    let cleaned = postprocess(tumour, liver, dims, a.min_size);
    rep.set_volume(v, &cleaned);
    // LiTS labels with a cascade (1 liver, 2 tumour), else 1 = tumour.
    let labels: Vec<u8> = match &cleaned.liver {
        Some(l) => cleaned
            .tumour
            .iter()
            .zip(l)
            .map(|(&t, &l)| if t { 2 } else { u8::from(l) })
            .collect(),
        None => cleaned.tumour.iter().map(|&t| u8::from(t)).collect(),
    };
    let mask = Volume::new(dims, labels, v.ct.geometry().clone())
        .ok_or("internal error: mask size differs from the volume")?;
    let mut staging = Staging::new();
    staging.add(&a.out, |p| write_labels(p, &mask))?;
    if a.overlay {
        let dir = overlay_dir(&a.out);
        let plane_len = w * h;
        for z in 0..d {
            let range = z * plane_len..(z + 1) * plane_len;
            let pic = overlay(
                &v.plane(z, &a.window),
                w,
                h,
                &cleaned.tumour[range.clone()],
                cleaned.liver.as_ref().map(|l| &l[range]),
            );
            staging.add(&dir.join(format!("slice-{z:04}.png")), |p| pic.write_png(p))?;
        }
    }
    staging.commit()
}

/// Runs `hepaseg segment`; returns the report.
pub fn run(a: &SegmentArgs) -> Result<String, String> {
    let liver_threshold = a.liver_threshold.unwrap_or(a.threshold);
    if !a.threshold.is_finite() || !liver_threshold.is_finite() {
        return Err("--threshold and --liver-threshold must be finite logits".into());
    }
    let input = input::load(&a.input)?;
    let key = a
        .pubkey
        .as_deref()
        .map(crate::blob::load_public_key)
        .transpose()
        .map_err(|e| e.to_string())?;
    let tumour_blob = BlobFile::read(&a.blob)?;
    let liver_blob = a.liver_blob.as_deref().map(BlobFile::read).transpose()?;
    let mut nets = Nets {
        tumour: maybe_tta(load_engine(&tumour_blob, a.engine, key.as_ref())?, a.tta),
        liver: liver_blob
            .as_ref()
            .map(|b| load_engine(b, a.engine, key.as_ref()).map(|n| maybe_tta(n, a.tta)))
            .transpose()?,
        tumour_runner: Runner::new(),
        liver_runner: Runner::new(),
        threshold: a.threshold,
        liver_threshold,
    };
    let mut rep = Report::new(&a.input, &input, nets.tumour.describe(), a.min_size);
    if let Some(l) = &nets.liver {
        rep.liver_net = Some(l.describe());
    }
    let written = match &input {
        Input::Slices(s) => run_slices(a, &mut nets, s, &mut rep)?,
        Input::Volume(v) => run_volume(a, &mut nets, v, &mut rep)?,
    };
    rep.timing(
        &nets.tumour_runner,
        nets.liver.as_ref().map(|_| &nets.liver_runner),
    );
    Ok(rep.render(&written))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cascade_keeps_tumour_in_the_largest_liver_then_drops_small_parts() {
        // 6×3×1: liver blobs at x 0..3 (9 voxels) and x 5 (3 voxels); tumour at x 1..3 of the
        // top row (2 voxels), at (1, 2) (1 voxel, 8-connected to neither), and at x 5 (outside
        // the largest liver).
        let dims = [6, 3, 1];
        let at = |f: &dyn Fn(usize, usize) -> bool| -> Vec<bool> {
            (0..18).map(|i| f(i % 6, i / 6)).collect()
        };
        let liver = at(&|x, _| x < 3 || x == 5);
        let tumour = at(&|x, y| (y == 0 && (1..3).contains(&x)) || (x, y) == (1, 2) || x == 5);
        let c = postprocess(tumour.clone(), Some(liver), dims, 0);
        assert_eq!(c.components, vec![2, 1]);
        assert_eq!(
            c.liver.as_ref().map(|l| l.iter().filter(|&&v| v).count()),
            Some(9)
        );
        let c = postprocess(tumour, Some(at(&|x, _| x < 3 || x == 5)), dims, 2);
        assert_eq!((c.components, c.removed), (vec![2], 1));
        let c = postprocess(at(&|x, _| x == 5), None, dims, 0);
        assert_eq!(c.components, vec![3]);
    }
}
