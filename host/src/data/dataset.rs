//! [`Dataset`]: the slices of one dataset folder, whatever its layout, loadable by index.
//!
//! Opening a dataset only lists slices (and reads NIfTI headers); pixels are decoded when a
//! slice is loaded, so a 60 000-slice LiTS folder opens in seconds and the loader's background
//! thread does the decoding. A `Dataset` is cheap to clone and `Send + Sync`: clones share the
//! file list and the volume cache, which is how splits and loader threads use it.

use super::error::DataError;
use super::lits_png::{self, CsvSplit, PngSlice};
use super::prepare::{prepare, Target};
use super::stack::{check_channels, neighbours};
use super::volume_cache::{PreparedVolume, VolumeCache};
use super::volume_pair::VolumePair;
use super::window::Window;
use super::{lits_nifti, msd};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The on-disk layouts the readers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// Kaggle lits-png: flat folder of windowed PNG slices and masks, optional CSV index.
    LitsPng,
    /// Original LiTS: `volume-N.nii` + `segmentation-N.nii`.
    LitsNifti,
    /// Medical Segmentation Decathlon Task03_Liver: `dataset.json`, `imagesTr/`, `labelsTr/`.
    Msd,
}

/// How slices become network inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct DataConfig {
    /// Side of the square input (256 for the `paper`/`edge` presets, 64 for `tiny`).
    pub size: usize,
    /// Input channels: 1 (one slice), or an odd k for a 2.5D preset — the slice and its k − 1
    /// neighbours of the same patient ([`super::stack`]).
    pub channels: usize,
    /// What the masks mark.
    pub target: Target,
    /// HU window for NIfTI volumes (PNG slices are already windowed).
    pub window: Window,
    /// Memory budget of the prepared-volume cache (NIfTI layouts).
    pub cache_bytes: usize,
}

impl DataConfig {
    /// Input size `size`, one channel, tumour target, the [−200, 250] HU window, a 1 GiB
    /// volume cache.
    pub fn new(size: usize) -> Self {
        DataConfig {
            size,
            channels: 1,
            target: Target::Tumor,
            window: Window::default(),
            cache_bytes: 1 << 30,
        }
    }

    /// The same configuration with another target.
    pub fn with_target(mut self, target: Target) -> Self {
        self.target = target;
        self
    }

    /// The same configuration with `k` input channels (a 2.5D preset's slice count).
    pub fn with_channels(mut self, k: usize) -> Self {
        self.channels = k;
        self
    }

    fn validate(&self) -> Result<(), DataError> {
        if self.size == 0 || self.size > 4096 {
            return Err(DataError::Config(format!(
                "input size {} is out of range 1..=4096",
                self.size
            )));
        }
        check_channels(self.channels).map_err(DataError::Config)
    }
}

/// Which patient and which slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SliceId {
    /// Patient / volume number.
    pub study: u32,
    /// Slice number within the volume (z index for NIfTI).
    pub instance: u32,
}

/// Which slices to keep (used to restrict training slices).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SliceFilter {
    /// Every slice.
    #[default]
    All,
    /// Slices with any liver (or tumour) pixel.
    WithLiver,
    /// Slices with any tumour pixel.
    WithTumor,
}

/// One slice at the input size (with its neighbours for a 2.5D input).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Where it comes from.
    pub id: SliceId,
    /// Side length.
    pub size: usize,
    /// Intensities in `[0, 1]`, row-major: `channels` planes of `size × size`, the centre
    /// slice in the middle one ([`super::stack`]).
    pub image: Vec<f32>,
    /// Labels 0/1/2 of the centre slice, row-major.
    pub labels: Vec<u8>,
}

impl Sample {
    /// Input channels (planes of `image`).
    pub fn channels(&self) -> usize {
        self.image.len() / (self.size * self.size).max(1)
    }

    /// The centre slice's intensities (the whole image for one channel).
    pub fn centre(&self) -> &[f32] {
        let n = self.size * self.size;
        let c = self.channels() / 2;
        &self.image[c * n..(c + 1) * n]
    }

    /// The binary mask for `target`.
    pub fn mask(&self, target: Target) -> Vec<f32> {
        target.mask(&self.labels)
    }
}

#[derive(Debug, Clone, Copy)]
enum Source {
    Png(usize),
    Volume { volume: usize, z: usize },
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    id: SliceId,
    source: Source,
}

#[derive(Debug)]
struct Inner {
    root: PathBuf,
    layout: Layout,
    config: DataConfig,
    png: Vec<PngSlice>,
    /// lits-png: every patient's slice indices (into `png`) in instance order, and each
    /// slice's `(patient row, position)` in it — the neighbours of a 2.5D input.
    png_order: Vec<Vec<usize>>,
    png_place: Vec<(usize, usize)>,
    volumes: Vec<VolumePair>,
    cache: VolumeCache,
    csv_split: Option<CsvSplit>,
}

/// The slices of a dataset folder (or a subset of them: a split, a filter).
#[derive(Debug, Clone)]
pub struct Dataset {
    inner: Arc<Inner>,
    entries: Arc<[Entry]>,
}

