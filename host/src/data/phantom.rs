//! Synthetic CT-like abdominal volumes in Hounsfield units, with LiTS-style labels.
//!
//! Why phantoms: every command needs a dataset that exists without a download, and the tests
//! need data whose ground truth is known exactly. Each volume is built analytically in
//! millimetres, so its anatomy does not depend on the grid size:
//!
//! * air (−1000 HU) around a body ellipse with a subcutaneous fat ring (≈ −100 HU) and soft
//!   tissue inside (35–45 HU) interspersed with visceral fat (a smooth random field, plus a thin
//!   fat plane along most of the liver's outline); a vertebra (bone ≈ 450 HU, canal ≈ 20 HU),
//!   the aorta with contrast (≈ 160 HU), the spleen (≈ 48 HU, a liver look-alike) and bowel gas
//!   pockets as distractors;
//! * the liver (label 1): an irregular blob (an ellipse modulated by a few harmonics that twist
//!   along z, tapering at both ends) of 55–65 HU on the patient's right (image left);
//! * vessels inside the liver: tubes 2–5 mm in radius, 90–130 HU above the parenchyma (portal
//!   venous contrast), labelled liver as in LiTS;
//! * lesions (label 2): 0–5 lobulated ellipsoids of 2–30 mm diameter with contrast −30..+40 HU
//!   relative to the liver (some near-invisible), some with a necrotic core or an enhancing rim
//!   (size, count and contrast ranges are [`PhantomConfig`] settings);
//! * partial-volume blur (a [1 2 1]/4 kernel in-plane) and Gaussian noise, σ 10–20 HU per volume;
//!   values are rounded to whole HU, as scanners store them.
//!
//! Everything is drawn from the seeded [`Rng`] and evaluated with `libm`, so a seed gives the
//! same volume on every platform.

use super::error::DataError;
use super::rng::Rng;
use super::volume::{Geometry, Volume, BACKGROUND, LIVER, TUMOR};

/// In-plane field of view in millimetres (a typical abdominal CT reconstruction).
pub const FOV_MM: f32 = 360.0;
/// Craniocaudal extent covered when there are enough slices: lower chest to pelvis, so the
/// liver (16–19 cm tall) fills the middle and the end slices have none, as in LiTS scans.
const STACK_MM: f32 = 240.0;

/// One lesion as generated (millimetres, relative to the volume centre).
#[derive(Debug, Clone, PartialEq)]
pub struct Lesion {
    /// Centre (x, y, z).
    pub center_mm: [f32; 3],
    /// Semi-axes (x, y, z).
    pub radii_mm: [f32; 3],
    /// Mean density relative to the liver.
    pub contrast_hu: f32,
}

/// A generated volume with its labels and what went into it.
#[derive(Debug, Clone)]
pub struct Phantom {
    /// CT in Hounsfield units (whole numbers).
    pub ct: Volume<f32>,
    /// Labels 0 background, 1 liver, 2 tumour.
    pub labels: Volume<u8>,
    /// The lesions placed (some may be too small to cover a voxel centre).
    pub lesions: Vec<Lesion>,
    /// Noise standard deviation in HU.
    pub noise_sigma: f32,
}

/// The analytic liver.
#[derive(Debug, Clone)]
struct Liver {
    center: [f32; 3],
    semi: [f32; 2],
    half_height: f32,
    /// (order, amplitude, phase, twist along z)
    harmonics: [(f32, f32, f32, f32); 3],
    hu: f32,
}

impl Liver {
    fn random(rng: &mut Rng, scale: f32) -> Liver {
        let u = |rng: &mut Rng, lo: f64, hi: f64| rng.uniform(lo, hi) as f32;
        let mut harmonics = [(0.0, 0.0, 0.0, 0.0); 3];
        for (i, h) in harmonics.iter_mut().enumerate() {
            *h = (
                (i + 2) as f32,
                u(rng, 0.03, 0.12),
                u(rng, 0.0, std::f64::consts::TAU),
                u(rng, -1.5, 1.5),
            );
        }
        Liver {
            center: [
                scale * u(rng, -65.0, -45.0),
                scale * u(rng, -15.0, 5.0),
                u(rng, -10.0, 10.0),
            ],
            semi: [scale * u(rng, 70.0, 90.0), scale * u(rng, 60.0, 78.0)],
            half_height: u(rng, 80.0, 95.0),
            harmonics,
            hu: u(rng, 55.0, 65.0),
        }
    }

