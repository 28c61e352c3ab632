//! `eval --blob B | --checkpoint CKPT --data D --split S`: a network (core engine on a blob,
//! or the host's f32 forward pass on a checkpoint) on every slice of a patient-level split.
//!
//! Slices are prepared exactly as for training ([`Dataset::load`]: windowed, resampled to the
//! network's input size), so the scores are those of the network's own resolution; the
//! slices of one patient, in slice order, also form a volume scored in 3D. Spacing is unknown
//! after resampling, so distances are in voxels.

use super::pick::{ImageRef, Picker};
use super::{score_slice, CaseRow, EvalArgs, Evaluation, Level, SplitChoice};
use crate::data::{DataConfig, Dataset, SplitConfig, Target};
use crate::metrics::{Accumulator, EvalOptions, Mask, Rank};
use crate::segment::host_engine::CheckpointNet;
use crate::segment::predict::Runner;
use crate::segment::{load_engine, maybe_tta, BlobFile, SliceNet};
use std::path::Path;

/// The slices of one patient collected for the 3D row.
struct Study {
    id: u32,
    depth: usize,
    pred: Vec<bool>,
    gt: Vec<bool>,
}

fn flush(
    study: Option<Study>,
    size: usize,
    acc: &mut Accumulator,
    rows: &mut Vec<CaseRow>,
) -> Result<(), String> {
    let Some(s) = study else {
        return Ok(());
    };
    let dims = [s.depth, size, size];
    let pred = Mask::from_vec(Rank::D3, dims, s.pred).map_err(|e| e.to_string())?;
    let gt = Mask::from_vec(Rank::D3, dims, s.gt).map_err(|e| e.to_string())?;
    let m = acc
        .evaluate(&pred, &gt)
        .map_err(|e| format!("study {}: {e}", s.id))?;
    rows.push(CaseRow {
        case: format!("study-{}", s.id),
        slice: None,
        metrics: m,
    });
    Ok(())
}

/// The slices of `split` of the dataset at `data`, prepared at `size × size` with `channels`
/// input planes (a 2.5D network's slice and neighbours) for `target` (the patient split of
/// `hepaseg train` with seed `seed`); an empty split is an error.
pub fn open_split(
    data: &Path,
    size: usize,
    channels: usize,
    target: Target,
    split: SplitChoice,
    seed: u64,
) -> Result<Dataset, String> {
    let config = DataConfig::new(size)
        .with_target(target)
        .with_channels(channels);
    let ds = Dataset::open(data, config).map_err(|e| e.to_string())?;
    let subset = match split {
        SplitChoice::All => ds,
        SplitChoice::Test | SplitChoice::Val => {
            let s = ds
                .split(&SplitConfig {
                    seed,
                    ..SplitConfig::default()
                })
                .map_err(|e| e.to_string())?;
            if split == SplitChoice::Test {
                s.test
            } else {
                s.val
            }
        }
    };
    if subset.is_empty() {
        return Err(format!(
            "{}: the {split:?} split has no slices",
            data.display()
        ));
    }
    Ok(subset)
}

/// Runs the blob or checkpoint on the split and scores it.
pub(super) fn run(a: &EvalArgs, data: &Path, picker: &mut Picker) -> Result<Evaluation, String> {
    let blob;
    let (net, source): (Box<dyn SliceNet + '_>, &Path) = match (&a.blob, &a.checkpoint) {
        (Some(path), None) => {
            blob = BlobFile::read(path)?;
            (load_engine(&blob, a.engine, None)?, path)
        }
        (None, Some(path)) => (Box::new(CheckpointNet::load(path)?), path),
        _ => return Err("--data needs a network: --blob B or --checkpoint CKPT".into()),
    };
    let mut net = maybe_tta(net, a.tta);
    let [h, w] = net.input_hw();
    if h != w {
        return Err(format!(
            "{}: network input {w}×{h} is not square; datasets are prepared square",
            source.display()
        ));
    }
    let target: Target = a.target.into();
    let k = net.input_channels();
    let subset = open_split(data, h, k, target, a.split, a.split_seed)?;
    let options = EvalOptions {
        empty_policy: a.empty_policy.into(),
    };
    let mut slice_acc = Accumulator::new(options);
    let mut vol_acc = Accumulator::new(options);
    let (mut slice_rows, mut vol_rows) = (Vec::new(), Vec::new());
    let mut order: Vec<usize> = (0..subset.len()).collect();
    order.sort_by_key(|&i| subset.id(i));
    let mut runner = Runner::new();
    let mut study: Option<Study> = None;
    for i in order {
        let s = subset.load(i).map_err(|e| e.to_string())?;
        let gt: Vec<bool> = s.labels.iter().map(|&l| target.of(l) > 0.5).collect();
        let pred = runner.mask(net.as_mut(), &s.image, h, h, a.threshold)?;
        let pm = Mask::from_vec(Rank::D2, [1, h, h], pred.clone()).map_err(|e| e.to_string())?;
        let gm = Mask::from_vec(Rank::D2, [1, h, h], gt.clone()).map_err(|e| e.to_string())?;
        let what = format!("study {} slice {}", s.id.study, s.id.instance);
        let label = format!("study-{}-z{:04}", s.id.study, s.id.instance);
        let m = score_slice(&mut slice_acc, picker, &pm, &gm, &what, &label, || {
            ImageRef::Inline(s.centre().to_vec())
        })?;
        slice_rows.push(CaseRow {
            case: format!("study-{}", s.id.study),
            slice: Some(s.id.instance as usize),
            metrics: m,
        });
        if study.as_ref().is_some_and(|st| st.id != s.id.study) {
            flush(study.take(), h, &mut vol_acc, &mut vol_rows)?;
        }
        let st = study.get_or_insert_with(|| Study {
            id: s.id.study,
            depth: 0,
            pred: Vec::new(),
            gt: Vec::new(),
        });
        st.depth += 1;
        st.pred.extend(pred);
        st.gt.extend(gt);
    }
    flush(study.take(), h, &mut vol_acc, &mut vol_rows)?;
    Ok(Evaluation {
        title: format!(
            "hepaseg eval: {} on {} ({:?} split, {} slices, {} target), {:.2} ms/slice",
            net.describe(),
            data.display(),
            a.split,
            slice_rows.len(),
            match target {
                Target::Tumor => "tumour",
                Target::Liver => "liver",
            },
            runner.ms_per_slice()
        ),
        mode: "dataset",
        label: None,
        empty_policy: options.empty_policy,
        volumes: Some(Level::new(&vol_acc, vol_rows)),
        slices: Level::new(&slice_acc, slice_rows),
        notes: Vec::new(),
    })
}
