//! The data pipeline: readers, preprocessing, splits, augmentation, batching and phantoms.
//!
//! ```text
//!   lits-png folder ─┐                          ┌─ split (by patient) ─┐
//!   LiTS NIfTI ──────┼─ Dataset::open ─ Dataset ┤                      ├─ Loader ─ Batch
//!   MSD Task03 ──────┘   (lists slices)         └─ filter (liver only) ┘  (decode, window,
//!                                                                          resample, augment)
//!   phantom::generate ─ synth() ─ writes all three layouts
//! ```
//!
//! * Images are in `[0, 1]`: NIfTI CT windowed from Hounsfield units ([`Window`], default
//!   [−200, 250]); lits-png slices are already windowed 8-bit and map 0..255 → 0..1.
//! * Labels follow LiTS (0 background, 1 liver, 2 tumour); [`Target`] turns them into the binary
//!   mask the network learns.
//! * Slices are resampled to the preset's square input (`DataConfig::size`): bilinear for the
//!   image, nearest neighbour for the labels.
//! * For a 2.5D preset (`DataConfig::channels` = k > 1) a sample's image is the slice and its
//!   k − 1 neighbours of the same patient, channel after channel, clamped at the volume ends
//!   ([`stack`]); its labels are the centre slice's.
//! * Everything random (splits, augmentation, epoch order, phantoms) is driven by a seeded,
//!   platform-independent [`rng::Rng`].
//!
//! Typical training use:
//!
//! ```no_run
//! use hepaseg::data::{Dataset, DataConfig, Loader, LoaderConfig, SliceFilter, SplitConfig};
//! # fn main() -> Result<(), hepaseg::data::DataError> {
//! let data = Dataset::open("phantoms".as_ref(), DataConfig::new(64))?;
//! let splits = data.split(&SplitConfig { train_filter: SliceFilter::WithLiver, ..Default::default() })?;
//! for epoch in 0..10 {
//!     for batch in Loader::spawn(&splits.train, &LoaderConfig::train(8, 42), epoch)? {
//!         let batch = batch?; // batch.images / batch.masks: N×1×64×64
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod atomic;
pub mod augment;
pub mod csv;
pub mod dataset;
pub mod error;
pub mod lits_nifti;
pub mod lits_png;
pub mod lits_png_write;
pub mod loader;
pub mod msd;
pub mod nifti_read;
pub mod nifti_write;
pub mod phantom;
pub mod png_io;
pub mod prepare;
pub mod resample;
pub mod rng;
pub mod split;
pub mod stack;
pub mod synth;
pub mod volume;
pub mod volume_cache;
pub mod volume_pair;
pub mod window;

pub use augment::{Augment, AugmentParams};
pub use dataset::{DataConfig, Dataset, Layout, Sample, SliceFilter, SliceId};
pub use error::DataError;
pub use loader::{batches, Batch, Loader, LoaderConfig};
pub use phantom::PhantomConfig;
pub use prepare::Target;
pub use split::{SplitConfig, SplitSource, Splits};
pub use synth::{synth, synth_with, SynthReport};
pub use volume::{Geometry, LabeledSlice, Volume};
pub use window::Window;