/// Finds the layout of `root`: a manifest means MSD (also one level down in `Task03_Liver/`),
/// PNG slices or an index CSV mean lits-png, `volume-N.nii[.gz]` means LiTS NIfTI.
pub fn detect_layout(root: &Path) -> Result<(PathBuf, Layout), DataError> {
    if msd::detect(root) {
        return Ok((root.to_path_buf(), Layout::Msd));
    }
    let task = root.join("Task03_Liver");
    if msd::detect(&task) {
        return Ok((task, Layout::Msd));
    }
    if lits_png::detect(root) {
        return Ok((root.to_path_buf(), Layout::LitsPng));
    }
    if lits_nifti::detect(root) {
        return Ok((root.to_path_buf(), Layout::LitsNifti));
    }
    if root.exists() && !root.is_dir() {
        return Err(DataError::UnknownLayout {
            path: root.to_path_buf(),
            detail: "this is a file; a dataset is a folder (lits-png, LiTS NIfTI or MSD)".into(),
        });
    }
    if !root.is_dir() {
        return Err(DataError::MissingFile {
            path: root.to_path_buf(),
            needed_by: "the dataset (a directory)".into(),
        });
    }
    Err(DataError::UnknownLayout {
        path: root.to_path_buf(),
        detail: "expected lits-png (volume-S_I.png, lits_df.csv), LiTS NIfTI (volume-N.nii) \
                 or MSD (dataset.json)"
            .into(),
    })
}

impl Dataset {
    /// Opens the dataset in `root`, detecting its layout.
    pub fn open(root: &Path, config: DataConfig) -> Result<Dataset, DataError> {
        let (root, layout) = detect_layout(root)?;
        Dataset::open_as(&root, layout, config)
    }

    /// Opens `root` as `layout`.
    pub fn open_as(root: &Path, layout: Layout, config: DataConfig) -> Result<Dataset, DataError> {
        config.validate()?;
        let mut png = Vec::new();
        let mut volumes = Vec::new();
        let mut csv_split = None;
        let mut entries = Vec::new();
        match layout {
            Layout::LitsPng => {
                let index = lits_png::scan(root)?;
                csv_split = index.csv_split;
                png = index.slices;
                entries.extend(png.iter().enumerate().map(|(i, s)| Entry {
                    id: SliceId {
                        study: s.study,
                        instance: s.instance,
                    },
                    source: Source::Png(i),
                }));
            }
            Layout::LitsNifti | Layout::Msd => {
                volumes = if layout == Layout::Msd {
                    msd::scan(root)?
                } else {
                    lits_nifti::scan(root)?
                };
                for (v, pair) in volumes.iter().enumerate() {
                    for z in 0..pair.depth()? {
                        entries.push(Entry {
                            id: SliceId {
                                study: pair.study,
                                instance: z as u32,
                            },
                            source: Source::Volume { volume: v, z },
                        });
                    }
                }
            }
        }
        if entries.is_empty() {
            return Err(DataError::EmptyDataset {
                path: root.to_path_buf(),
                detail: "no slices".into(),
            });
        }
        let cache = VolumeCache::new(config.cache_bytes);
        let (png_order, png_place) = png_neighbour_order(&png);
        Ok(Dataset {
            inner: Arc::new(Inner {
                root: root.to_path_buf(),
                layout,
                config,
                png,
                png_order,
                png_place,
                volumes,
                cache,
                csv_split,
            }),
            entries: entries.into(),
        })
    }

    /// The dataset folder.
    pub fn root(&self) -> &Path {
        &self.inner.root
    }

