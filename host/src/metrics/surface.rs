//! Object surfaces and the distances between two surfaces.
//!
//! # Surface
//!
//! The surface of a mask is the mask XOR its erosion by the cross-shaped structuring element —
//! the 4-neighbourhood in-plane for a 2D mask, the 6-neighbourhood for a 3D mask — with
//! everything outside the image counted as background. This is medpy's
//! `mask ^ binary_erosion(mask, generate_binary_structure(ndim, 1))` with scipy's default
//! `border_value = 0`: a voxel is on the surface when it is foreground and at least one of its
//! face neighbours is background or outside the image, so an object touching the image border
//! has its border voxels on its surface.
//!
//! # Distances
//!
//! For every surface voxel of one mask, the Euclidean distance (in units of the voxel spacing)
//! to the nearest surface voxel of the other, read from an exact distance transform
//! ([`super::distance`]) of the other surface. As in medpy and the LiTS `Surface` class the
//! distances are between voxel centres, and each direction keeps one distance per surface voxel.

use super::distance::squared_edt;
use super::percentile::percentile;
use super::{Mask, MetricsError, Rank};

/// The surface voxels of `mask` (see the module documentation): a mask of the same geometry.
pub fn surface(mask: &Mask) -> Mask {
    let [nz, ny, nx] = mask.dims();
    let plane = ny * nx;
    let d = mask.data();
    let use_z = mask.rank() == Rank::D3;
    let interior = |i: usize| {
        let (z, y, x) = (i / plane, (i / nx) % ny, i % nx);
        x > 0
            && x + 1 < nx
            && d[i - 1]
            && d[i + 1]
            && y > 0
            && y + 1 < ny
            && d[i - nx]
            && d[i + nx]
            && (!use_z || (z > 0 && z + 1 < nz && d[i - plane] && d[i + plane]))
    };
    let data = (0..d.len()).map(|i| d[i] && !interior(i)).collect();
    mask.with_data(data)
}

/// The two directed surface-distance sets of a prediction and a ground truth, both non-empty.
#[derive(Debug, Clone, PartialEq)]
pub struct SurfaceDistances {
    pred_to_gt: Vec<f64>,
    gt_to_pred: Vec<f64>,
}

impl SurfaceDistances {
    /// Distances between the surfaces of `pred` and `gt` (same rank and shape) with voxel size
    /// `spacing` (z, y, x; z unused for 2D). `Ok(None)` when either mask is empty: a surface
    /// distance to nothing is undefined, and the caller applies its
    /// [`EmptyPolicy`](super::EmptyPolicy).
    ///
    /// Both masks are first cropped to the bounding box of their union. That changes no
    /// distance — every surface voxel lies inside the box and the transform is exact — nor any
    /// surface, since outside the box both masks are background just as outside the image; it
    /// only makes a small tumour in a 512×512×800 volume cheap. Memory: one f64 per voxel of
    /// that box for the distance transform.
    pub fn compute(
        pred: &Mask,
        gt: &Mask,
        spacing: [f64; 3],
    ) -> Result<Option<Self>, MetricsError> {
        pred.ensure_same_shape(gt)?;
        if spacing.iter().any(|s| !s.is_finite() || *s <= 0.0) {
            return Err(MetricsError::InvalidSpacing(spacing));
        }
        if !pred.has_foreground() || !gt.has_foreground() {
            return Ok(None);
        }
        let Some((lo, hi)) = pred.union_bounding_box(gt) else {
            return Ok(None);
        };
        let sp = surface(&pred.crop(lo, hi));
        let sg = surface(&gt.crop(lo, hi));
        Ok(Some(Self {
            pred_to_gt: directed(&sp, &sg, spacing)?,
            gt_to_pred: directed(&sg, &sp, spacing)?,
        }))
    }

    /// For each surface voxel of the prediction (raster order), the distance to the ground
    /// truth's surface.
    pub fn pred_to_gt(&self) -> &[f64] {
        &self.pred_to_gt
    }

    /// For each surface voxel of the ground truth (raster order), the distance to the
    /// prediction's surface.
    pub fn gt_to_pred(&self) -> &[f64] {
        &self.gt_to_pred
    }

