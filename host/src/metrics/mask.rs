//! Binary masks in 2D (one slice) and 3D (a volume), with an optional voxel spacing.
//!
//! One type serves both ranks so that every metric has a single code path: a 2D mask is
//! stored as a volume of depth 1. The rank still matters in one place — the surface of a 2D
//! mask is found with the 4-neighbourhood in-plane, while a 3D mask uses the 6-neighbourhood,
//! so a one-slice *volume* is all surface (its neighbours above and below lie outside the
//! image) whereas the same pixels as a 2D *slice* are not.
//!
//! Voxel values follow medpy: zero is background, anything else is foreground, so 0/1 and
//! 0/255 masks read the same.

use super::MetricsError;

/// Whether a mask is a single 2D slice or a 3D volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rank {
    /// A slice: neighbours are taken along y and x only.
    D2,
    /// A volume: neighbours are taken along z, y and x.
    D3,
}

/// A binary mask of shape (z, y, x), row-major with x fastest.
///
/// Invariant: every dimension is at least 1 and `data.len() == z·y·x`; for a 2D mask z is 1.
#[derive(Debug, Clone, PartialEq)]
pub struct Mask {
    rank: Rank,
    dims: [usize; 3],
    data: Vec<bool>,
    spacing: Option<[f64; 3]>,
}

/// `z·y·x`, or why the shape is unusable.
fn checked_len(dims: [usize; 3]) -> Result<usize, MetricsError> {
    if dims.contains(&0) {
        return Err(MetricsError::EmptyShape(dims));
    }
    dims.iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or(MetricsError::ShapeOverflow(dims))
}

impl Mask {
    /// Takes ownership of a voxel buffer of shape `dims` (z, y, x); for [`Rank::D2`] `dims[0]`
    /// must be 1.
    pub fn from_vec(rank: Rank, dims: [usize; 3], data: Vec<bool>) -> Result<Self, MetricsError> {
        let expected = checked_len(dims)?;
        if rank == Rank::D2 && dims[0] != 1 {
            return Err(MetricsError::SliceDepth(dims[0]));
        }
        if data.len() != expected {
            return Err(MetricsError::DataLength {
                expected,
                actual: data.len(),
            });
        }
        Ok(Self {
            rank,
            dims,
            data,
            spacing: None,
        })
    }

    /// A 2D mask of `height × width` pixels from booleans, row-major.
    pub fn from_bools_2d(height: usize, width: usize, data: &[bool]) -> Result<Self, MetricsError> {
        Self::from_vec(Rank::D2, [1, height, width], data.to_vec())
    }

    /// A 2D mask from bytes, row-major; any non-zero byte is foreground (0/1 and 0/255 alike).
    pub fn from_u8_2d(height: usize, width: usize, data: &[u8]) -> Result<Self, MetricsError> {
        Self::from_vec(
            Rank::D2,
            [1, height, width],
            data.iter().map(|&v| v != 0).collect(),
        )
    }

    /// A 3D mask of shape `dims` (z, y, x) from booleans, x fastest.
    pub fn from_bools_3d(dims: [usize; 3], data: &[bool]) -> Result<Self, MetricsError> {
        Self::from_vec(Rank::D3, dims, data.to_vec())
    }

    /// A 3D mask from bytes, x fastest; any non-zero byte is foreground.
    pub fn from_u8_3d(dims: [usize; 3], data: &[u8]) -> Result<Self, MetricsError> {
        Self::from_vec(Rank::D3, dims, data.iter().map(|&v| v != 0).collect())
    }

    /// A 2D mask whose pixel `(y, x)` is `f(y, x)`; handy for shapes such as squares and discs.
    pub fn from_fn_2d(
        height: usize,
        width: usize,
        mut f: impl FnMut(usize, usize) -> bool,
    ) -> Result<Self, MetricsError> {
        Self::from_fn(Rank::D2, [1, height, width], |_, y, x| f(y, x))
    }

    /// A 3D mask whose voxel `(z, y, x)` is `f(z, y, x)`.
    pub fn from_fn_3d(
        dims: [usize; 3],
        f: impl FnMut(usize, usize, usize) -> bool,
    ) -> Result<Self, MetricsError> {
        Self::from_fn(Rank::D3, dims, f)
    }