    /// Its layout.
    pub fn layout(&self) -> Layout {
        self.inner.layout
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &DataConfig {
        &self.inner.config
    }

    /// Number of slices.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no slices (never true for an opened dataset; possible after a filter).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id of slice `i`.
    pub fn id(&self, i: usize) -> Option<SliceId> {
        self.entries.get(i).map(|e| e.id)
    }

    /// All slice ids, in index order.
    pub fn ids(&self) -> Vec<SliceId> {
        self.entries.iter().map(|e| e.id).collect()
    }

    /// The patients present, ascending.
    pub fn studies(&self) -> Vec<u32> {
        let set: BTreeSet<u32> = self.entries.iter().map(|e| e.id.study).collect();
        set.into_iter().collect()
    }

    /// The train/test patients of a lits-png folder with `lits_train.csv` + `lits_test.csv`.
    pub fn csv_split(&self) -> Option<&CsvSplit> {
        self.inner.csv_split.as_ref()
    }

    /// The volume files (NIfTI layouts; empty for lits-png).
    pub fn volume_pairs(&self) -> &[VolumePair] {
        &self.inner.volumes
    }

    fn volume(&self, v: usize) -> Result<Arc<PreparedVolume>, DataError> {
        let inner = &self.inner;
        let pair = inner
            .volumes
            .get(v)
            .ok_or_else(|| DataError::Config(format!("volume index {v} out of range")))?;
        inner.cache.get_or_load(v, || {
            PreparedVolume::load(pair, &inner.config.window, inner.config.size)
        })
    }

    fn out_of_range(&self, i: usize) -> DataError {
        DataError::Config(format!(
            "slice index {i} out of range (dataset has {})",
            self.len()
        ))
    }

    /// Loads slice `i` at the input size (no augmentation); for a 2.5D configuration, with its
    /// neighbours as extra channels ([`super::stack`]).
    pub fn load(&self, i: usize) -> Result<Sample, DataError> {
        let entry = *self.entries.get(i).ok_or_else(|| self.out_of_range(i))?;
        let (size, k) = (self.inner.config.size, self.inner.config.channels);
        let (image, labels) = match entry.source {
            Source::Png(p) => {
                let load = |q: usize| -> Result<_, DataError> {
                    Ok(prepare(&lits_png::load_slice(&self.inner.png[q])?, size))
                };
                let centre = load(p)?;
                if k == 1 {
                    (centre.image, centre.labels)
                } else {
                    let (row, pos) = self.inner.png_place[p];
                    let order = &self.inner.png_order[row];
                    let mut image = Vec::with_capacity(k * size * size);
                    for q in neighbours(pos, order.len(), k) {
                        if order[q] == p {
                            image.extend_from_slice(&centre.image);
                        } else {
                            image.extend(load(order[q])?.image);
                        }
                    }
                    (image, centre.labels)
                }
            }
            Source::Volume { volume, z } => {
                let v = self.volume(volume)?;
                let centre = v.slice(z).ok_or_else(|| self.out_of_range(i))?;
                let image = if k == 1 {
                    centre.image
                } else {
                    let n = size * size;
                    let mut image = Vec::with_capacity(k * n);
                    for q in neighbours(z, v.depth(), k) {
                        image.extend_from_slice(&v.images[q * n..(q + 1) * n]);
                    }
                    image
                };
                (image, centre.labels)
            }
        };
        Ok(Sample {
            id: entry.id,
            size,
            image,
            labels,
        })
    }

    /// Whether entry `e` passes `filter` (decodes only the mask it needs).
    fn passes(&self, e: &Entry, filter: SliceFilter) -> Result<bool, DataError> {
        let tumor = match filter {
            SliceFilter::All => return Ok(true),
            SliceFilter::WithLiver => false,
            SliceFilter::WithTumor => true,
        };
        match e.source {
            Source::Png(p) => lits_png::mask_has_foreground(&self.inner.png[p], tumor),
            Source::Volume { volume, z } => {
                let v = self.volume(volume)?;
                let flags = if tumor { &v.has_tumor } else { &v.has_liver };
                Ok(flags.get(z).copied().unwrap_or(false))
            }
        }
    }

    /// The slices that pass `filter`, judged on the masks' pixels at native resolution (never
    /// on CSV flags). Masks are scanned on all cores.
    pub fn filter(&self, filter: SliceFilter) -> Result<Dataset, DataError> {
        if filter == SliceFilter::All {
            return Ok(self.clone());
        }
        let keep = parallel_map(&self.entries, |e| self.passes(e, filter))?;
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .zip(keep)
            .filter_map(|(e, k)| k.then_some(*e))
            .collect();
        Ok(self.with_entries(entries))
    }

    /// The slices of the given patients.
    pub fn select_studies(&self, studies: &BTreeSet<u32>) -> Dataset {
        let entries: Vec<Entry> = self
            .entries
            .iter()
            .filter(|e| studies.contains(&e.id.study))
            .copied()
            .collect();
        self.with_entries(entries)
    }

    fn with_entries(&self, entries: Vec<Entry>) -> Dataset {
        Dataset {
            inner: Arc::clone(&self.inner),
            entries: entries.into(),
        }
    }
}

/// Each lits-png patient's slice indices in instance order, and every slice's place in them.
fn png_neighbour_order(png: &[PngSlice]) -> (Vec<Vec<usize>>, Vec<(usize, usize)>) {
    let mut by_study: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, s) in png.iter().enumerate() {
        by_study.entry(s.study).or_default().push(i);
    }
    let mut place = vec![(0, 0); png.len()];
    let order: Vec<Vec<usize>> = by_study
        .into_values()
        .enumerate()
        .map(|(row, mut idx)| {
            idx.sort_by_key(|&i| png[i].instance);
            for (pos, &i) in idx.iter().enumerate() {
                place[i] = (row, pos);
            }
            idx
        })
        .collect();
    (order, place)
}

/// Maps `f` over `items` on all available cores, keeping order; contiguous chunks keep the
/// slices of one volume on one thread (one decode per volume).
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R, DataError> + Sync,
) -> Result<Vec<R>, DataError> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len())
        .max(1);
    let chunk = items.len().div_ceil(threads).max(1);
    let results: Vec<Result<Vec<R>, DataError>> = std::thread::scope(|s| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|c| s.spawn(|| c.iter().map(&f).collect::<Result<Vec<R>, DataError>>()))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(DataError::Loader("a scan thread panicked".into())))
            })
            .collect()
    });
    let mut out = Vec::with_capacity(items.len());
    for r in results {
        out.extend(r?);
    }
    Ok(out)
}