    /// Boundary radius factor at `(x, y, z)`: < 1 inside.
    fn level(&self, x: f32, y: f32, z: f32) -> f32 {
        let dz = (z - self.center[2]) / self.half_height;
        if dz.abs() >= 1.0 {
            return f32::INFINITY;
        }
        // Tapering towards both ends, fuller at the dome (cranial, +z), drifting medially.
        let profile = libm::sqrtf(1.0 - dz * dz) * (1.0 + 0.15 * dz);
        let dx = x - self.center[0] - 12.0 * dz;
        let dy = y - self.center[1];
        let th = libm::atan2f(dy, dx);
        let (a, b) = (self.semi[0], self.semi[1]);
        let (c, s) = (libm::cosf(th), libm::sinf(th));
        let ellipse = a * b / libm::sqrtf((b * c) * (b * c) + (a * s) * (a * s));
        let mut m = 1.0;
        for &(k, amp, phase, twist) in &self.harmonics {
            m += amp * libm::cosf(k * th + phase + twist * dz);
        }
        libm::sqrtf(dx * dx + dy * dy) / (ellipse * m * profile).max(1e-3)
    }
}

/// A straight tube.
#[derive(Debug, Clone)]
struct Tube {
    a: [f32; 3],
    b: [f32; 3],
    radius: f32,
    hu: f32,
}

impl Tube {
    fn contains(&self, p: [f32; 3]) -> bool {
        let ab = [
            self.b[0] - self.a[0],
            self.b[1] - self.a[1],
            self.b[2] - self.a[2],
        ];
        let ap = [p[0] - self.a[0], p[1] - self.a[1], p[2] - self.a[2]];
        let len2 = ab[0] * ab[0] + ab[1] * ab[1] + ab[2] * ab[2];
        let t = if len2 > 0.0 {
            ((ap[0] * ab[0] + ap[1] * ab[1] + ap[2] * ab[2]) / len2).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let d = [ap[0] - t * ab[0], ap[1] - t * ab[1], ap[2] - t * ab[2]];
        d[0] * d[0] + d[1] * d[1] + d[2] * d[2] < self.radius * self.radius
    }
}

/// A lobulated ellipsoid lesion with optional necrotic core / enhancing rim.
#[derive(Debug, Clone)]
struct Blob {
    info: Lesion,
    lobes: f32,
    lobe_phase: f32,
    core_hu: f32,
    rim_hu: f32,
}

impl Blob {
    /// Normalised radius (< 1 inside).
    fn level(&self, p: [f32; 3]) -> f32 {
        let c = self.info.center_mm;
        let r = self.info.radii_mm;
        let d = [
            (p[0] - c[0]) / r[0],
            (p[1] - c[1]) / r[1],
            (p[2] - c[2]) / r[2],
        ];
        let q = libm::sqrtf(d[0] * d[0] + d[1] * d[1] + d[2] * d[2]);
        let phi = libm::atan2f(d[1], d[0]);
        q / (1.0 + self.lobes * libm::cosf(3.0 * phi + self.lobe_phase))
    }

    /// The lesion's HU offset at normalised radius `q` (< 1).
    fn offset(&self, q: f32) -> f32 {
        let mut hu = self.info.contrast_hu;
        if q < 0.5 {
            hu += self.core_hu;
        }
        if q > 0.75 {
            hu += self.rim_hu;
        }
        hu
    }
}

/// An axis-aligned ellipse (in-plane) over a z range, filled with `hu`.
#[derive(Debug, Clone)]
struct Ellipse {
    center: [f32; 2],
    semi: [f32; 2],
    z_range: (f32, f32),
    hu: f32,
}

impl Ellipse {
    fn contains(&self, x: f32, y: f32, z: f32) -> bool {
        let dx = (x - self.center[0]) / self.semi[0];
        let dy = (y - self.center[1]) / self.semi[1];
        z >= self.z_range.0 && z <= self.z_range.1 && dx * dx + dy * dy < 1.0
    }
}

/// Intra-abdominal fat: where a smooth random field (a sum of plane waves of 3–8 cm wavelength)
/// exceeds a threshold, soft tissue becomes fat.
#[derive(Debug, Clone)]
struct FatField {
    waves: Vec<([f32; 3], f32)>,
    threshold: f32,
    hu: f32,
}

impl FatField {
    fn random(rng: &mut Rng) -> FatField {
        let waves = (0..6)
            .map(|_| {
                let th = rng.uniform(0.0, std::f64::consts::TAU);
                let k = std::f64::consts::TAU / rng.uniform(30.0, 80.0);
                let kz = rng.uniform(-0.3, 0.3) * k;
                (
                    [
                        (k * libm::cos(th)) as f32,
                        (k * libm::sin(th)) as f32,
                        kz as f32,
                    ],
                    rng.uniform_f32(0.0, std::f32::consts::TAU),
                )
            })
            .collect();
        FatField {
            waves,
            // The field has variance 3 (six unit-amplitude waves): ~25 % of the tissue is fat.
            threshold: rng.uniform_f32(1.0, 1.4),
            hu: rng.uniform_f32(-110.0, -80.0),
        }
    }

