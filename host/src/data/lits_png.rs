//! Reader of the Kaggle "lits-png" layout: a flat folder of windowed 8-bit CT slices and masks.
//!
//! Files: `volume-{study}_{slice}.png`, `segmentation-{study}_livermask_{slice}.png`,
//! `segmentation-{study}_lesionmask_{slice}.png`. An index `lits_df.csv` (or the pair
//! `lits_train.csv` + `lits_test.csv`, which also fixes the test patients) lists them with columns
//! `filepath, liver_maskpath, tumor_maskpath, study_number, instance_number, liver_mask_empty,
//! tumor_mask_empty`. The `*_empty` flags of the Kaggle files are inverted (`True` means the mask
//! is *not* empty), so this reader ignores them and reads the pixels. Without a CSV, slices are
//! paired by file name. CSV paths are often absolute Kaggle paths (`/kaggle/input/...`); a path
//! that does not exist is looked up by the longest tail of its path under the CSV's folder.
//! Images: 8-bit grey levels map 0..255 → 0..1 (the slices are already windowed); 16-bit grey
//! levels map 0..65535 → 0..1 (treated as windowed at higher precision, not as raw HU).

use super::csv::Table;
use super::error::DataError;
use super::png_io::{read_image, read_mask};
use super::volume::{LabeledSlice, BACKGROUND, LIVER, TUMOR};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The index file listing every slice.
pub const INDEX_CSV: &str = "lits_df.csv";
/// The index of the training patients (with [`TEST_CSV`], a predefined split).
pub const TRAIN_CSV: &str = "lits_train.csv";
/// The index of the test patients.
pub const TEST_CSV: &str = "lits_test.csv";

/// One slice of a lits-png dataset: where its three files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PngSlice {
    /// Patient / volume number.
    pub study: u32,
    /// Slice number within the volume.
    pub instance: u32,
    /// The CT slice.
    pub image: PathBuf,
    /// The liver mask (liver including tumours).
    pub liver: PathBuf,
    /// The lesion mask.
    pub tumor: PathBuf,
}

/// Train and test patients as listed by `lits_train.csv` / `lits_test.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CsvSplit {
    /// Studies of `lits_train.csv`.
    pub train: BTreeSet<u32>,
    /// Studies of `lits_test.csv`.
    pub test: BTreeSet<u32>,
}

/// How the slices were found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexSource {
    /// From `lits_df.csv`.
    Csv(PathBuf),
    /// From `lits_train.csv` and `lits_test.csv`.
    TrainTestCsv,
    /// By file name (no CSV present).
    FileNames,
}

/// The slices of a lits-png folder, sorted by (study, instance).
#[derive(Debug, Clone)]
pub struct PngIndex {
    /// The slices.
    pub slices: Vec<PngSlice>,
    /// The predefined split, when the folder has train and test CSVs.
    pub csv_split: Option<CsvSplit>,
    /// Where the list came from.
    pub source: IndexSource,
}

/// The file names of slice `instance` of `study`.
pub fn file_names(study: u32, instance: u32) -> [String; 3] {
    [
        format!("volume-{study}_{instance}.png"),
        format!("segmentation-{study}_livermask_{instance}.png"),
        format!("segmentation-{study}_lesionmask_{instance}.png"),
    ]
}

/// Parses `volume-{study}_{slice}.png`.
fn parse_volume_name(name: &str) -> Option<(u32, u32)> {
    let stem = name.strip_prefix("volume-")?.strip_suffix(".png")?;
    let (s, i) = stem.split_once('_')?;
    Some((s.parse().ok()?, i.parse().ok()?))
}

/// Parses `segmentation-{study}_{kind}mask_{slice}.png` into (study, slice).
fn parse_mask_name(name: &str) -> Option<(u32, u32)> {
    let stem = name.strip_prefix("segmentation-")?.strip_suffix(".png")?;
    let (s, rest) = stem.split_once('_')?;
    let i = rest
        .strip_prefix("livermask_")
        .or_else(|| rest.strip_prefix("lesionmask_"))?;
    Some((s.parse().ok()?, i.parse().ok()?))
}

