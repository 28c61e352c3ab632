//! Hounsfield-unit windowing: the CT intensity range that matters for the liver, mapped to `[0, 1]`.
//!
//! Raw CT spans −1024 (air) to 3000+ (bone, metal); liver parenchyma, lesions and contrast-filled
//! vessels all live in about −200..250 HU. Clipping to that window and scaling to `[0, 1]` gives
//! the network the contrast that matters, and is what the Kaggle PNG slices already did (8-bit).

use super::error::DataError;

/// A linear HU window `[lo, hi]` mapped onto `[0, 1]` (values outside are clipped).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Window {
    lo: f32,
    hi: f32,
}

impl Default for Window {
    /// The liver window used by the LiTS literature: [−200, 250] HU.
    fn default() -> Self {
        Window {
            lo: -200.0,
            hi: 250.0,
        }
    }
}

impl Window {
    /// A window from `lo` to `hi` HU; both finite and `lo < hi`.
    pub fn new(lo: f32, hi: f32) -> Result<Self, DataError> {
        if lo.is_finite() && hi.is_finite() && lo < hi {
            Ok(Window { lo, hi })
        } else {
            Err(DataError::Config(format!(
                "HU window [{lo}, {hi}] must be finite with lo < hi"
            )))
        }
    }

    /// Lower bound (maps to 0).
    pub fn lo(&self) -> f32 {
        self.lo
    }

    /// Upper bound (maps to 1).
    pub fn hi(&self) -> f32 {
        self.hi
    }

    /// `hu` mapped to `[0, 1]`; NaN maps to 0 so one bad voxel cannot poison a batch.
    pub fn apply(&self, hu: f32) -> f32 {
        let v = (hu - self.lo) / (self.hi - self.lo);
        if v.is_nan() {
            0.0
        } else {
            v.clamp(0.0, 1.0)
        }
    }

    /// `hu` windowed and quantised to 8 bits (round half up), as stored in lits-png slices.
    pub fn to_u8(&self, hu: f32) -> u8 {
        // apply() is in [0, 1], so the product is in [0, 255.5) and the cast cannot wrap.
        (self.apply(hu) * 255.0 + 0.5) as u8
    }
}

/// 8-bit PNG grey level to `[0, 1]` (the slices are already windowed).
pub fn u8_to_unit(v: u8) -> f32 {
    f32::from(v) / 255.0
}

/// 16-bit PNG grey level to `[0, 1]` (treated as an already windowed slice at higher precision).
pub fn u16_to_unit(v: u16) -> f32 {
    f32::from(v) / 65535.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_window_values() {
        let w = Window::default();
        assert_eq!(w.apply(-200.0), 0.0);
        assert_eq!(w.apply(250.0), 1.0);
        assert_eq!(w.apply(-1000.0), 0.0);
        assert_eq!(w.apply(3000.0), 1.0);
        assert!((w.apply(25.0) - 0.5).abs() < 1e-6);
        assert!((w.apply(60.0) - 260.0 / 450.0).abs() < 1e-6);
        assert_eq!(w.apply(f32::NAN), 0.0);
        assert_eq!(w.to_u8(-200.0), 0);
        assert_eq!(w.to_u8(250.0), 255);
        assert_eq!(w.to_u8(25.0), 128); // 127.5 rounds up
        assert_eq!(u8_to_unit(255), 1.0);
        assert_eq!(u16_to_unit(65535), 1.0);
    }

    #[test]
    fn custom_window_is_validated() {
        assert!(Window::new(0.0, 0.0).is_err());
        assert!(Window::new(f32::NAN, 1.0).is_err());
        let w = Window::new(-100.0, 100.0).unwrap();
        assert_eq!(w.apply(0.0), 0.5);
        assert_eq!((w.lo(), w.hi()), (-100.0, 100.0));
    }
}
