//! `hepaseg synth`: a phantom dataset on disk in every layout the readers understand.
//!
//! Output folder:
//!
//! ```text
//! OUT/                      lits-png: volume-S_I.png, segmentation-S_{liver,lesion}mask_I.png,
//!                           lits_df.csv (Kaggle columns, *_empty flags inverted like Kaggle's)
//! OUT/nifti/                LiTS: volume-S.nii (int16, scl_inter −1024), segmentation-S.nii
//! OUT/msd/Task03_Liver/     MSD: dataset.json, imagesTr/liver_S.nii.gz, labelsTr/liver_S.nii.gz
//! OUT/synth.json            the parameters (written last: its presence means "complete")
//! ```
//!
//! All three hold the same volumes: the PNGs are the NIfTI CT windowed to [−200, 250] HU.

use super::atomic::{create_dir, write_bytes_atomic};
use super::error::DataError;
use super::lits_nifti;
use super::lits_png_write::{write_index, write_volume, IndexRow};
use super::msd;
use super::phantom::{generate_with, Phantom, PhantomConfig};
use super::rng::derive_seed;
use super::window::Window;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Stream id of the per-volume phantom seeds.
const PHANTOM_STREAM: u64 = 0x0050_4841_4e54_4f4d; // "PHANTOM"

/// The seed of phantom `volume` of a dataset synthesised with `seed`.
pub fn volume_seed(seed: u64, volume: usize) -> u64 {
    derive_seed(seed, &[PHANTOM_STREAM, volume as u64])
}

/// What `synth` wrote.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthReport {
    /// The output folder (the lits-png dataset).
    pub out: PathBuf,
    /// The LiTS NIfTI folder.
    pub nifti_dir: PathBuf,
    /// The MSD folder.
    pub msd_dir: PathBuf,
    /// Volumes (patients).
    pub volumes: usize,
    /// Slices per volume.
    pub slices: usize,
    /// Slice side in pixels.
    pub size: usize,
    /// The seed.
    pub seed: u64,
    /// Slices with liver.
    pub liver_slices: usize,
    /// Slices with tumour.
    pub tumor_slices: usize,
    /// Lesions placed.
    pub lesions: usize,
    /// Wall time in seconds.
    pub seconds: f64,
}

impl fmt::Display for SynthReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.volumes * self.slices;
        writeln!(
            f,
            "synthesised {} volumes × {} slices of {}×{} (seed {}) in {:.1} s",
            self.volumes, self.slices, self.size, self.size, self.seed, self.seconds
        )?;
        writeln!(
            f,
            "  {} slices: {} with liver, {} with tumour; {} lesions",
            total, self.liver_slices, self.tumor_slices, self.lesions
        )?;
        writeln!(f, "  lits-png: {}", self.out.display())?;
        writeln!(f, "  LiTS NIfTI: {}", self.nifti_dir.display())?;
        write!(f, "  MSD Task03_Liver: {}", self.msd_dir.display())
    }
}

/// Refuses an existing non-empty folder (stale files of another dataset would be read with ours).
fn check_empty(out: &Path) -> Result<(), DataError> {
    match std::fs::read_dir(out) {
        Ok(mut it) => {
            if it.next().is_some() {
                return Err(DataError::Config(format!(
                    "{} is not empty; choose a new or empty directory",
                    out.display()
                )));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(DataError::read(out, e)),
    }
}

/// Generates the phantoms of `studies` and writes them in the lits-png and LiTS layouts.
fn make_and_write(
    out: &Path,
    nifti_dir: &Path,
    studies: &[usize],
    config: &PhantomConfig,
    seed: u64,
) -> Result<Vec<(usize, Phantom, Vec<IndexRow>)>, DataError> {
    let window = Window::default();
    let mut done = Vec::with_capacity(studies.len());
    for &v in studies {
        let p = generate_with(config, volume_seed(seed, v))?;
        let rows = write_volume(out, v as u32, &p.ct, &p.labels, &window)?;
        lits_nifti::write_pair(nifti_dir, v as u32, &p.ct, &p.labels, false)?;
        done.push((v, p, rows));
    }
    Ok(done)
}

/// Writes a phantom dataset of `volumes` volumes, each `size × size × slices`, seeded by `seed`,
/// into `out` (created; must be new or empty). Volumes are generated on all cores.
pub fn synth(
    out: &Path,
    volumes: usize,
    size: usize,
    slices: usize,
    seed: u64,
) -> Result<SynthReport, DataError> {
    synth_with(out, volumes, &PhantomConfig::new(size, slices), seed)
}

/// [`synth`] with explicit phantom settings (lesion sizes, noise).
pub fn synth_with(
    out: &Path,
    volumes: usize,
    config: &PhantomConfig,
    seed: u64,
) -> Result<SynthReport, DataError> {
    let start = Instant::now();
    let (size, slices) = (config.size, config.slices);
    if volumes == 0 {
        return Err(DataError::Config("synth needs at least one volume".into()));
    }
    // Fail on bad settings before creating anything.
    config.validate()?;
    check_empty(out)?;
    let nifti_dir = out.join("nifti");
    let msd_dir = out.join("msd").join("Task03_Liver");
    create_dir(out)?;
    create_dir(&nifti_dir)?;
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(volumes);
    let all: Vec<usize> = (0..volumes).collect();
    let parts: Vec<Result<_, DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<usize> = all.iter().copied().skip(t).step_by(threads).collect();
                let nifti_dir = &nifti_dir;
                s.spawn(move || make_and_write(out, nifti_dir, &mine, config, seed))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(DataError::Loader("a synth thread panicked".into())))
            })
            .collect()
    });
    let mut made = Vec::with_capacity(volumes);
    for p in parts {
        made.extend(p?);
    }
    made.sort_by_key(|(v, _, _)| *v);
    let rows: Vec<IndexRow> = made
        .iter()
        .flat_map(|(_, _, r)| r.iter().cloned())
        .collect();
    write_index(&out.join("lits_df.csv"), &rows)?;
    let msd_items: Vec<_> = made
        .iter()
        .map(|(v, p, _)| (*v as u32, &p.ct, &p.labels))
        .collect();
    msd::write(&msd_dir, &msd_items)?;
    let report = SynthReport {
        out: out.to_path_buf(),
        nifti_dir,
        msd_dir,
        volumes,
        slices,
        size,
        seed,
        liver_slices: rows.iter().filter(|r| r.has_liver).count(),
        tumor_slices: rows.iter().filter(|r| r.has_tumor).count(),
        lesions: made.iter().map(|(_, p, _)| p.lesions.len()).sum(),
        seconds: start.elapsed().as_secs_f64(),
    };
    let manifest = serde_json::json!({
        "generator": "hepaseg synth",
        "volumes": volumes,
        "size": size,
        "slices": slices,
        "seed": seed,
        "lesion_diameter_mm": [config.lesion_diameter_mm.0, config.lesion_diameter_mm.1],
        "max_lesions": config.max_lesions,
        "noise_sigma_hu": [config.noise_sigma_hu.0, config.noise_sigma_hu.1],
        "window_hu": [Window::default().lo(), Window::default().hi()],
        "liver_slices": report.liver_slices,
        "tumor_slices": report.tumor_slices,
        "lesions": report.lesions,
    });
    write_bytes_atomic(&out.join("synth.json"), manifest.to_string().as_bytes())?;
    Ok(report)
}