/// Whether `dir` looks like a lits-png folder (an index CSV or at least one volume PNG).
pub fn detect(dir: &Path) -> bool {
    if [INDEX_CSV, TRAIN_CSV].iter().any(|f| dir.join(f).is_file()) {
        return true;
    }
    std::fs::read_dir(dir).is_ok_and(|mut it| {
        it.any(|e| e.is_ok_and(|e| parse_volume_name(&e.file_name().to_string_lossy()).is_some()))
    })
}

/// Finds the slices of the lits-png folder `dir` (CSV index when present, else file names).
pub fn scan(dir: &Path) -> Result<PngIndex, DataError> {
    let (train, test) = (dir.join(TRAIN_CSV), dir.join(TEST_CSV));
    let index = dir.join(INDEX_CSV);
    let (slices, csv_split, source) = if train.is_file() && test.is_file() {
        let tr = read_csv(&train, dir)?;
        let te = read_csv(&test, dir)?;
        let split = CsvSplit {
            train: tr.iter().map(|s| s.study).collect(),
            test: te.iter().map(|s| s.study).collect(),
        };
        (
            tr.into_iter().chain(te).collect(),
            Some(split),
            IndexSource::TrainTestCsv,
        )
    } else if index.is_file() {
        (read_csv(&index, dir)?, None, IndexSource::Csv(index))
    } else if train.is_file() {
        (read_csv(&train, dir)?, None, IndexSource::Csv(train))
    } else {
        (pair_by_name(dir)?, None, IndexSource::FileNames)
    };
    // Sort and de-duplicate (a slice listed in two CSVs counts once).
    let mut by_key = BTreeMap::new();
    for s in slices {
        by_key.entry((s.study, s.instance)).or_insert(s);
    }
    if by_key.is_empty() {
        return Err(DataError::EmptyDataset {
            path: dir.to_path_buf(),
            detail: "no lits-png slices (volume-{study}_{slice}.png) found".into(),
        });
    }
    Ok(PngIndex {
        slices: by_key.into_values().collect(),
        csv_split,
        source,
    })
}

/// Finds a CSV-listed file: as written (absolute, or relative to the CSV's folder), else by the
/// longest tail of its path that exists under the CSV's folder — so the Kaggle index's
/// `/kaggle/input/<set>/dataset_6/volume-0_0.png` finds `dataset_6/volume-0_0.png` or
/// `volume-0_0.png` next to the CSV.
fn resolve(dir: &Path, csv: &Path, line: usize, raw: &str) -> Result<PathBuf, DataError> {
    let given = Path::new(raw.trim());
    let direct = if given.is_absolute() {
        given.to_path_buf()
    } else {
        dir.join(given)
    };
    if direct.is_file() {
        return Ok(direct);
    }
    let parts: Vec<_> = given
        .components()
        .filter_map(|c| match c {
            std::path::Component::Normal(p) => Some(p),
            _ => None,
        })
        .collect();
    let Some(name) = parts.last() else {
        return Err(DataError::BadCsv {
            path: csv.to_path_buf(),
            line,
            detail: format!("`{raw}` is not a file path"),
        });
    };
    for k in 1..parts.len() {
        let candidate: PathBuf = parts[k..].iter().fold(dir.to_path_buf(), |p, c| p.join(c));
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(DataError::MissingFile {
        path: dir.join(name),
        needed_by: format!("{}:{line}", csv.display()),
    })
}

/// Reads one index CSV; files are resolved relative to `dir`.
fn read_csv(csv: &Path, dir: &Path) -> Result<Vec<PngSlice>, DataError> {
    let table = Table::read(csv)?;
    let cols = [
        table.column("filepath")?,
        table.column("liver_maskpath")?,
        table.column("tumor_maskpath")?,
        table.column("study_number")?,
        table.column("instance_number")?,
    ];
    let mut out = Vec::with_capacity(table.rows().len());
    for (line, f) in table.rows() {
        out.push(PngSlice {
            image: resolve(dir, csv, *line, &f[cols[0]])?,
            liver: resolve(dir, csv, *line, &f[cols[1]])?,
            tumor: resolve(dir, csv, *line, &f[cols[2]])?,
            study: table.integer(*line, f, cols[3])?,
            instance: table.integer(*line, f, cols[4])?,
        });
    }
    Ok(out)
}

/// Pairs images and masks by file name; a missing partner is an error naming it.
fn pair_by_name(dir: &Path) -> Result<Vec<PngSlice>, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::read(dir, e))?;
    let mut volumes = BTreeSet::new();
    let mut masks = BTreeSet::new();
    for e in entries {
        let name = e.map_err(|e| DataError::read(dir, e))?.file_name();
        let name = name.to_string_lossy();
        if let Some(key) = parse_volume_name(&name) {
            volumes.insert(key);
        } else if let Some(key) = parse_mask_name(&name) {
            masks.insert((key, name.into_owned()));
        }
    }
    // A mask whose image is gone means a broken copy: say so rather than silently skip it.
    if let Some(((study, instance), name)) = masks.iter().find(|(k, _)| !volumes.contains(k)) {
        return Err(DataError::MissingFile {
            path: dir.join(&file_names(*study, *instance)[0]),
            needed_by: dir.join(name).display().to_string(),
        });
    }
    let mut out = Vec::with_capacity(volumes.len());
    for (study, instance) in volumes {
        let [image, liver, tumor] = file_names(study, instance).map(|n| dir.join(n));
        for mask in [&liver, &tumor] {
            if !mask.is_file() {
                return Err(DataError::MissingFile {
                    path: mask.clone(),
                    needed_by: image.display().to_string(),
                });
            }
        }
        out.push(PngSlice {
            study,
            instance,
            image,
            liver,
            tumor,
        });
    }
    Ok(out)
}

