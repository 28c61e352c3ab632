//! Segmentation losses on logits `N × 1 × H × W` against binary targets of the same shape.
//!
//! * BCE-with-logits, numerically stable: `max(x, 0) − x·t + ln(1 + e^(−|x|))`, averaged over
//!   every pixel (dfdx's fused op; its derivative is `σ(x) − t` everywhere, including `x = 0`).
//! * Soft Dice on `p = σ(x)`: per sample `(2Σpt + s)/(Σp + Σt + s)`, loss `1 − mean over the
//!   batch` (smoothing `s`, default 1) — the AGCAF-Net recipe.
//! * BCE + Dice (sum, weights 1 and 1) — the CAFCT-Net recipe.
//! * Soft IoU: per sample `(Σpt + s)/(Σp + Σt − Σpt + s)`, loss `1 − mean`.
//!
//! With [`LossConfig::pooled`] the Dice/IoU sums run over the whole batch at once ("batch
//! Dice", as nnU-Net uses for small structures): a batch whose slices mostly hold no tumour
//! then no longer rewards predicting nothing on each of them, and the loss is the pooled Dice
//! the validation reports.

use crate::nn::{dev_err, Map, NnError, Real};
use dfdx::shapes::{Axes3, Axes4, HasShape};
use dfdx::tensor::{Tape, Tensor};
use dfdx::tensor_ops::{Device, MeanTo, ReshapeTo, SumTo, TryAdd, TryDiv, TryMul, TrySub};

/// A scalar loss carrying the logits' tape.
pub type Scalar<E, D, T> = Tensor<(), E, D, T>;

/// Which loss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossKind {
    /// Binary cross-entropy on logits.
    Bce,
    /// Soft Dice.
    Dice,
    /// BCE + soft Dice.
    BceDice,
    /// Soft IoU (Jaccard).
    SoftIou,
}

impl LossKind {
    /// Every loss, for `--help` and parsing.
    pub const ALL: [LossKind; 4] = [
        LossKind::Bce,
        LossKind::Dice,
        LossKind::BceDice,
        LossKind::SoftIou,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            LossKind::Bce => "bce",
            LossKind::Dice => "dice",
            LossKind::BceDice => "bce-dice",
            LossKind::SoftIou => "soft-iou",
        }
    }

    /// Parses a command-line name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == s)
    }
}

/// A loss and its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossConfig {
    /// Which loss.
    pub kind: LossKind,
    /// Added to numerator and denominator of Dice/IoU (keeps empty masks finite).
    pub smooth: f64,
    /// Weight of the BCE term in [`LossKind::BceDice`].
    pub bce_weight: f64,
    /// Weight of the Dice term in [`LossKind::BceDice`].
    pub dice_weight: f64,
    /// Dice/IoU over the whole batch (one score) instead of the mean of per-sample scores.
    pub pooled: bool,
}

impl LossConfig {
    /// `kind` with smoothing 1 and unit weights.
    pub fn new(kind: LossKind) -> Self {
        Self {
            kind,
            smooth: 1.0,
            bce_weight: 1.0,
            dice_weight: 1.0,
            pooled: false,
        }
    }

    /// The same loss with Dice/IoU pooled over the batch (`pooled`) or per sample.
    pub fn with_pooled(self, pooled: bool) -> Self {
        Self { pooled, ..self }
    }

    /// The loss of `logits` against `targets` (same shape, values in `[0, 1]`).
    pub fn compute<E: Real, D: Device<E>, T: Tape<E, D>>(
        &self,
        logits: Map<E, D, T>,
        targets: Map<E, D>,
    ) -> Result<Scalar<E, D, T>, NnError> {
        check(&logits, &targets)?;
        let (logits, targets) = if self.pooled {
            // the batch as one sample: per-sample sums become batch sums
            let (n, c, h, w) = *logits.shape();
            let one = (1usize, n * c, h, w);
            (
                logits.try_reshape_like(&one).map_err(dev_err)?,
                targets.try_reshape_like(&one).map_err(dev_err)?,
            )
        } else {
            (logits, targets)
        };
        match self.kind {
            LossKind::Bce => bce_with_logits(logits, targets),
            LossKind::Dice => soft_dice(logits, targets, self.smooth),
            LossKind::SoftIou => soft_iou(logits, targets, self.smooth),
            LossKind::BceDice => {
                let bce = bce_with_logits(logits.retaped::<T>(), targets.clone())?
                    .try_mul(E::of_f64(self.bce_weight))
                    .map_err(dev_err)?;
                let dice = soft_dice(logits, targets, self.smooth)?
                    .try_mul(E::of_f64(self.dice_weight))
                    .map_err(dev_err)?;
                dice.try_add(bce).map_err(dev_err)
            }
        }
    }
}

