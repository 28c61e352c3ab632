//! From DICOM patient geometry (LPS) to the NIfTI qform/sform (RAS) of a [`Geometry`].
//!
//! DICOM places pixel (column i, row j) of a slice at
//! `ImagePositionPatient + i·Δc·r + j·Δr·c` in LPS coordinates (x to the patient's left,
//! y to the posterior, z to the head), with `r`, `c` the row and column direction cosines of
//! `ImageOrientationPatient` and `PixelSpacing = [Δr, Δc]` (row spacing first). Slices are
//! stacked along the normal `n = r × c`. NIfTI's world is RAS, so the first two world axes
//! change sign. The volume keeps DICOM's in-slice order (x = column, y = row, x fastest), so
//! a mask written with this geometry opens aligned with the DICOM series in 3D Slicer or
//! ITK-SNAP, which both apply exactly this conversion.

use crate::data::Geometry;

/// Cross product.
fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

/// The slice normal `r × c` of an `ImageOrientationPatient` (row cosines, then column cosines).
pub fn normal(orientation: [f64; 6]) -> [f64; 3] {
    let r = [orientation[0], orientation[1], orientation[2]];
    let c = [orientation[3], orientation[4], orientation[5]];
    cross(r, c)
}

/// The NIfTI quaternion (b, c, d) and qfac of a 3×3 rotation (rows = world axes, columns =
/// voxel axes), by `nifti_mat44_to_quatern` of the reference nifti1_io library: a matrix with
/// negative determinant gets qfac = −1 and its third column negated first.
pub fn quaternion(m: [[f64; 3]; 3]) -> ([f64; 3], f64) {
    let det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
        - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    let mut r = m;
    let qfac = if det < 0.0 {
        for row in &mut r {
            row[2] = -row[2];
        }
        -1.0
    } else {
        1.0
    };
    let (r11, r12, r13) = (r[0][0], r[0][1], r[0][2]);
    let (r21, r22, r23) = (r[1][0], r[1][1], r[1][2]);
    let (r31, r32, r33) = (r[2][0], r[2][1], r[2][2]);
    let trace = r11 + r22 + r33 + 1.0;
    let (a, b, c, d);
    if trace > 0.5 {
        a = 0.5 * trace.sqrt();
        b = 0.25 * (r32 - r23) / a;
        c = 0.25 * (r13 - r31) / a;
        d = 0.25 * (r21 - r12) / a;
    } else {
        let xd = 1.0 + r11 - (r22 + r33);
        let yd = 1.0 + r22 - (r11 + r33);
        let zd = 1.0 + r33 - (r11 + r22);
        if xd > 1.0 {
            b = 0.5 * xd.sqrt();
            c = 0.25 * (r12 + r21) / b;
            d = 0.25 * (r13 + r31) / b;
            a = 0.25 * (r32 - r23) / b;
        } else if yd > 1.0 {
            c = 0.5 * yd.sqrt();
            b = 0.25 * (r12 + r21) / c;
            d = 0.25 * (r23 + r32) / c;
            a = 0.25 * (r13 - r31) / c;
        } else {
            d = 0.5 * zd.sqrt();
            b = 0.25 * (r13 + r31) / d;
            c = 0.25 * (r23 + r32) / d;
            a = 0.25 * (r21 - r12) / d;
        }
    }
    // The quaternion and its negative are the same rotation; NIfTI stores the one with a ≥ 0.
    let s = if a < 0.0 { -1.0 } else { 1.0 };
    ([s * b, s * c, s * d], qfac)
}

/// The NIfTI geometry of a volume whose voxel (i, j, k) sits at
/// `origin + i·Δx·r + j·Δy·c + k·Δz·n` (LPS), with `spacing = [Δx, Δy, Δz]` (column spacing,
/// row spacing, slice spacing) and `origin` the `ImagePositionPatient` of slice 0.
pub fn nifti_geometry(orientation: [f64; 6], origin: [f64; 3], spacing: [f64; 3]) -> Geometry {
    let r = [orientation[0], orientation[1], orientation[2]];
    let c = [orientation[3], orientation[4], orientation[5]];
    let n = cross(r, c);
    // LPS → RAS: negate world x and y.
    let flip = [-1.0, -1.0, 1.0];
    let mut rot = [[0.0; 3]; 3];
    let mut srow = [[0.0f32; 4]; 3];
    for w in 0..3 {
        let axes = [r[w], c[w], n[w]];
        for v in 0..3 {
            rot[w][v] = flip[w] * axes[v];
            srow[w][v] = (flip[w] * axes[v] * spacing[v]) as f32;
        }
        srow[w][3] = (flip[w] * origin[w]) as f32;
    }
    let (quat, qfac) = quaternion(rot);
    Geometry {
        spacing: [spacing[0] as f32, spacing[1] as f32, spacing[2] as f32],
        qfac: qfac as f32,
        qform_code: 1,
        sform_code: 1,
        quatern: [quat[0] as f32, quat[1] as f32, quat[2] as f32],
        qoffset: [srow[0][3], srow[1][3], srow[2][3]],
        srow,
        xyzt_units: 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rotation of a NIfTI quaternion (nifti1_io's `quatern_to_mat44`), for round trips.
    fn rotation(q: [f64; 3], qfac: f64) -> [[f64; 3]; 3] {
        let [b, c, d] = q;
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let mut m = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        for row in &mut m {
            row[2] *= qfac;
        }
        m
    }

    fn close(a: [[f64; 3]; 3], b: [[f64; 3]; 3]) -> bool {
        (0..3).all(|i| (0..3).all(|j| (a[i][j] - b[i][j]).abs() < 1e-9))
    }

    #[test]
    fn axial_lps_is_a_half_turn_about_z() {
        // Standard axial: r = +x, c = +y in LPS; in RAS both flip: diag(−1, −1, 1), a rotation
        // by 180° about z, quaternion (0, 0, 1).
        let (q, qfac) = quaternion([[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, 1.0]]);
        assert_eq!((q, qfac), ([0.0, 0.0, 1.0], 1.0));
    }

    #[test]
    fn quaternions_round_trip() {
        let s = std::f64::consts::FRAC_1_SQRT_2;
        let cases = [
            [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], // reflection: qfac −1
            [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]],  // sagittal-like permutation
            [[s, -s, 0.0], [s, s, 0.0], [0.0, 0.0, 1.0]],         // 45° about z
            [[1.0, 0.0, 0.0], [0.0, s, -s], [0.0, s, s]],         // gantry tilt
            [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]],
        ];
        for m in cases {
            let (q, qfac) = quaternion(m);
            assert!(close(rotation(q, qfac), m), "{m:?} → {q:?} {qfac}");
        }
    }

    #[test]
    fn axial_geometry_matches_the_lps_to_ras_affine() {
        let g = nifti_geometry(
            [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            [-158.0, -179.0, -75.5],
            [0.5, 0.75, 5.0],
        );
        assert_eq!(g.spacing, [0.5, 0.75, 5.0]);
        assert_eq!(g.srow[0], [-0.5, 0.0, 0.0, 158.0]);
        assert_eq!(g.srow[1], [0.0, -0.75, 0.0, 179.0]);
        assert_eq!(g.srow[2], [0.0, 0.0, 5.0, -75.5]);
        assert_eq!(g.qoffset, [158.0, 179.0, -75.5]);
        assert_eq!((g.quatern, g.qfac), ([0.0, 0.0, 1.0], 1.0));
        assert_eq!(normal([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]), [0.0, 0.0, 1.0]);
    }
}