/// Decodes one slice: the image to `[0, 1]`, the two masks to one label map (tumour wins over
/// liver, so a lesion mask that pokes outside the liver mask still counts as tumour).
pub fn load_slice(s: &PngSlice) -> Result<LabeledSlice, DataError> {
    let (w, h, image) = read_image(&s.image)?;
    let mut labels = vec![BACKGROUND; w * h];
    for (path, value) in [(&s.liver, LIVER), (&s.tumor, TUMOR)] {
        let (mw, mh, mask) = read_mask(path)?;
        if (mw, mh) != (w, h) {
            return Err(DataError::SizeMismatch {
                image: s.image.clone(),
                mask: path.clone(),
                image_dims: [w, h, 1],
                mask_dims: [mw, mh, 1],
            });
        }
        for (l, &m) in labels.iter_mut().zip(&mask) {
            if m {
                *l = value;
            }
        }
    }
    Ok(LabeledSlice {
        width: w,
        height: h,
        image,
        labels,
    })
}

/// Whether the slice has tumour (`tumor_only`) or any liver-or-tumour pixel, decoding only the
/// masks needed (the lesion mask is read for the liver question only when the liver mask is
/// empty, in case a liver mask excludes its lesions).
pub fn mask_has_foreground(s: &PngSlice, tumor_only: bool) -> Result<bool, DataError> {
    let any =
        |path: &Path| -> Result<bool, DataError> { Ok(read_mask(path)?.2.into_iter().any(|v| v)) };
    if tumor_only {
        any(&s.tumor)
    } else {
        Ok(any(&s.liver)? || any(&s.tumor)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(parse_volume_name("volume-12_340.png"), Some((12, 340)));
        assert_eq!(parse_volume_name("volume-12.png"), None);
        assert_eq!(parse_volume_name("volume-a_1.png"), None);
        assert_eq!(
            parse_mask_name("segmentation-3_lesionmask_9.png"),
            Some((3, 9))
        );
        assert_eq!(
            parse_mask_name("segmentation-3_livermask_9.png"),
            Some((3, 9))
        );
        assert_eq!(parse_mask_name("segmentation-3_othermask_9.png"), None);
        let [a, b, c] = file_names(1, 2);
        assert_eq!(a, "volume-1_2.png");
        assert_eq!(parse_mask_name(&b), Some((1, 2)));
        assert_eq!(parse_mask_name(&c), Some((1, 2)));
    }
}