    fn value(&self, p: [f32; 3]) -> f32 {
        self.waves
            .iter()
            .map(|(k, phase)| libm::cosf(k[0] * p[0] + k[1] * p[1] + k[2] * p[2] + phase))
            .sum()
    }
}

/// Everything drawn for one volume.
#[derive(Debug, Clone)]
struct Anatomy {
    body: Ellipse,
    fat_mm: f32,
    bone: Ellipse,
    canal: Ellipse,
    aorta: Ellipse,
    spleen: Ellipse,
    gas: Vec<Ellipse>,
    fat: FatField,
    liver: Liver,
    vessels: Vec<Tube>,
    lesions: Vec<Blob>,
}

fn draw_anatomy(rng: &mut Rng, z_half: f32, config: &PhantomConfig) -> Anatomy {
    let scale = rng.uniform(0.9, 1.05) as f32;
    let u = |rng: &mut Rng, lo: f32, hi: f32| rng.uniform_f32(lo, hi);
    let all_z = (-1e9, 1e9);
    let body = Ellipse {
        center: [u(rng, -5.0, 5.0), u(rng, -5.0, 5.0)],
        semi: [scale * u(rng, 150.0, 168.0), scale * u(rng, 112.0, 128.0)],
        z_range: all_z,
        hu: u(rng, 35.0, 45.0),
    };
    let fat_mm = u(rng, 8.0, 20.0);
    let spine_y = body.center[1] + body.semi[1] - fat_mm - 35.0;
    let bone = Ellipse {
        center: [body.center[0], spine_y],
        semi: [20.0, 18.0],
        z_range: all_z,
        hu: u(rng, 350.0, 550.0),
    };
    let canal = Ellipse {
        center: [body.center[0], spine_y + 6.0],
        semi: [7.0, 7.0],
        z_range: all_z,
        hu: 20.0,
    };
    let aorta = Ellipse {
        center: [body.center[0] + 18.0, spine_y - 32.0],
        semi: [11.0, 11.0],
        z_range: all_z,
        hu: u(rng, 150.0, 190.0),
    };
    let spleen_z = u(rng, -20.0, 40.0);
    let spleen = Ellipse {
        center: [scale * u(rng, 85.0, 100.0), scale * u(rng, 20.0, 40.0)],
        semi: [scale * u(rng, 22.0, 32.0), scale * u(rng, 35.0, 50.0)],
        z_range: (spleen_z - 50.0, spleen_z + 50.0),
        hu: u(rng, 44.0, 52.0),
    };
    let gas = (0..rng.range_inclusive(1, 4))
        .map(|_| {
            let zc = u(rng, -z_half, z_half);
            Ellipse {
                center: [scale * u(rng, 10.0, 80.0), scale * u(rng, -70.0, -20.0)],
                semi: [u(rng, 6.0, 18.0), u(rng, 5.0, 12.0)],
                z_range: (zc - 15.0, zc + 15.0),
                hu: u(rng, -900.0, -600.0),
            }
        })
        .collect();
    let liver = Liver::random(rng, scale);
    // Vessels branch from a hilum near the liver's medial side.
    let hilum = [
        liver.center[0] + 0.35 * liver.semi[0],
        liver.center[1] + 0.1 * liver.semi[1],
        liver.center[2],
    ];
    let vessels = (0..rng.range_inclusive(3, 6))
        .map(|_| {
            let th = rng.uniform(0.0, std::f64::consts::TAU);
            let tilt = rng.uniform(-0.6, 0.6);
            let len = u(rng, 40.0, 90.0);
            let dir = [
                (libm::cos(th) * libm::cos(tilt)) as f32,
                (libm::sin(th) * libm::cos(tilt)) as f32,
                libm::sin(tilt) as f32,
            ];
            Tube {
                a: hilum,
                b: [
                    hilum[0] + dir[0] * len,
                    hilum[1] + dir[1] * len,
                    hilum[2] + dir[2] * len,
                ],
                radius: u(rng, 2.0, 5.0),
                hu: u(rng, 90.0, 130.0),
            }
        })
        .collect();
    let lesions = draw_lesions(rng, &liver, z_half, config);
    let fat = FatField::random(rng);
    Anatomy {
        body,
        fat_mm,
        bone,
        canal,
        aorta,
        spleen,
        gas,
        fat,
        liver,
        vessels,
        lesions,
    }
}

/// Up to `max_lesions` lesions (one in six volumes is lesion-free) with centres inside the liver
/// and within the scanned z range.
fn draw_lesions(rng: &mut Rng, liver: &Liver, z_half: f32, config: &PhantomConfig) -> Vec<Blob> {
    let count = if rng.chance(1.0 / 6.0) {
        0
    } else {
        rng.range_inclusive(1, config.max_lesions.max(1) as u64) as usize
    };
    let count = count.min(config.max_lesions);
    let mut out = Vec::with_capacity(count);
    let (dmin, dmax) = config.lesion_diameter_mm;
    for _ in 0..count {
        let diameter = rng.uniform_f32(dmin, dmax);
        let radii = [0, 1, 2].map(|_| diameter / 2.0 * rng.uniform_f32(0.8, 1.2));
        // Mostly hypodense (as metastases and HCC washout look), some hyperdense.
        let contrast = rng.uniform_f32(config.lesion_contrast_hu.0, config.lesion_contrast_hu.1);
        let necrotic = diameter > 15.0 && rng.chance(0.5);
        let rim = rng.chance(0.25);
        let lobes = rng.uniform_f32(0.0, 0.2);
        let lobe_phase = rng.uniform_f32(0.0, std::f32::consts::TAU);
        let mut center = None;
        for _ in 0..200 {
            let p = [
                liver.center[0] + rng.uniform_f32(-1.0, 1.0) * liver.semi[0],
                liver.center[1] + rng.uniform_f32(-1.0, 1.0) * liver.semi[1],
                rng.uniform_f32(-z_half, z_half),
            ];
            // Keep the centre well inside so most of the lesion lies in the liver.
            if liver.level(p[0], p[1], p[2]) < 0.8 {
                center = Some(p);
                break;
            }
        }
        let Some(center_mm) = center else { continue };
        out.push(Blob {
            info: Lesion {
                center_mm,
                radii_mm: radii,
                contrast_hu: contrast,
            },
            lobes,
            lobe_phase,
            core_hu: if necrotic { -15.0 } else { 0.0 },
            rim_hu: if rim { 20.0 } else { 0.0 },
        });
    }
    out
}

impl Anatomy {
    /// HU and label at a point (before blur and noise).
    fn sample(&self, x: f32, y: f32, z: f32) -> (f32, u8) {
        if !self.body.contains(x, y, z) {
            return (-1000.0, BACKGROUND);
        }
        let inner = Ellipse {
            semi: [
                self.body.semi[0] - self.fat_mm,
                self.body.semi[1] - self.fat_mm,
            ],
            ..self.body.clone()
        };
        if !inner.contains(x, y, z) {
            return (-100.0, BACKGROUND);
        }
        let p = [x, y, z];
        // Bone and the great vessels first: the liver abuts them but never covers them.
        for organ in [&self.canal, &self.bone, &self.aorta] {
            if organ.contains(x, y, z) {
                return (organ.hu, BACKGROUND);
            }
        }
        let liver_level = self.liver.level(x, y, z);
        if liver_level < 1.0 {
            let mut hu = self.liver.hu;
            let mut label = LIVER;
            if let Some(v) = self.vessels.iter().find(|v| v.contains(p)) {
                hu += v.hu;
            }
            for blob in &self.lesions {
                let q = blob.level(p);
                if q < 1.0 {
                    hu = self.liver.hu + blob.offset(q);
                    label = TUMOR;
                }
            }
            return (hu, label);
        }
        if self.spleen.contains(x, y, z) {
            return (self.spleen.hu, BACKGROUND);
        }
        if let Some(g) = self.gas.iter().find(|g| g.contains(x, y, z)) {
            return (g.hu, BACKGROUND);
        }
        let f = self.fat.value(p);
        // Visceral fat between the organs, and a thin perihepatic fat plane along most of the
        // liver's outline: what makes the liver's edge visible on real CT.
        if f > self.fat.threshold || (liver_level < 1.07 && f > self.fat.threshold - 0.8) {
            return (self.fat.hu, BACKGROUND);
        }
        (self.body.hu, BACKGROUND)
    }
}

/// In-plane [1 2 1]/4 blur of each slice (edges clamped): partial-volume smoothing.
fn blur(data: &mut [f32], w: usize, h: usize) {
    let mut tmp = vec![0.0f32; w * h];
    for slice in data.chunks_exact_mut(w * h) {
        for y in 0..h {
            for x in 0..w {
                let l = slice[y * w + x.saturating_sub(1)];
                let r = slice[y * w + (x + 1).min(w - 1)];
                tmp[y * w + x] = 0.25 * l + 0.5 * slice[y * w + x] + 0.25 * r;
            }
        }
        for y in 0..h {
            for x in 0..w {
                let u = tmp[y.saturating_sub(1) * w + x];
                let d = tmp[(y + 1).min(h - 1) * w + x];
                slice[y * w + x] = 0.25 * u + 0.5 * tmp[y * w + x] + 0.25 * d;
            }
        }
    }
}

/// What to generate. [`PhantomConfig::new`] gives the documented defaults; the lesion and noise
/// ranges are the knobs for making the task easier or harder.
#[derive(Debug, Clone, PartialEq)]
pub struct PhantomConfig {
    /// Slice side in pixels (8..=2048); pixel spacing is `360 mm / size`.
    pub size: usize,
    /// Slices (1..=2048); spacing `240 mm / slices` clamped to 1–5 mm, so few slices cover the
    /// middle of the liver and 48 or more cover it all plus the organs around.
    pub slices: usize,
    /// Lesion diameter range in millimetres (default 2–30).
    pub lesion_diameter_mm: (f32, f32),
    /// Most lesions per volume (default 5; one volume in six has none).
    pub max_lesions: usize,
    /// Range of the per-volume noise standard deviation in HU (default 10–20).
    pub noise_sigma_hu: (f32, f32),
    /// Range of lesion contrast against the liver in HU (default −30..+40: mostly
    /// hypodense, some hyperdense, some near-invisible).
    pub lesion_contrast_hu: (f32, f32),
}

impl PhantomConfig {
    /// Defaults for a `size × size × slices` volume.
    pub fn new(size: usize, slices: usize) -> Self {
        PhantomConfig {
            size,
            slices,
            lesion_diameter_mm: (2.0, 30.0),
            max_lesions: 5,
            noise_sigma_hu: (10.0, 20.0),
            lesion_contrast_hu: (-30.0, 40.0),
        }
    }

