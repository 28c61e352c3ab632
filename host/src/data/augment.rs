//! Seeded data augmentation: flips, small rotations and scaling (same geometry for image and
//! mask), and brightness/contrast jitter (image only).
//!
//! Parameters are drawn first ([`Augment::draw`], a fixed number of draws whatever is enabled,
//! so changing one probability does not reshuffle the others), then applied
//! ([`AugmentParams::apply`]). The geometric part is one inverse mapping around the slice centre:
//! the image is resampled bilinearly and the labels by nearest neighbour through the *same*
//! mapping, so they stay aligned; pure flips are exact index permutations. A 2.5D image (k
//! planes: a slice and its neighbours) gets the same geometry and intensity change on every
//! plane, so the slices stay aligned with each other and with the centre slice's labels.

use super::resample::{sample_bilinear_fill, sample_nearest_fill};
use super::rng::Rng;
use super::volume::BACKGROUND;

/// Augmentation settings. Probabilities are per sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Augment {
    /// Probability of a left–right flip.
    pub hflip: f64,
    /// Probability of an up–down flip.
    pub vflip: f64,
    /// Probability of a rotation + scaling.
    pub affine: f64,
    /// Largest rotation in degrees (drawn uniformly in ±this).
    pub max_rotation_deg: f32,
    /// Scale range (drawn uniformly; > 1 zooms in).
    pub scale: (f32, f32),
    /// Probability of an intensity jitter.
    pub intensity: f64,
    /// Largest brightness shift (added, in `[0, 1]` intensity units).
    pub max_brightness: f32,
    /// Largest relative contrast change (factor drawn in `1 ± this`, around mid-grey).
    pub max_contrast: f32,
}

impl Default for Augment {
    /// Flips 0.5 each, rotation ±10° with scaling 0.9–1.1 at 0.5, brightness ±0.1 and contrast
    /// ±10 % at 0.5.
    fn default() -> Self {
        Augment {
            hflip: 0.5,
            vflip: 0.5,
            affine: 0.5,
            max_rotation_deg: 10.0,
            scale: (0.9, 1.1),
            intensity: 0.5,
            max_brightness: 0.1,
            max_contrast: 0.1,
        }
    }
}

/// The augmentation drawn for one sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AugmentParams {
    /// Left–right flip.
    pub hflip: bool,
    /// Up–down flip.
    pub vflip: bool,
    /// Rotation in degrees (counter-clockwise in image coordinates, y down).
    pub rotation_deg: f32,
    /// Scale factor (> 1 zooms in).
    pub scale: f32,
    /// Additive brightness.
    pub brightness: f32,
    /// Contrast factor around 0.5.
    pub contrast: f32,
}

impl AugmentParams {
    /// No change.
    pub const IDENTITY: AugmentParams = AugmentParams {
        hflip: false,
        vflip: false,
        rotation_deg: 0.0,
        scale: 1.0,
        brightness: 0.0,
        contrast: 1.0,
    };
}

impl Augment {
    /// Draws one sample's parameters (always eight draws from `rng`).
    pub fn draw(&self, rng: &mut Rng) -> AugmentParams {
        let hflip = rng.chance(self.hflip);
        let vflip = rng.chance(self.vflip);
        let affine = rng.chance(self.affine);
        let rot = rng.uniform_f32(-self.max_rotation_deg, self.max_rotation_deg);
        let (lo, hi) = self.scale;
        let scale = rng.uniform_f32(lo, hi);
        let jitter = rng.chance(self.intensity);
        let b = rng.uniform_f32(-self.max_brightness, self.max_brightness);
        let c = rng.uniform_f32(-self.max_contrast, self.max_contrast);
        AugmentParams {
            hflip,
            vflip,
            rotation_deg: if affine { rot } else { 0.0 },
            scale: if affine && scale.is_finite() && scale > 0.0 {
                scale
            } else {
                1.0
            },
            brightness: if jitter { b } else { 0.0 },
            contrast: if jitter { 1.0 + c } else { 1.0 },
        }
    }
}