    /// Both directed sets, prediction → ground truth first.
    pub fn all(&self) -> impl Iterator<Item = f64> + '_ {
        self.pred_to_gt.iter().chain(&self.gt_to_pred).copied()
    }

    /// Number of surface voxels of the prediction plus those of the ground truth.
    pub fn len(&self) -> usize {
        self.pred_to_gt.len() + self.gt_to_pred.len()
    }

    /// Always false: both sets are non-empty by construction.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Average symmetric surface distance, as LiTS defines it:
    /// `(Σ_{a∈S(P)} d(a, S(G)) + Σ_{b∈S(G)} d(b, S(P))) / (|S(P)| + |S(G)|)`, the mean of the
    /// union of both sets. (medpy's `assd` instead averages the two directed means; the two
    /// agree when both surfaces have the same number of voxels.)
    pub fn assd(&self) -> f64 {
        self.all().sum::<f64>() / self.len() as f64
    }

    /// Maximum symmetric surface distance (Hausdorff distance): the largest distance in either
    /// direction.
    pub fn hausdorff(&self) -> f64 {
        self.all().fold(0.0, f64::max)
    }

    /// HD95 as medpy defines it: the 95th percentile (numpy's linear interpolation, see
    /// [`percentile`]) of the union of both directed sets.
    pub fn hd95(&self) -> f64 {
        let all: Vec<f64> = self.all().collect();
        // Non-empty by construction, so the error arm is unreachable; NaN would flag it.
        percentile(&all, 95.0).unwrap_or(f64::NAN)
    }
}

/// Distance from each voxel of surface `from` to the nearest voxel of surface `to`.
fn directed(from: &Mask, to: &Mask, spacing: [f64; 3]) -> Result<Vec<f64>, MetricsError> {
    let d2 = squared_edt(to, spacing)?;
    Ok(from
        .data()
        .iter()
        .zip(&d2)
        .filter(|(&on, _)| on)
        .map(|(_, &d)| d.sqrt())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn border_counts_as_background() {
        // A full 3×3 image: the centre has its four neighbours inside, the eight others each
        // have a neighbour outside the image, so the surface is the 8-pixel ring.
        let m = Mask::from_fn_2d(3, 3, |_, _| true).unwrap();
        let s = surface(&m);
        assert_eq!(s.count(), 8);
        assert_eq!(s.get(0, 1, 1), Some(false));
        // The same pixels as a one-slice volume: the 6-neighbourhood reaches above and below
        // the slice, outside the image, so every voxel is surface.
        let v = Mask::from_fn_3d([1, 3, 3], |_, _, _| true).unwrap();
        assert_eq!(surface(&v).count(), 9);
        // A 3×3×3 cube fills its image: only the centre voxel is interior, 26 are surface.
        let c = Mask::from_fn_3d([3, 3, 3], |_, _, _| true).unwrap();
        assert_eq!(surface(&c).count(), 26);
    }

    #[test]
    fn cross_surface_uses_face_neighbours() {
        // medpy's docstring example: the plus-shaped cross has surface = the four arms
        // (the centre's four face neighbours are foreground).
        let m = Mask::from_u8_2d(3, 3, &[0, 1, 0, 1, 1, 1, 0, 1, 0]).unwrap();
        assert_eq!(
            surface(&m).data(),
            Mask::from_u8_2d(3, 3, &[0, 1, 0, 1, 0, 1, 0, 1, 0])
                .unwrap()
                .data()
        );
    }

    #[test]
    fn empty_masks_give_none() {
        let e = Mask::from_fn_2d(4, 4, |_, _| false).unwrap();
        let f = Mask::from_fn_2d(4, 4, |y, _| y == 1).unwrap();
        assert_eq!(SurfaceDistances::compute(&e, &f, [1.0; 3]), Ok(None));
        assert_eq!(SurfaceDistances::compute(&f, &e, [1.0; 3]), Ok(None));
        assert_eq!(SurfaceDistances::compute(&e, &e, [1.0; 3]), Ok(None));
    }
}
