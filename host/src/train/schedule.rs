//! Learning-rate schedules, evaluated per iteration `t = 0, 1, …, T−1`.
//!
//! * constant: `base`;
//! * poly (AGPCNet/DeepLab): `base·(1 − t/T)^power`, power 0.9;
//! * cosine: `min + (base − min)·(1 + cos(π·t/T))/2`.
//!
//! Past `T` the poly and cosine rates stay at their end value.

use super::TrainError;

/// The shape of a schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScheduleKind {
    /// The same rate throughout.
    Constant,
    /// Polynomial decay to 0.
    Poly {
        /// Exponent (0.9 in the paper recipes).
        power: f64,
    },
    /// Cosine annealing to `min_lr`.
    Cosine {
        /// The final rate.
        min_lr: f64,
    },
}

/// A schedule over `total` iterations starting at `base`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    base: f64,
    total: u64,
    kind: ScheduleKind,
}

impl Schedule {
    /// A schedule; `base` must be finite and ≥ 0, `total` ≥ 1.
    pub fn new(kind: ScheduleKind, base: f64, total: u64) -> Result<Self, TrainError> {
        let ok = base.is_finite()
            && base >= 0.0
            && total >= 1
            && match kind {
                ScheduleKind::Constant => true,
                ScheduleKind::Poly { power } => power.is_finite() && power >= 0.0,
                ScheduleKind::Cosine { min_lr } => {
                    min_lr.is_finite() && (0.0..=base).contains(&min_lr)
                }
            };
        if !ok {
            return Err(TrainError::Config(format!(
                "schedule {kind:?} with base {base} over {total} iterations"
            )));
        }
        Ok(Self { base, total, kind })
    }

    /// The poly schedule of the paper recipes (`power` 0.9).
    pub fn poly(base: f64, total: u64) -> Result<Self, TrainError> {
        Self::new(ScheduleKind::Poly { power: 0.9 }, base, total)
    }

    /// The rate for iteration `t` (0-based).
    pub fn lr(&self, t: u64) -> f64 {
        let frac = t.min(self.total) as f64 / self.total as f64;
        match self.kind {
            ScheduleKind::Constant => self.base,
            ScheduleKind::Poly { power } => self.base * (1.0 - frac).powf(power),
            ScheduleKind::Cosine { min_lr } => {
                min_lr + (self.base - min_lr) * (1.0 + (std::f64::consts::PI * frac).cos()) / 2.0
            }
        }
    }

    /// Total iterations.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_by_hand() {
        let p = Schedule::poly(0.05, 100).unwrap();
        assert_eq!(p.lr(0), 0.05);
        assert!((p.lr(50) - 0.05 * 0.5f64.powf(0.9)).abs() < 1e-15);
        assert_eq!(p.lr(100), 0.0);
        assert_eq!(p.lr(1000), 0.0);
        let c = Schedule::new(ScheduleKind::Cosine { min_lr: 0.001 }, 0.011, 10).unwrap();
        assert!((c.lr(0) - 0.011).abs() < 1e-15);
        assert!((c.lr(5) - 0.006).abs() < 1e-15);
        assert!((c.lr(10) - 0.001).abs() < 1e-15);
        let k = Schedule::new(ScheduleKind::Constant, 1e-3, 1).unwrap();
        assert_eq!(k.lr(7), 1e-3);
        assert!(Schedule::poly(0.1, 0).is_err());
        assert!(Schedule::poly(f64::NAN, 10).is_err());
        assert!(Schedule::new(ScheduleKind::Cosine { min_lr: 1.0 }, 0.1, 10).is_err());
    }
}