impl AugmentParams {
    /// Applies the parameters to an image of `size × size` planes (one, or the k slices of a
    /// 2.5D input — all transformed alike) and its `size × size` labels, in place.
    pub fn apply(&self, size: usize, image: &mut Vec<f32>, labels: &mut Vec<u8>) {
        let n = size * size;
        if n == 0 || labels.len() != n || image.is_empty() || !image.len().is_multiple_of(n) {
            return;
        }
        if self.rotation_deg != 0.0 || self.scale != 1.0 {
            self.warp(size, image, labels);
        } else if self.hflip || self.vflip {
            for plane in image.chunks_exact_mut(n) {
                self.flip(size, plane);
            }
            self.flip(size, labels);
        }
        if self.brightness != 0.0 || self.contrast != 1.0 {
            for v in image.iter_mut() {
                *v = ((*v - 0.5) * self.contrast + 0.5 + self.brightness).clamp(0.0, 1.0);
            }
        }
    }

    /// Exact flips by index permutation.
    fn flip<T: Copy>(&self, size: usize, data: &mut [T]) {
        if self.hflip {
            for row in data.chunks_exact_mut(size) {
                row.reverse();
            }
        }
        if self.vflip {
            for y in 0..size / 2 {
                let (top, bottom) = data.split_at_mut((size - 1 - y) * size);
                top[y * size..(y + 1) * size].swap_with_slice(&mut bottom[..size]);
            }
        }
    }

