//! Batching: a deterministic epoch order, batch assembly, and a background loader.
//!
//! Decoding PNGs and augmenting is CPU work that would otherwise stall the training step; the
//! [`Loader`] runs it on worker threads (one by default: with two cores, one trains and one
//! decodes) and hands finished batches over bounded channels, so at most `prefetch` batches per
//! worker wait in memory. Worker `k` builds batches `k, k+W, k+2W, …` and the consumer reads the
//! workers in that rotation, so batches arrive in plan order. Every sample's augmentation comes
//! from an RNG derived from `(seed, epoch, slice index)`, so the batches are bit-identical to a
//! synchronous pass ([`batches`]) whatever the thread count or timing.

use super::augment::Augment;
use super::dataset::{Dataset, SliceId};
use super::error::DataError;
use super::rng::{derive_seed, Rng};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

/// Stream ids keep the order shuffle and the augmentations independent.
const ORDER_STREAM: u64 = 0x004f_5244_4552; // "ORDER"
const AUGMENT_STREAM: u64 = 0x4155_474d; // "AUGM"

/// How batches are formed.
#[derive(Debug, Clone, PartialEq)]
pub struct LoaderConfig {
    /// Slices per batch.
    pub batch_size: usize,
    /// Shuffle the order each epoch (seeded by `seed` and the epoch number).
    pub shuffle: bool,
    /// Drop a last, smaller batch.
    pub drop_last: bool,
    /// Seed of the order and of the augmentations.
    pub seed: u64,
    /// Augmentation (None for validation/test).
    pub augment: Option<Augment>,
    /// Background worker threads (≥ 1).
    pub workers: usize,
    /// Finished batches each worker may hold ahead of the consumer (≥ 1).
    pub prefetch: usize,
}

impl LoaderConfig {
    /// Training defaults: shuffled, augmented, batch `batch_size`, one worker, prefetch 2.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: true,
            drop_last: false,
            seed,
            augment: Some(Augment::default()),
            workers: 1,
            prefetch: 2,
        }
    }

    /// Evaluation defaults: dataset order, no augmentation.
    pub fn eval(batch_size: usize) -> Self {
        LoaderConfig {
            batch_size,
            shuffle: false,
            drop_last: false,
            seed: 0,
            augment: None,
            workers: 1,
            prefetch: 2,
        }
    }

    fn validate(&self) -> Result<(), DataError> {
        if self.batch_size == 0 || self.workers == 0 || self.prefetch == 0 {
            return Err(DataError::Config(format!(
                "batch size ({}), workers ({}) and prefetch ({}) must be at least 1",
                self.batch_size, self.workers, self.prefetch
            )));
        }
        Ok(())
    }
}

/// A batch in NCHW layout: `channels` input planes per slice (1, or the k slices of a 2.5D
/// input), one mask plane.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// `n × channels × height × width` intensities in `[0, 1]`.
    pub images: Vec<f32>,
    /// `n × 1 × height × width` target masks (0 or 1).
    pub masks: Vec<f32>,
    /// Number of slices.
    pub n: usize,
    /// Input channels per slice.
    pub channels: usize,
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Dataset indices of the slices.
    pub indices: Vec<usize>,
    /// Their ids.
    pub ids: Vec<SliceId>,
}

/// The slice order of `epoch`: `0..len`, shuffled by `(seed, epoch)` when `shuffle`.
pub fn epoch_order(len: usize, config: &LoaderConfig, epoch: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if config.shuffle {
        Rng::derived(config.seed, &[ORDER_STREAM, epoch]).shuffle(&mut order);
    }
    order
}

/// The batches of `epoch` as lists of dataset indices.
pub fn batch_plan(len: usize, config: &LoaderConfig, epoch: u64) -> Vec<Vec<usize>> {
    let order = epoch_order(len, config, epoch);
    order
        .chunks(config.batch_size.max(1))
        .filter(|c| !config.drop_last || c.len() == config.batch_size)
        .map(<[usize]>::to_vec)
        .collect()
}

