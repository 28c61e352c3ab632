//! Device tensors that depend only on shapes: im2col gather indices, pooling bin indices,
//! interpolation and averaging matrices.
//!
//! They are built on the host once per (shape, geometry) and uploaded once; every later
//! forward pass with the same geometry reuses the device copy (an `Arc` clone). The cache is
//! shared by all layers of a store, so the four 3×3 convolutions of a level share one index
//! tensor. It sits behind a `Mutex` so layers can fill it through `&ParamStore`.

use super::im2col::ConvGeometry;
use super::{dev_err, NnError, Real};
use dfdx::tensor::Tensor;
use dfdx::tensor_ops::Device;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, MutexGuard};

/// Which index tensor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexKey {
    /// im2col gather indices of a convolution (see [`super::im2col`]).
    Unfold(ConvGeometry),
    /// Adaptive max-pooling bins of one axis, each padded to the widest bin.
    MaxBins {
        /// Input length.
        input: usize,
        /// Output length.
        output: usize,
    },
}

/// Which dense matrix (`output × input`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatrixKey {
    /// Bilinear interpolation weights of one axis.
    Bilinear {
        /// Input length.
        input: usize,
        /// Output length.
        output: usize,
        /// PyTorch's `align_corners`.
        align_corners: bool,
    },
    /// Adaptive average-pooling weights of one axis.
    AvgBins {
        /// Input length.
        input: usize,
        /// Output length.
        output: usize,
    },
}

type IndexMap<D> = HashMap<IndexKey, Tensor<(usize,), usize, D>>;
type MatrixMap<E, D> = HashMap<MatrixKey, Tensor<(usize, usize), E, D>>;

/// The shape-keyed tensor cache of one [`super::ParamStore`].
pub struct Cache<E: Real, D: Device<E>> {
    index: Mutex<IndexMap<D>>,
    matrix: Mutex<MatrixMap<E, D>>,
}

impl<E: Real, D: Device<E>> Default for Cache<E, D> {
    fn default() -> Self {
        Self {
            index: Mutex::new(HashMap::new()),
            matrix: Mutex::new(HashMap::new()),
        }
    }
}

impl<E: Real, D: Device<E>> fmt::Debug for Cache<E, D> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cache")
            .field("index_tensors", &lock(&self.index).len())
            .field("matrices", &lock(&self.matrix).len())
            .finish()
    }
}

/// A poisoned lock only means another thread panicked while inserting; the map is still valid.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<E: Real, D: Device<E>> Cache<E, D> {
    /// The index tensor for `key`, built by `build` and uploaded on first use.
    pub fn index(
        &self,
        dev: &D,
        key: IndexKey,
        build: impl FnOnce() -> Vec<usize>,
    ) -> Result<Tensor<(usize,), usize, D>, NnError> {
        let mut map = lock(&self.index);
        if let Some(t) = map.get(&key) {
            return Ok(t.clone());
        }
        let v = build();
        let n = v.len();
        let t = dev.try_tensor_from_vec(v, (n,)).map_err(dev_err)?;
        map.insert(key, t.clone());
        Ok(t)
    }

    /// The `rows × cols` matrix for `key`, built (row-major, in `f64`) by `build` on first use.
    pub fn matrix(
        &self,
        dev: &D,
        key: MatrixKey,
        (rows, cols): (usize, usize),
        build: impl FnOnce() -> Vec<f64>,
    ) -> Result<Tensor<(usize, usize), E, D>, NnError> {
        let mut map = lock(&self.matrix);
        if let Some(t) = map.get(&key) {
            return Ok(t.clone());
        }
        let v: Vec<E> = build().into_iter().map(E::of_f64).collect();
        if v.len() != rows * cols {
            return Err(NnError::config(
                "cache",
                format!("{key:?} built {} values for {rows}×{cols}", v.len()),
            ));
        }
        let t = dev.try_tensor_from_vec(v, (rows, cols)).map_err(dev_err)?;
        map.insert(key, t.clone());
        Ok(t)
    }

    /// Drops every cached tensor (e.g. after switching to much smaller inputs).
    pub fn clear(&self) {
        lock(&self.index).clear();
        lock(&self.matrix).clear();
    }
}
