//! A byte-bounded, least-recently-used cache of volumes already windowed and resampled.
//!
//! A NIfTI volume must be decoded whole to get one slice, so volume-backed datasets decode each
//! volume once and keep its prepared slices (at the network's input size) while they fit the
//! budget. Phantom sets and the `tiny` preset fit entirely; for the full LiTS at 256×256 (~40 MB
//! per volume) the default 1 GiB holds ~25 volumes, and a shuffled epoch re-decodes the rest —
//! convert such sets to the lits-png layout once (see `lits_png_write`) if decoding dominates.

use super::error::DataError;
use super::prepare::{prepare, Prepared};
use super::volume::LabeledSlice;
use super::volume_pair::{windowed_slice, VolumePair};
use super::window::Window;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Every slice of one volume at the input size, with per-slice content flags.
#[derive(Debug, Clone)]
pub struct PreparedVolume {
    /// Side length of each slice.
    pub size: usize,
    /// Intensities in `[0, 1]`, slice after slice.
    pub images: Vec<f32>,
    /// Labels, slice after slice.
    pub labels: Vec<u8>,
    /// Whether each slice has liver at native resolution.
    pub has_liver: Vec<bool>,
    /// Whether each slice has tumour at native resolution.
    pub has_tumor: Vec<bool>,
}

impl PreparedVolume {
    /// Decodes `pair`, windows every slice and resamples it to `size × size`.
    pub fn load(pair: &VolumePair, window: &Window, size: usize) -> Result<Self, DataError> {
        let (ct, labels) = pair.load()?;
        let depth = ct.depth();
        let mut out = PreparedVolume {
            size,
            images: Vec::with_capacity(depth * size * size),
            labels: Vec::with_capacity(depth * size * size),
            has_liver: Vec::with_capacity(depth),
            has_tumor: Vec::with_capacity(depth),
        };
        for z in 0..depth {
            let s: LabeledSlice = windowed_slice(&ct, &labels, z, window);
            out.has_liver.push(s.has_liver());
            out.has_tumor.push(s.has_tumor());
            let p = prepare(&s, size);
            out.images.extend_from_slice(&p.image);
            out.labels.extend_from_slice(&p.labels);
        }
        Ok(out)
    }

    /// Number of slices.
    pub fn depth(&self) -> usize {
        self.has_liver.len()
    }

    /// Slice `z`, or `None` out of range.
    pub fn slice(&self, z: usize) -> Option<Prepared> {
        let n = self.size * self.size;
        Some(Prepared {
            size: self.size,
            image: self.images.get(z * n..(z + 1) * n)?.to_vec(),
            labels: self.labels.get(z * n..(z + 1) * n)?.to_vec(),
        })
    }

    /// Memory held.
    pub fn bytes(&self) -> usize {
        self.images.len() * 4 + self.labels.len() + self.has_liver.len() * 2
    }
}

#[derive(Debug, Default)]
struct State {
    entries: HashMap<usize, (Arc<PreparedVolume>, u64)>,
    clock: u64,
    bytes: usize,
}

/// The cache, shared by all clones of a dataset and all loader threads.
#[derive(Debug)]
pub struct VolumeCache {
    budget: usize,
    state: Mutex<State>,
}

impl VolumeCache {
    /// A cache holding up to `budget` bytes (the most recent volume is always kept).
    pub fn new(budget: usize) -> Self {
        VolumeCache {
            budget,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic elsewhere cannot leave the map inconsistent (every update is one insert or
        // remove), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The volume `key`, loading it with `load` on a miss. Loading happens outside the lock, so
    /// two threads missing different volumes decode in parallel.
    pub fn get_or_load(
        &self,
        key: usize,
        load: impl FnOnce() -> Result<PreparedVolume, DataError>,
    ) -> Result<Arc<PreparedVolume>, DataError> {
        {
            let mut st = self.lock();
            st.clock += 1;
            let now = st.clock;
            if let Some((v, used)) = st.entries.get_mut(&key) {
                *used = now;
                return Ok(Arc::clone(v));
            }
        }
        let vol = Arc::new(load()?);
        let mut st = self.lock();
        st.clock += 1;
        let now = st.clock;
        if let Some((old, _)) = st.entries.insert(key, (Arc::clone(&vol), now)) {
            st.bytes -= old.bytes();
        }
        st.bytes += vol.bytes();
        while st.bytes > self.budget && st.entries.len() > 1 {
            let Some(oldest) = st
                .entries
                .iter()
                .filter(|(k, _)| **k != key)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            else {
                break;
            };
            if let Some((v, _)) = st.entries.remove(&oldest) {
                st.bytes -= v.bytes();
            }
        }
        Ok(vol)
    }

    /// Volumes currently held.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vol(n: usize) -> PreparedVolume {
        PreparedVolume {
            size: 1,
            images: vec![0.0; n],
            labels: vec![0; n],
            has_liver: vec![false; n],
            has_tumor: vec![false; n],
        }
    }

    #[test]
    fn evicts_least_recently_used() {
        let c = VolumeCache::new(2 * vol(10).bytes());
        c.get_or_load(0, || Ok(vol(10))).unwrap();
        c.get_or_load(1, || Ok(vol(10))).unwrap();
        c.get_or_load(0, || panic!("cached")).unwrap();
        c.get_or_load(2, || Ok(vol(10))).unwrap(); // evicts 1
        assert_eq!(c.len(), 2);
        c.get_or_load(0, || panic!("still cached")).unwrap();
        let mut loaded = false;
        c.get_or_load(1, || {
            loaded = true;
            Ok(vol(10))
        })
        .unwrap();
        assert!(loaded);
        // An oversized volume is still returned and kept alone.
        c.get_or_load(9, || Ok(vol(100))).unwrap();
        assert_eq!(c.len(), 1);
        assert!(c
            .get_or_load(5, || Err(DataError::Config("x".into())))
            .is_err());
    }
}