/// Loads, augments and stacks the slices `indices` (augmentation seeded per slice and epoch).
pub fn make_batch(
    dataset: &Dataset,
    indices: &[usize],
    config: &LoaderConfig,
    epoch: u64,
) -> Result<Batch, DataError> {
    let size = dataset.config().size;
    let channels = dataset.config().channels;
    let target = dataset.config().target;
    let mut batch = Batch {
        images: Vec::with_capacity(indices.len() * channels * size * size),
        masks: Vec::with_capacity(indices.len() * size * size),
        n: indices.len(),
        channels,
        height: size,
        width: size,
        indices: indices.to_vec(),
        ids: Vec::with_capacity(indices.len()),
    };
    for &i in indices {
        let mut s = dataset.load(i)?;
        if let Some(aug) = &config.augment {
            let seed = derive_seed(config.seed, &[AUGMENT_STREAM, epoch, i as u64]);
            aug.draw(&mut Rng::new(seed))
                .apply(size, &mut s.image, &mut s.labels);
        }
        batch.images.extend_from_slice(&s.image);
        batch.masks.extend(s.labels.iter().map(|&l| target.of(l)));
        batch.ids.push(s.id);
    }
    Ok(batch)
}

/// The batches of `epoch`, built on the calling thread (the reference the [`Loader`] matches).
pub fn batches<'a>(
    dataset: &'a Dataset,
    config: &'a LoaderConfig,
    epoch: u64,
) -> impl Iterator<Item = Result<Batch, DataError>> + 'a {
    batch_plan(dataset.len(), config, epoch)
        .into_iter()
        .map(move |idx| make_batch(dataset, &idx, config, epoch))
}

/// Batches of one epoch built by background threads, in plan order.
///
/// Dropping the loader early stops the workers (their next send fails) and joins them.
#[derive(Debug)]
pub struct Loader {
    receivers: Vec<Receiver<Result<Batch, DataError>>>,
    handles: Vec<JoinHandle<()>>,
    next: usize,
    total: usize,
    failed: bool,
}

impl Loader {
    /// Starts the workers for `epoch` of `dataset`.
    pub fn spawn(
        dataset: &Dataset,
        config: &LoaderConfig,
        epoch: u64,
    ) -> Result<Loader, DataError> {
        config.validate()?;
        let plan = batch_plan(dataset.len(), config, epoch);
        let total = plan.len();
        let workers = config.workers.min(total.max(1));
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(config.prefetch);
            let mine: Vec<Vec<usize>> = plan.iter().skip(w).step_by(workers).cloned().collect();
            let (ds, cfg) = (dataset.clone(), config.clone());
            let handle = std::thread::Builder::new()
                .name(format!("hepaseg-loader-{w}"))
                .spawn(move || {
                    for idx in mine {
                        let result = make_batch(&ds, &idx, &cfg, epoch);
                        let stop = result.is_err();
                        if tx.send(result).is_err() || stop {
                            return;
                        }
                    }
                })
                .map_err(|e| DataError::Loader(format!("cannot start a worker thread: {e}")))?;
            receivers.push(rx);
            handles.push(handle);
        }
        Ok(Loader {
            receivers,
            handles,
            next: 0,
            total,
            failed: false,
        })
    }

    /// Batches in this epoch.
    pub fn total(&self) -> usize {
        self.total
    }
}

impl Iterator for Loader {
    type Item = Result<Batch, DataError>;

    /// The next batch in plan order; after an error, the iteration ends.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.next >= self.total || self.receivers.is_empty() {
            return None;
        }
        let rx = &self.receivers[self.next % self.receivers.len()];
        self.next += 1;
        let item = rx
            .recv()
            .unwrap_or_else(|_| Err(DataError::Loader("a worker thread exited early".into())));
        self.failed = item.is_err();
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = if self.failed {
            0
        } else {
            self.total - self.next
        };
        (0, Some(left))
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        // Closing the channels makes blocked workers' sends fail, so they return.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}