    /// Flips, rotation and scaling as one inverse mapping: for each output pixel, undo the flips,
    /// then the scaled rotation, around the centre; sample the source there (every image plane
    /// and the labels through the same source points).
    fn warp(&self, size: usize, image: &mut Vec<f32>, labels: &mut Vec<u8>) {
        let c = (size as f32 - 1.0) / 2.0;
        let theta = f64::from(self.rotation_deg).to_radians();
        let (sin, cos) = (libm::sin(theta) as f32, libm::cos(theta) as f32);
        let inv = 1.0 / self.scale;
        let mut points = Vec::with_capacity(size * size);
        for y in 0..size {
            for x in 0..size {
                let mut u = x as f32 - c;
                let mut v = y as f32 - c;
                if self.hflip {
                    u = -u;
                }
                if self.vflip {
                    v = -v;
                }
                // Forward map is p' = s·R(θ)·p; inverse p = R(−θ)·p'/s.
                let sx = (cos * u + sin * v) * inv + c;
                let sy = (-sin * u + cos * v) * inv + c;
                points.push((sx, sy));
            }
        }
        let mut out_img = Vec::with_capacity(image.len());
        for plane in image.chunks_exact(size * size) {
            out_img.extend(
                points
                    .iter()
                    .map(|&(sx, sy)| sample_bilinear_fill(plane, size, size, sx, sy, 0.0)),
            );
        }
        *labels = points
            .iter()
            .map(|&(sx, sy)| sample_nearest_fill(labels, size, size, sx, sy, BACKGROUND))
            .collect();
        *image = out_img;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flips_permute_exactly() {
        let mut img: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let mut lab: Vec<u8> = (0..9).collect();
        let p = AugmentParams {
            hflip: true,
            ..AugmentParams::IDENTITY
        };
        p.apply(3, &mut img, &mut lab);
        assert_eq!(lab, vec![2, 1, 0, 5, 4, 3, 8, 7, 6]);
        assert_eq!(img, lab.iter().map(|&v| f32::from(v)).collect::<Vec<_>>());
        let p = AugmentParams {
            vflip: true,
            ..AugmentParams::IDENTITY
        };
        let mut lab: Vec<u8> = (0..16).collect();
        let mut img = vec![0.0; 16];
        p.apply(4, &mut img, &mut lab);
        assert_eq!(lab[..4], [12, 13, 14, 15]);
        assert_eq!(lab[12..], [0, 1, 2, 3]);
    }

    #[test]
    fn identity_warp_is_exact_and_rotation_keeps_alignment() {
        let size = 16;
        let mut img = vec![0.0f32; size * size];
        let mut lab = vec![0u8; size * size];
        for y in 4..10 {
            for x in 3..8 {
                img[y * size + x] = 1.0;
                lab[y * size + x] = 2;
            }
        }
        // A 90° rotation is an exact permutation: image and labels move together.
        let p = AugmentParams {
            rotation_deg: 90.0,
            ..AugmentParams::IDENTITY
        };
        let (mut i2, mut l2) = (img.clone(), lab.clone());
        p.apply(size, &mut i2, &mut l2);
        for k in 0..size * size {
            assert_eq!(i2[k] > 0.5, l2[k] == 2, "pixel {k}");
        }
        assert_eq!(l2.iter().filter(|&&l| l == 2).count(), 30);
        // Small rotation: labels stay where the image is bright.
        let p = AugmentParams {
            rotation_deg: 7.0,
            scale: 1.05,
            ..AugmentParams::IDENTITY
        };
        let (mut i3, mut l3) = (img.clone(), lab.clone());
        p.apply(size, &mut i3, &mut l3);
        for k in 0..size * size {
            if l3[k] == 2 {
                assert!(i3[k] > 0.2, "label without image at {k}: {}", i3[k]);
            }
            if i3[k] > 0.99 {
                assert_eq!(l3[k], 2, "image without label at {k}");
            }
        }
    }

    #[test]
    fn every_plane_of_a_stack_gets_the_same_geometry() {
        // Three planes p, 2p, 4p (exact multiples: bilinear sampling scales exactly by powers
        // of two): after a warp and after a flip they are still p', 2p', 4p', with p' the
        // single-plane result, and the labels move once.
        let size = 12;
        let base: Vec<f32> = (0..size * size)
            .map(|i| ((i * 7) % 13) as f32 / 13.0)
            .collect();
        let lab: Vec<u8> = (0..size * size).map(|i| (i % 3) as u8).collect();
        for p in [
            AugmentParams {
                rotation_deg: 8.0,
                scale: 1.07,
                hflip: true,
                ..AugmentParams::IDENTITY
            },
            AugmentParams {
                vflip: true,
                ..AugmentParams::IDENTITY
            },
        ] {
            let (mut one, mut l1) = (base.clone(), lab.clone());
            p.apply(size, &mut one, &mut l1);
            let mut stack: Vec<f32> = [1.0f32, 2.0, 4.0]
                .iter()
                .flat_map(|&m| base.iter().map(move |v| v * m))
                .collect();
            let mut l3 = lab.clone();
            p.apply(size, &mut stack, &mut l3);
            assert_eq!(l3, l1);
            for (j, m) in [1.0f32, 2.0, 4.0].iter().enumerate() {
                let want: Vec<f32> = one.iter().map(|v| v * m).collect();
                assert_eq!(stack[j * size * size..(j + 1) * size * size], want[..]);
            }
        }
    }

    #[test]
    fn intensity_only_touches_image() {
        let mut img = vec![0.5f32, 0.0, 1.0, 0.75];
        let mut lab = vec![0u8, 1, 2, 1];
        let p = AugmentParams {
            brightness: 0.1,
            contrast: 1.2,
            ..AugmentParams::IDENTITY
        };
        p.apply(2, &mut img, &mut lab);
        let expect = [0.6, 0.0, 1.0, 0.9];
        for (v, e) in img.iter().zip(expect) {
            assert!((v - e).abs() < 1e-6, "{v} vs {e}");
        }
        assert_eq!(lab, vec![0, 1, 2, 1]);
    }

    #[test]
    fn draws_are_seeded_and_bounded() {
        let a = Augment::default();
        let d1: Vec<_> = {
            let mut r = Rng::new(5);
            (0..50).map(|_| a.draw(&mut r)).collect()
        };
        let mut r = Rng::new(5);
        let d2: Vec<_> = (0..50).map(|_| a.draw(&mut r)).collect();
        assert_eq!(d1, d2);
        for p in &d1 {
            assert!(p.rotation_deg.abs() <= 10.0);
            assert!((0.9..=1.1).contains(&p.scale));
            assert!(p.brightness.abs() <= 0.1);
            assert!((0.9..=1.1).contains(&p.contrast));
        }
        assert!(d1.iter().any(|p| p.hflip) && d1.iter().any(|p| !p.hflip));
        assert!(d1.iter().any(|p| p.rotation_deg != 0.0));
    }
}
