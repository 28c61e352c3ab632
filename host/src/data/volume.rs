//! In-memory volumes, their geometry, and the native-resolution labelled slice.
//!
//! Storage order follows NIfTI: x fastest, then y, then z. A 2-D slice `z` is therefore the
//! contiguous block `data[z·W·H .. (z+1)·W·H]` with x as the column and y as the row. No
//! reorientation is applied: training only needs image and mask to agree, and keeping the
//! stored order (plus [`Geometry`]) lets an exported mask line up with its source volume.

/// Label value of background voxels (LiTS convention).
pub const BACKGROUND: u8 = 0;
/// Label value of liver voxels (LiTS convention; vessels inside the liver are liver).
pub const LIVER: u8 = 1;
/// Label value of tumour voxels (LiTS convention; a tumour voxel is also part of the liver).
pub const TUMOR: u8 = 2;

/// Where a volume sits in space: voxel spacing and the NIfTI qform/sform, kept verbatim so that
/// a mask written later carries the same orientation as the scan it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Geometry {
    /// Voxel size along x, y, z (NIfTI `pixdim[1..4]`, usually millimetres).
    pub spacing: [f32; 3],
    /// NIfTI `pixdim[0]`: the qfac sign (−1 flips the z axis of the qform).
    pub qfac: f32,
    /// NIfTI `qform_code` (0 unknown, 1 scanner, 2 aligned, …).
    pub qform_code: i16,
    /// NIfTI `sform_code`.
    pub sform_code: i16,
    /// qform quaternion parameters b, c, d.
    pub quatern: [f32; 3],
    /// qform offsets x, y, z.
    pub qoffset: [f32; 3],
    /// sform affine rows x, y, z.
    pub srow: [[f32; 4]; 3],
    /// NIfTI `xyzt_units` (2 = millimetres).
    pub xyzt_units: u8,
}

impl Geometry {
    /// An axis-aligned geometry with the given voxel size in millimetres (scanner coordinates,
    /// identity rotation, origin at voxel 0).
    pub fn with_spacing(spacing: [f32; 3]) -> Self {
        Geometry {
            spacing,
            qfac: 1.0,
            qform_code: 1,
            sform_code: 1,
            quatern: [0.0; 3],
            qoffset: [0.0; 3],
            srow: [
                [spacing[0], 0.0, 0.0, 0.0],
                [0.0, spacing[1], 0.0, 0.0],
                [0.0, 0.0, spacing[2], 0.0],
            ],
            xyzt_units: 2,
        }
    }
}

impl Default for Geometry {
    fn default() -> Self {
        Geometry::with_spacing([1.0; 3])
    }
}

/// A 3-D array in NIfTI order (x fastest) with its geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume<T> {
    dims: [usize; 3],
    data: Vec<T>,
    geometry: Geometry,
}

impl<T: Copy> Volume<T> {
    /// Wraps `data` of shape `dims = [width, height, depth]`; `None` when the length disagrees.
    pub fn new(dims: [usize; 3], data: Vec<T>, geometry: Geometry) -> Option<Self> {
        let n = dims[0].checked_mul(dims[1])?.checked_mul(dims[2])?;
        (n == data.len()).then_some(Volume {
            dims,
            data,
            geometry,
        })
    }

    /// `[width, height, depth]`.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Number of axial slices.
    pub fn depth(&self) -> usize {
        self.dims[2]
    }

    /// All voxels, x fastest.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// Spacing and orientation.
    pub fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// Axial slice `z` (row-major, `height` rows of `width`); empty when `z` is out of range.
    pub fn slice(&self, z: usize) -> &[T] {
        let n = self.dims[0] * self.dims[1];
        self.data.get(z * n..(z + 1) * n).unwrap_or(&[])
    }

    /// Applies `f` to every voxel.
    pub fn map<U: Copy>(&self, f: impl Fn(T) -> U) -> Volume<U> {
        Volume {
            dims: self.dims,
            data: self.data.iter().map(|&v| f(v)).collect(),
            geometry: self.geometry.clone(),
        }
    }
}

/// One axial slice at its native resolution: intensities already in `[0, 1]` and a label map.
#[derive(Debug, Clone, PartialEq)]
pub struct LabeledSlice {
    /// Columns.
    pub width: usize,
    /// Rows.
    pub height: usize,
    /// Windowed intensities in `[0, 1]`, row-major.
    pub image: Vec<f32>,
    /// Labels 0 background, 1 liver, 2 tumour, row-major.
    pub labels: Vec<u8>,
}

impl LabeledSlice {
    /// Whether any pixel is liver or tumour.
    pub fn has_liver(&self) -> bool {
        self.labels.iter().any(|&l| l != BACKGROUND)
    }

    /// Whether any pixel is tumour.
    pub fn has_tumor(&self) -> bool {
        self.labels.contains(&TUMOR)
    }
}