    fn from_fn(
        rank: Rank,
        dims: [usize; 3],
        mut f: impl FnMut(usize, usize, usize) -> bool,
    ) -> Result<Self, MetricsError> {
        let len = checked_len(dims)?;
        let mut data = Vec::with_capacity(len);
        for z in 0..dims[0] {
            for y in 0..dims[1] {
                for x in 0..dims[2] {
                    data.push(f(z, y, x));
                }
            }
        }
        Self::from_vec(rank, dims, data)
    }

    /// Attaches the physical voxel size (z, y, x), e.g. millimetres from a NIfTI header, so that
    /// surface distances come out in that unit. For a 2D mask the z component is not used.
    pub fn with_spacing(mut self, spacing: [f64; 3]) -> Result<Self, MetricsError> {
        if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(MetricsError::InvalidSpacing(spacing));
        }
        self.spacing = Some(spacing);
        Ok(self)
    }

    /// 2D or 3D.
    pub fn rank(&self) -> Rank {
        self.rank
    }

    /// Shape (z, y, x); z is 1 for a 2D mask.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// The physical voxel size (z, y, x), if known.
    pub fn spacing(&self) -> Option<[f64; 3]> {
        self.spacing
    }

    /// The voxels, row-major with x fastest.
    pub fn data(&self) -> &[bool] {
        &self.data
    }

    /// Number of voxels (foreground and background).
    pub fn voxels(&self) -> usize {
        self.data.len()
    }

    /// Number of foreground voxels.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&v| v).count()
    }

    /// Whether any voxel is foreground.
    pub fn has_foreground(&self) -> bool {
        self.data.contains(&true)
    }

    /// The voxel at (z, y, x), or `None` outside the mask.
    pub fn get(&self, z: usize, y: usize, x: usize) -> Option<bool> {
        let [nz, ny, nx] = self.dims;
        (z < nz && y < ny && x < nx).then(|| self.data[(z * ny + y) * nx + x])
    }

    /// Slice `z` of a volume as a 2D mask (its spacing keeps the volume's y and x spacing).
    /// A 2D mask has exactly one slice, `z = 0`.
    pub fn slice(&self, z: usize) -> Result<Self, MetricsError> {
        let [nz, ny, nx] = self.dims;
        if z >= nz {
            return Err(MetricsError::SliceOutOfRange { z, depth: nz });
        }
        let plane = ny * nx;
        Ok(Self {
            rank: Rank::D2,
            dims: [1, ny, nx],
            data: self.data[z * plane..(z + 1) * plane].to_vec(),
            spacing: self.spacing,
        })
    }

    /// A mask of the same rank, shape and spacing holding `data`, which the caller derived from
    /// `self` (so it has the same length).
    pub(crate) fn with_data(&self, data: Vec<bool>) -> Self {
        debug_assert_eq!(data.len(), self.data.len());
        Self {
            rank: self.rank,
            dims: self.dims,
            data,
            spacing: self.spacing,
        }
    }

    /// `Ok` when `self` (the prediction) and `gt` have the same rank and shape.
    pub(crate) fn ensure_same_shape(&self, gt: &Self) -> Result<(), MetricsError> {
        if self.rank == gt.rank && self.dims == gt.dims {
            Ok(())
        } else {
            Err(MetricsError::ShapeMismatch {
                pred: self.dims,
                gt: gt.dims,
            })
        }
    }

    /// Inclusive lower and exclusive upper corner of the smallest box holding every foreground
    /// voxel of `self` or `other` (same shape assumed); `None` when both are empty.
    pub(crate) fn union_bounding_box(&self, other: &Self) -> Option<([usize; 3], [usize; 3])> {
        let [_, ny, nx] = self.dims;
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut any = false;
        for (i, (&a, &b)) in self.data.iter().zip(&other.data).enumerate() {
            if a || b {
                any = true;
                let p = [i / (ny * nx), (i / nx) % ny, i % nx];
                for k in 0..3 {
                    lo[k] = lo[k].min(p[k]);
                    hi[k] = hi[k].max(p[k] + 1);
                }
            }
        }
        any.then_some((lo, hi))
    }

    /// The sub-mask `lo..hi` (inclusive, exclusive), same rank, no spacing.
    pub(crate) fn crop(&self, lo: [usize; 3], hi: [usize; 3]) -> Self {
        let [_, ny, nx] = self.dims;
        let dims = [hi[0] - lo[0], hi[1] - lo[1], hi[2] - lo[2]];
        let mut data = Vec::with_capacity(dims.iter().product());
        for z in lo[0]..hi[0] {
            for y in lo[1]..hi[1] {
                let row = (z * ny + y) * nx;
                data.extend_from_slice(&self.data[row + lo[2]..row + hi[2]]);
            }
        }
        Self {
            rank: self.rank,
            dims,
            data,
            spacing: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_nonzero_is_foreground() {
        let m = Mask::from_u8_2d(2, 2, &[0, 1, 255, 0]).unwrap();
        assert_eq!(m.data(), &[false, true, true, false]);
        assert_eq!(m.count(), 2);
        assert_eq!(m.rank(), Rank::D2);
        assert_eq!(m.dims(), [1, 2, 2]);
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert_eq!(
            Mask::from_u8_2d(2, 3, &[0; 5]),
            Err(MetricsError::DataLength {
                expected: 6,
                actual: 5
            })
        );
        assert_eq!(
            Mask::from_bools_3d([0, 2, 2], &[]),
            Err(MetricsError::EmptyShape([0, 2, 2]))
        );
        assert_eq!(
            Mask::from_bools_3d([usize::MAX, 2, 2], &[]),
            Err(MetricsError::ShapeOverflow([usize::MAX, 2, 2]))
        );
        assert!(Mask::from_vec(Rank::D2, [2, 1, 1], vec![true; 2]).is_err());
    }

    #[test]
    fn spacing_must_be_positive_and_finite() {
        let m = Mask::from_u8_2d(1, 1, &[1]).unwrap();
        for bad in [
            [1.0, 0.0, 1.0],
            [1.0, -1.0, 1.0],
            [f64::NAN, 1.0, 1.0],
            [1.0, 1.0, f64::INFINITY],
        ] {
            assert!(matches!(
                m.clone().with_spacing(bad),
                Err(MetricsError::InvalidSpacing(_))
            ));
        }
        assert_eq!(
            m.with_spacing([2.5, 0.7, 0.7]).unwrap().spacing(),
            Some([2.5, 0.7, 0.7])
        );
    }

    #[test]
    fn slices_and_lookup() {
        let v = Mask::from_fn_3d([2, 2, 3], |z, y, x| z == 1 && y == 0 && x == 2).unwrap();
        assert_eq!(v.get(1, 0, 2), Some(true));
        assert_eq!(v.get(0, 0, 2), Some(false));
        assert_eq!(v.get(2, 0, 0), None);
        let s = v.slice(1).unwrap();
        assert_eq!(s.rank(), Rank::D2);
        assert_eq!(s.data(), &[false, false, true, false, false, false]);
        assert_eq!(
            v.slice(2),
            Err(MetricsError::SliceOutOfRange { z: 2, depth: 2 })
        );
    }

    #[test]
    fn bounding_box_and_crop() {
        let a = Mask::from_fn_2d(5, 6, |y, x| y == 1 && x == 4).unwrap();
        let b = Mask::from_fn_2d(5, 6, |y, x| y == 3 && x == 2).unwrap();
        let (lo, hi) = a.union_bounding_box(&b).unwrap();
        assert_eq!((lo, hi), ([0, 1, 2], [1, 4, 5]));
        let c = a.crop(lo, hi);
        assert_eq!(c.dims(), [1, 3, 3]);
        assert_eq!(c.count(), 1);
        assert_eq!(c.get(0, 0, 2), Some(true));
        let e = Mask::from_fn_2d(5, 6, |_, _| false).unwrap();
        assert_eq!(e.union_bounding_box(&e), None);
    }
}
