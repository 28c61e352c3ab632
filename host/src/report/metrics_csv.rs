//! `RUN_DIR/metrics.csv` of `hepaseg train`: one row per finished epoch. Columns are found by
//! their header names, so that columns added later do not break older readers.

use std::path::Path;

/// One finished epoch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EpochRow {
    /// Epoch number (1-based).
    pub epoch: u64,
    /// Optimizer steps taken by the end of the epoch.
    pub step: u64,
    /// Mean training loss over the epoch.
    pub train_loss: f64,
    /// Pooled validation Dice.
    pub val_dice: f64,
    /// Pooled validation IoU.
    pub val_iou: f64,
    /// Learning rate of the epoch's last step.
    pub lr: f64,
}

/// Parses the text of a metrics.csv; errors name the line.
pub fn parse(text: &str) -> Result<Vec<EpochRow>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or("empty file (no header)")?;
    let names: Vec<&str> = header.split(',').map(str::trim).collect();
    let col = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .ok_or_else(|| format!("no `{name}` column in the header `{header}`"))
    };
    let cols = [
        col("epoch")?,
        col("step")?,
        col("train_loss")?,
        col("val_dice")?,
        col("val_iou")?,
        col("lr")?,
    ];
    lines
        .map(|(i, line)| {
            let fields: Vec<&str> = line.split(',').map(str::trim).collect();
            let num = |k: usize| -> Result<f64, String> {
                let c = cols[k];
                fields
                    .get(c)
                    .ok_or_else(|| format!("line {}: only {} fields", i + 1, fields.len()))?
                    .parse::<f64>()
                    .map_err(|_| format!("line {}: `{}` is not a number", i + 1, fields[c]))
            };
            let whole = |k: usize| -> Result<u64, String> {
                let v = num(k)?;
                if v >= 0.0 && v.fract() == 0.0 {
                    Ok(v as u64)
                } else {
                    Err(format!("line {}: `{v}` is not a count", i + 1))
                }
            };
            Ok(EpochRow {
                epoch: whole(0)?,
                step: whole(1)?,
                train_loss: num(2)?,
                val_dice: num(3)?,
                val_iou: num(4)?,
                lr: num(5)?,
            })
        })
        .collect()
}

/// Reads `path`; errors name the file.
pub fn read(path: &Path) -> Result<Vec<EpochRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The epoch with the highest validation Dice (the first of equals, as `train` keeps its
/// best checkpoint); `None` without rows.
pub fn best(rows: &[EpochRow]) -> Option<&EpochRow> {
    rows.iter()
        .filter(|r| !r.val_dice.is_nan())
        .fold(None, |best: Option<&EpochRow>, r| match best {
            Some(b) if b.val_dice >= r.val_dice => Some(b),
            _ => Some(r),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_by_header_and_picks_the_first_best() {
        let text = "epoch,step,train_loss,val_dice,val_iou,lr,extra\n\
                    1,5,0.9,0.40,0.25,5.0e-3,x\n\
                    2,10,0.7,0.60,0.43,4.0e-3,y\n\
                    3,15,0.6,0.60,0.43,3.0e-3,z\n";
        let rows = parse(text).unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(
            rows[1],
            EpochRow {
                epoch: 2,
                step: 10,
                train_loss: 0.7,
                val_dice: 0.6,
                val_iou: 0.43,
                lr: 4e-3
            }
        );
        assert_eq!(best(&rows).map(|r| r.epoch), Some(2));
        assert_eq!(best(&[]), None);
        assert_eq!(
            parse("epoch,step,train_loss,val_dice,val_iou,lr\n").unwrap(),
            []
        );
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(parse("").unwrap_err().contains("empty"));
        assert!(parse("epoch,step\n").unwrap_err().contains("`train_loss`"));
        let e = parse("epoch,step,train_loss,val_dice,val_iou,lr\n1,2,abc,0,0,0\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("abc"), "{e}");
        let e = parse("epoch,step,train_loss,val_dice,val_iou,lr\n1.5,2,0,0,0,0\n").unwrap_err();
        assert!(e.contains("not a count"), "{e}");
        let e = parse("epoch,step,train_loss,val_dice,val_iou,lr\n1,2\n").unwrap_err();
        assert!(e.contains("only 2 fields"), "{e}");
    }
}
