//! Patient-level train/validation/test splits.
//!
//! Slices of one patient are strongly correlated; putting some in training and others in test
//! leaks the answer and inflates Dice. Splits therefore assign whole studies (patients/volumes),
//! never slices. The assignment is a seeded shuffle of the sorted study list, so it depends only
//! on the set of studies and the seed — not on file order, thread timing or platform.

use super::dataset::{Dataset, SliceFilter};
use super::error::DataError;
use super::rng::Rng;
use std::collections::BTreeSet;

/// Stream id of the split shuffle (keeps it independent of other uses of the same seed).
const SPLIT_STREAM: u64 = 0x0053_504c_4954; // "SPLIT"

/// How to split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitConfig {
    /// Relative sizes of train, validation and test (in patients). Default 8:1:1, as both
    /// papers use.
    pub ratios: [u32; 3],
    /// Shuffle seed.
    pub seed: u64,
    /// Restriction of the *training* slices (validation and test keep every slice, so their
    /// scores are over whole volumes).
    pub train_filter: SliceFilter,
}

impl Default for SplitConfig {
    fn default() -> Self {
        SplitConfig {
            ratios: [8, 1, 1],
            seed: 0,
            train_filter: SliceFilter::All,
        }
    }
}

/// Where the split came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SplitSource {
    /// Test patients from `lits_test.csv`; validation drawn (seeded) from `lits_train.csv`'s.
    CsvTrainTest,
    /// Seeded shuffle of all patients.
    Seeded,
    /// The CSVs share these patients (a slice-level split), so they were ignored in favour of a
    /// seeded patient-level split.
    SeededCsvOverlap(Vec<u32>),
}

/// The three subsets.
#[derive(Debug, Clone)]
pub struct Splits {
    /// Training slices (restricted by [`SplitConfig::train_filter`]).
    pub train: Dataset,
    /// Validation slices.
    pub val: Dataset,
    /// Test slices.
    pub test: Dataset,
    /// How the patients were assigned.
    pub source: SplitSource,
}

/// Patients per subset for `n` patients: validation and test get `round(n·r/Σr)`, at least one
/// each when their ratio is non-zero; training gets the rest and must get at least one.
fn counts(n: usize, ratios: [u32; 3]) -> Result<[usize; 3], String> {
    let total: u64 = ratios.iter().map(|&r| u64::from(r)).sum();
    if total == 0 || ratios[0] == 0 {
        return Err(format!(
            "split ratios {ratios:?} need a non-zero training share"
        ));
    }
    let share = |r: u32| -> usize {
        if r == 0 {
            0
        } else {
            (((n as u64 * u64::from(r)) + total / 2) / total).max(1) as usize
        }
    };
    let (val, test) = (share(ratios[1]), share(ratios[2]));
    if val + test >= n {
        let needed = 1 + usize::from(ratios[1] > 0) + usize::from(ratios[2] > 0);
        return Err(format!(
            "{n} patient(s) cannot be split {}:{}:{} (need at least {needed})",
            ratios[0], ratios[1], ratios[2]
        ));
    }
    Ok([n - val - test, val, test])
}

/// Splits `studies` into (train, val, test) by `ratios` with a seeded shuffle. Each output is
/// sorted; every study lands in exactly one of them.
pub fn split_studies(
    studies: &[u32],
    ratios: [u32; 3],
    seed: u64,
) -> Result<[Vec<u32>; 3], String> {
    let mut order: Vec<u32> = studies
        .iter()
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let [_, val, test] = counts(order.len(), ratios)?;
    Rng::derived(seed, &[SPLIT_STREAM]).shuffle(&mut order);
    let mut test_set = order[..test].to_vec();
    let mut val_set = order[test..test + val].to_vec();
    let mut train_set = order[test + val..].to_vec();
    for s in [&mut train_set, &mut val_set, &mut test_set] {
        s.sort_unstable();
    }
    Ok([train_set, val_set, test_set])
}

impl Dataset {
    /// Splits by patient: from `lits_train.csv`/`lits_test.csv` when the folder has them (and
    /// they do not share patients), else by a seeded `ratios` shuffle. Then restricts the
    /// training slices by `config.train_filter`.
    pub fn split(&self, config: &SplitConfig) -> Result<Splits, DataError> {
        let fail = |detail: String| DataError::EmptyDataset {
            path: self.root().to_path_buf(),
            detail,
        };
        let present: BTreeSet<u32> = self.studies().into_iter().collect();
        let (sets, source) = match self.csv_split() {
            Some(csv) if csv.train.is_disjoint(&csv.test) => {
                let pool: Vec<u32> = csv.train.intersection(&present).copied().collect();
                let [train, val, _] =
                    split_studies(&pool, [config.ratios[0], config.ratios[1], 0], config.seed)
                        .map_err(fail)?;
                let test: Vec<u32> = csv.test.intersection(&present).copied().collect();
                ([train, val, test], SplitSource::CsvTrainTest)
            }
            Some(csv) => {
                let shared = csv.train.intersection(&csv.test).copied().collect();
                let sets =
                    split_studies(&self.studies(), config.ratios, config.seed).map_err(fail)?;
                (sets, SplitSource::SeededCsvOverlap(shared))
            }
            None => (
                split_studies(&self.studies(), config.ratios, config.seed).map_err(fail)?,
                SplitSource::Seeded,
            ),
        };
        let [train, val, test] = sets.map(|s| self.select_studies(&s.into_iter().collect()));
        let train = train.filter(config.train_filter)?;
        if train.is_empty() {
            return Err(fail(format!(
                "no training slices left after the {:?} restriction",
                config.train_filter
            )));
        }
        Ok(Splits {
            train,
            val,
            test,
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_ratios() {
        assert_eq!(counts(3, [8, 1, 1]).unwrap(), [1, 1, 1]);
        assert_eq!(counts(10, [8, 1, 1]).unwrap(), [8, 1, 1]);
        assert_eq!(counts(131, [8, 1, 1]).unwrap(), [105, 13, 13]);
        assert_eq!(counts(5, [8, 1, 0]).unwrap(), [4, 1, 0]);
        assert!(counts(2, [8, 1, 1]).is_err());
        assert!(counts(5, [0, 1, 1]).is_err());
    }

    #[test]
    fn split_is_a_seeded_partition() {
        let studies: Vec<u32> = (0..40).rev().collect();
        let a = split_studies(&studies, [8, 1, 1], 3).unwrap();
        assert_eq!(a, split_studies(&studies, [8, 1, 1], 3).unwrap());
        assert_ne!(a, split_studies(&studies, [8, 1, 1], 4).unwrap());
        let mut all: Vec<u32> = a.concat();
        all.sort_unstable();
        assert_eq!(all, (0..40).collect::<Vec<_>>());
        assert_eq!(a.iter().map(Vec::len).collect::<Vec<_>>(), vec![32, 4, 4]);
        // Input order and duplicates do not matter.
        let mut shuffled = studies.clone();
        shuffled.extend_from_slice(&[1, 2, 3]);
        shuffled.reverse();
        assert_eq!(a, split_studies(&shuffled, [8, 1, 1], 3).unwrap());
    }
}