fn check<E: Real, D: Device<E>, T>(
    logits: &Map<E, D, T>,
    targets: &Map<E, D>,
) -> Result<(), NnError> {
    let (a, b) = (*logits.shape(), *targets.shape());
    if a != b || a.0 * a.1 * a.2 * a.3 == 0 {
        return Err(NnError::shape(
            "loss",
            format!("non-empty targets shaped like the logits {a:?}"),
            &[b.0, b.1, b.2, b.3],
        ));
    }
    Ok(())
}

/// Mean binary cross-entropy of `logits` against `targets`.
pub fn bce_with_logits<E: Real, D: Device<E>, T: Tape<E, D>>(
    logits: Map<E, D, T>,
    targets: Map<E, D>,
) -> Result<Scalar<E, D, T>, NnError> {
    check(&logits, &targets)?;
    logits
        .try_bce_with_logits(targets)
        .map_err(dev_err)?
        .try_mean::<(), Axes4<0, 1, 2, 3>>()
        .map_err(dev_err)
}

/// Per-sample `(Σ p·t, Σ p, Σ t)` with `p = σ(logits)`, each `N`.
type Sums<E, D, T> = (
    Tensor<(usize,), E, D, T>,
    Tensor<(usize,), E, D, T>,
    Tensor<(usize,), E, D>,
);

fn overlap_sums<E: Real, D: Device<E>, T: Tape<E, D>>(
    logits: Map<E, D, T>,
    targets: Map<E, D>,
) -> Result<Sums<E, D, T>, NnError> {
    check(&logits, &targets)?;
    let p = logits.try_sigmoid().map_err(dev_err)?;
    let inter = p
        .retaped::<T>()
        .try_mul(targets.clone())
        .map_err(dev_err)?
        .try_sum::<(usize,), Axes3<1, 2, 3>>()
        .map_err(dev_err)?;
    let psum = p.try_sum::<(usize,), Axes3<1, 2, 3>>().map_err(dev_err)?;
    let tsum = targets
        .try_sum::<(usize,), Axes3<1, 2, 3>>()
        .map_err(dev_err)?;
    Ok((inter, psum, tsum))
}

/// `1 − mean_n (2Σpt + s)/(Σp + Σt + s)`.
pub fn soft_dice<E: Real, D: Device<E>, T: Tape<E, D>>(
    logits: Map<E, D, T>,
    targets: Map<E, D>,
    smooth: f64,
) -> Result<Scalar<E, D, T>, NnError> {
    let (inter, psum, tsum) = overlap_sums(logits, targets)?;
    let s = E::of_f64(smooth);
    let num = inter
        .try_mul(E::of_f64(2.0))
        .map_err(dev_err)?
        .try_add(s)
        .map_err(dev_err)?;
    let den = psum
        .try_add(tsum)
        .map_err(dev_err)?
        .try_add(s)
        .map_err(dev_err)?;
    one_minus_mean(num.try_div(den).map_err(dev_err)?)
}

/// `1 − mean_n (Σpt + s)/(Σp + Σt − Σpt + s)`.
pub fn soft_iou<E: Real, D: Device<E>, T: Tape<E, D>>(
    logits: Map<E, D, T>,
    targets: Map<E, D>,
    smooth: f64,
) -> Result<Scalar<E, D, T>, NnError> {
    let (inter, psum, tsum) = overlap_sums(logits, targets)?;
    let s = E::of_f64(smooth);
    let den = psum
        .try_add(tsum)
        .map_err(dev_err)?
        .try_sub(inter.retaped::<T>())
        .map_err(dev_err)?
        .try_add(s)
        .map_err(dev_err)?;
    let num = inter.try_add(s).map_err(dev_err)?;
    one_minus_mean(num.try_div(den).map_err(dev_err)?)
}

fn one_minus_mean<E: Real, D: Device<E>, T: Tape<E, D>>(
    score: Tensor<(usize,), E, D, T>,
) -> Result<Scalar<E, D, T>, NnError> {
    score
        .try_mean::<(), dfdx::shapes::Axis<0>>()
        .map_err(dev_err)?
        .try_negate()
        .map_err(dev_err)?
        .try_add(E::of_f64(1.0))
        .map_err(dev_err)
}