    /// Checks the ranges (size, slices, min ≤ max).
    pub fn validate(&self) -> Result<(), DataError> {
        let (size, slices) = (self.size, self.slices);
        let ordered =
            |(a, b): (f32, f32), lo: f32| a.is_finite() && b.is_finite() && lo <= a && a <= b;
        if !(8..=2048).contains(&size) || !(1..=2048).contains(&slices) {
            return Err(DataError::Config(format!(
                "phantom size {size} (8..=2048) or slices {slices} (1..=2048) out of range"
            )));
        }
        let contrast = self.lesion_contrast_hu;
        if !ordered(contrast, -1000.0) || contrast.1 > 1000.0 {
            return Err(DataError::Config(format!(
                "lesion contrast {contrast:?} HU needs −1000 ≤ min ≤ max ≤ 1000"
            )));
        }
        if !ordered(self.lesion_diameter_mm, 0.5) || !ordered(self.noise_sigma_hu, 0.0) {
            return Err(DataError::Config(format!(
                "lesion diameters {:?} mm (≥ 0.5) and noise {:?} HU (≥ 0) need min ≤ max",
                self.lesion_diameter_mm, self.noise_sigma_hu
            )));
        }
        Ok(())
    }
}

/// Generates one `size × size × slices` phantom for `seed` with the default settings.
pub fn generate(size: usize, slices: usize, seed: u64) -> Result<Phantom, DataError> {
    generate_with(&PhantomConfig::new(size, slices), seed)
}

/// Generates one phantom as `config` says, for `seed`.
pub fn generate_with(config: &PhantomConfig, seed: u64) -> Result<Phantom, DataError> {
    config.validate()?;
    let (size, slices) = (config.size, config.slices);
    let mut rng = Rng::new(seed);
    let dx = FOV_MM / size as f32;
    let dz = (STACK_MM / slices as f32).clamp(1.0, 5.0);
    let z_half = dz * slices as f32 / 2.0;
    let anatomy = draw_anatomy(&mut rng, z_half, config);
    let noise_sigma = rng.uniform_f32(config.noise_sigma_hu.0, config.noise_sigma_hu.1);
    let n = size * size * slices;
    let mut ct = Vec::with_capacity(n);
    let mut labels = Vec::with_capacity(n);
    for z in 0..slices {
        let zm = (z as f32 + 0.5) * dz - z_half;
        for y in 0..size {
            let ym = (y as f32 + 0.5 - size as f32 / 2.0) * dx;
            for x in 0..size {
                let xm = (x as f32 + 0.5 - size as f32 / 2.0) * dx;
                let (hu, label) = anatomy.sample(xm, ym, zm);
                ct.push(hu);
                labels.push(label);
            }
        }
    }
    blur(&mut ct, size, size);
    for v in &mut ct {
        *v = (*v + noise_sigma * rng.normal() as f32).round();
    }
    let geometry = Geometry::with_spacing([dx, dx, dz]);
    let dims = [size, size, slices];
    let bad = || DataError::Config("phantom buffer size mismatch".into());
    Ok(Phantom {
        ct: Volume::new(dims, ct, geometry.clone()).ok_or_else(bad)?,
        labels: Volume::new(dims, labels, geometry).ok_or_else(bad)?,
        lesions: anatomy.lesions.into_iter().map(|b| b.info).collect(),
        noise_sigma,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_seed_dependent() {
        let a = generate(32, 3, 11).unwrap();
        let b = generate(32, 3, 11).unwrap();
        assert_eq!(a.ct, b.ct);
        assert_eq!(a.labels, b.labels);
        let c = generate(32, 3, 12).unwrap();
        assert_ne!(a.ct, c.ct);
        assert!(generate(4, 3, 0).is_err());
        assert!(generate(32, 0, 0).is_err());
        let mut big = PhantomConfig::new(64, 8);
        big.lesion_diameter_mm = (20.0, 30.0);
        big.max_lesions = 8;
        let p = generate_with(&big, 3).unwrap();
        assert!(p
            .lesions
            .iter()
            .all(|l| l.radii_mm.iter().all(|&r| r >= 8.0)));
        big.lesion_contrast_hu = (-45.0, -25.0);
        let p = generate_with(&big, 3).unwrap();
        assert!(!p.lesions.is_empty());
        assert!(p
            .lesions
            .iter()
            .all(|l| (-45.0..=-25.0).contains(&l.contrast_hu)));
        big.lesion_contrast_hu = (10.0, -10.0);
        assert!(generate_with(&big, 3).is_err());
        big.lesion_contrast_hu = (-45.0, -25.0);
        big.noise_sigma_hu = (5.0, 1.0);
        assert!(generate_with(&big, 3).is_err());
    }

    #[test]
    fn anatomy_is_ct_like() {
        let mut tumour_volumes = 0;
        for seed in 0..6 {
            let p = generate(96, 8, seed).unwrap();
            let (ct, lab) = (p.ct.data(), p.labels.data());
            assert!((10.0..=20.0).contains(&p.noise_sigma));
            let mean = |pred: &dyn Fn(usize) -> bool| {
                let v: Vec<f32> = (0..ct.len()).filter(|&i| pred(i)).map(|i| ct[i]).collect();
                (v.iter().sum::<f32>() / v.len().max(1) as f32, v.len())
            };
            let (liver_hu, liver_n) = mean(&|i| lab[i] == LIVER);
            assert!(liver_n > 500, "seed {seed}: {liver_n} liver voxels");
            assert!((55.0..110.0).contains(&liver_hu), "liver {liver_hu}");
            // The corner is air.
            assert!(ct[0] < -900.0);
            assert_eq!(lab[0], BACKGROUND);
            assert!(ct.iter().all(|v| v.fract() == 0.0));
            if lab.contains(&TUMOR) {
                tumour_volumes += 1;
            }
        }
        assert!(
            tumour_volumes >= 3,
            "only {tumour_volumes} volumes with tumour"
        );
    }
}
