//! Two networks on the same slices: each one's masks against the ground truth, and the masks
//! against each other (pixel agreement, Dice of one against the other). The report uses it
//! for a checkpoint (host f32) against its int8 blob (core int8).

use crate::data::{Dataset, Target};
use crate::metrics::Confusion;
use crate::segment::predict::Runner;
use crate::segment::SliceNet;

/// What the comparison counted (pooled over every pixel of every slice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Agreement {
    /// Slices compared.
    pub slices: usize,
    /// Pixels compared.
    pub pixels: u64,
    /// The first network's masks against the ground truth.
    pub f32: Confusion,
    /// The second network's masks against the ground truth.
    pub int8: Confusion,
    /// The second network's masks against the first's.
    pub int8_vs_f32: Confusion,
}

impl Agreement {
    /// Fraction of pixels where both masks agree.
    pub fn agreement(&self) -> f64 {
        let c = self.int8_vs_f32;
        (c.tp + c.tn) as f64 / self.pixels.max(1) as f64
    }
}

/// Runs `a` and `b` (logit > 0) on every slice of `slices` (prepared at their input size).
pub fn run(
    a: &mut dyn SliceNet,
    b: &mut dyn SliceNet,
    slices: &Dataset,
    target: Target,
) -> Result<Agreement, String> {
    let [h, w] = a.input_hw();
    if b.input_hw() != [h, w] || b.input_channels() != a.input_channels() {
        return Err(format!(
            "{} and {} take different input shapes",
            a.describe(),
            b.describe()
        ));
    }
    let (mut ra, mut rb) = (Runner::new(), Runner::new());
    let mut out = Agreement::default();
    for i in 0..slices.len() {
        let s = slices.load(i).map_err(|e| e.to_string())?;
        let ma = ra.mask(a, &s.image, w, h, 0.0)?;
        let mb = rb.mask(b, &s.image, w, h, 0.0)?;
        for ((&pa, &pb), &l) in ma.iter().zip(&mb).zip(&s.labels) {
            let truth = target.of(l) > 0.5;
            out.f32.count(pa, truth);
            out.int8.count(pb, truth);
            out.int8_vs_f32.count(pb, pa);
        }
        out.slices += 1;
        out.pixels += ma.len() as u64;
    }
    Ok(out)
}
