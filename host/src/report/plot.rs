//! Line charts as RGB pictures: stacked panels of series against a shared x axis, with
//! "nice" ticks, grid lines, labels in the built-in bitmap font and a legend.
//!
//! Written on [`Canvas`] rather than a plotting crate so that a training run can refresh its
//! curves without a font file or system library; it draws exactly what a loss curve needs
//! and no more.

use super::font::{draw_text, text_width, GLYPH_H};
use crate::eval::overlay::Canvas;

const WHITE: [u8; 3] = [255, 255, 255];
const BLACK: [u8; 3] = [0, 0, 0];
const GRID: [u8; 3] = [225, 225, 225];
const TEXT: [u8; 3] = [40, 40, 40];
/// Font scale of every label.
const SCALE: i64 = 2;
const MARGIN_LEFT: i64 = 96;
const MARGIN_RIGHT: i64 = 24;
const MARGIN_TOP: i64 = 34;
const MARGIN_BOTTOM: i64 = 44;

/// One line of a panel.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// Legend text.
    pub label: String,
    /// Line colour.
    pub colour: [u8; 3],
    /// `(x, y)` points in drawing order; non-finite ones are left out.
    pub points: Vec<(f64, f64)>,
}

/// One panel: a title, a y range (fixed, or from the data) and its series.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// Title above the plot area.
    pub title: String,
    /// Fixed y range, e.g. `(0, 1)` for Dice; `None` fits the data.
    pub y_range: Option<(f64, f64)>,
    /// The lines.
    pub series: Vec<Series>,
}

/// Where a panel's data lands in the picture.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Left, top, right, bottom pixel of the plot area.
    pub px: [i64; 4],
    /// x range shown.
    pub x: (f64, f64),
    /// y range shown.
    pub y: (f64, f64),
}

impl Area {
    /// The pixel of data point `(x, y)`.
    pub fn map(&self, x: f64, y: f64) -> (i64, i64) {
        let [l, t, r, b] = self.px;
        let fx = (x - self.x.0) / (self.x.1 - self.x.0);
        let fy = (y - self.y.0) / (self.y.1 - self.y.0);
        (
            l + (fx * (r - l) as f64).round() as i64,
            b - (fy * (b - t) as f64).round() as i64,
        )
    }
}

/// A range that shows `lo..hi` with a little room, and never zero width.
fn padded(lo: f64, hi: f64) -> (f64, f64) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi - lo <= f64::EPSILON * hi.abs().max(1.0) {
        let pad = (lo.abs() * 0.1).max(1e-3);
        return (lo - pad, hi + pad);
    }
    let pad = (hi - lo) * 0.05;
    (lo - pad, hi + pad)
}

/// Tick positions in `lo..=hi` at a step of 1, 2 or 5 × 10ᵏ giving about `target` ticks,
/// and the decimals their labels need.
pub fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, usize) {
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) || target == 0 {
        return (Vec::new(), 0);
    }
    let raw = span / target as f64;
    let e = raw.log10().floor() as i32;
    let mag = 10f64.powi(e);
    let m = [1i64, 2, 5, 10]
        .into_iter()
        .find(|&m| m as f64 * mag >= raw)
        .unwrap_or(10);
    let step = m as f64 * mag;
    // k·m / 10^(−e) rather than k·step, so that 3 × 0.2 is the double nearest 0.6.
    let at = |k: i64| {
        if e < 0 {
            (k * m) as f64 / 10f64.powi(-e)
        } else {
            (k * m) as f64 * mag
        }
    };
    let decimals = (-step.log10().floor()).max(0.0) as usize;
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    let v = (first..=last).map(at).collect();
    (v, decimals)
}

/// A line from `a` to `b`, two pixels thick.
fn line(c: &mut Canvas, a: (i64, i64), b: (i64, i64), colour: [u8; 3]) {
    let steps = (b.0 - a.0).abs().max((b.1 - a.1).abs()).max(1);
    for k in 0..=steps {
        let x = a.0 + ((b.0 - a.0) * k + steps / 2).div_euclid(steps);
        let y = a.1 + ((b.1 - a.1) * k + steps / 2).div_euclid(steps);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            c.put(x + dx, y + dy, colour);
        }
    }
}

fn rect(c: &mut Canvas, l: i64, t: i64, r: i64, b: i64, colour: [u8; 3]) {
    for y in t..=b {
        for x in l..=r {
            c.put(x, y, colour);
        }
    }
}

/// The x range of all panels' finite points.
fn x_range(panels: &[Panel]) -> (f64, f64) {
    let xs = panels
        .iter()
        .flat_map(|p| &p.series)
        .flat_map(|s| &s.points)
        .filter(|(x, y)| x.is_finite() && y.is_finite())
        .map(|&(x, _)| x);
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if lo > hi {
        (0.0, 1.0)
    } else if hi - lo < 1e-12 {
        (lo - 0.5, hi + 0.5)
    } else {
        (lo, hi)
    }
}

/// The plot areas of `panels` stacked in a `width × height` picture.
pub fn layout(panels: &[Panel], width: usize, height: usize) -> Vec<Area> {
    let x = x_range(panels);
    let n = panels.len().max(1) as i64;
    let band = height as i64 / n;
    panels
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let top = i as i64 * band;
            let y = p.y_range.unwrap_or_else(|| {
                let (lo, hi) = p
                    .series
                    .iter()
                    .flat_map(|s| &s.points)
                    .filter(|(x, y)| x.is_finite() && y.is_finite())
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &(_, y)| {
                        (lo.min(y), hi.max(y))
                    });
                padded(lo, hi)
            });
            Area {
                px: [
                    MARGIN_LEFT,
                    top + MARGIN_TOP,
                    width as i64 - MARGIN_RIGHT,
                    top + band - MARGIN_BOTTOM,
                ],
                x,
                y,
            }
        })
        .collect()
}

/// Draws `panels` stacked in a `width × height` picture with `x_label` under each x axis.
pub fn render(panels: &[Panel], x_label: &str, width: usize, height: usize) -> Canvas {
    let mut c = Canvas::filled(width, height, WHITE);
    let glyph_h = GLYPH_H * SCALE;
    for (p, a) in panels.iter().zip(layout(panels, width, height)) {
        let [l, t, r, b] = a.px;
        if r <= l || b <= t {
            continue;
        }
        // Grid and y tick labels.
        let (yt, yd) = ticks(a.y.0, a.y.1, 5);
        for v in yt {
            let (_, y) = a.map(a.x.0, v);
            rect(&mut c, l, y, r, y, GRID);
            let label = format!("{v:.yd$}");
            let w = text_width(&label, SCALE);
            draw_text(&mut c, l - 8 - w, y - glyph_h / 2, &label, SCALE, TEXT);
        }
        // x ticks: whole numbers when the axis counts epochs.
        let (mut xt, mut xd) = ticks(a.x.0, a.x.1, 8);
        if a.x.1 - a.x.0 >= 1.0 {
            xt.retain(|v| v.fract() == 0.0);
            xd = 0;
        }
        for v in xt {
            let (x, _) = a.map(v, a.y.0);
            rect(&mut c, x, t, x, b, GRID);
            rect(&mut c, x, b, x, b + 4, BLACK);
            let label = format!("{v:.xd$}");
            let w = text_width(&label, SCALE);
            draw_text(&mut c, x - w / 2, b + 8, &label, SCALE, TEXT);
        }
        // Axes.
        rect(&mut c, l, b, r, b, BLACK);
        rect(&mut c, l, t, l, b, BLACK);
        // Title and x label.
        draw_text(&mut c, l, t - glyph_h - 10, &p.title, SCALE, TEXT);
        let w = text_width(x_label, SCALE);
        draw_text(&mut c, r - w, b + 10 + glyph_h, x_label, SCALE, TEXT);
        // Legend, right-aligned above the plot area.
        let mut lx = r;
        for s in p.series.iter().rev() {
            lx -= text_width(&s.label, SCALE);
            draw_text(&mut c, lx, t - glyph_h - 10, &s.label, SCALE, TEXT);
            lx -= 26;
            rect(
                &mut c,
                lx,
                t - glyph_h / 2 - 12,
                lx + 18,
                t - glyph_h / 2 - 9,
                s.colour,
            );
            lx -= 20;
        }
        // Lines and markers.
        for s in &p.series {
            let pts: Vec<(i64, i64)> = s
                .points
                .iter()
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .map(|&(x, y)| a.map(x, y))
                .collect();
            for w in pts.windows(2) {
                line(&mut c, w[0], w[1], s.colour);
            }
            for &(x, y) in &pts {
                rect(&mut c, x - 2, y - 2, x + 2, y + 2, s.colour);
            }
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks() {
        assert_eq!(ticks(0.0, 1.0, 5), (vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0], 1));
        let (t, d) = ticks(0.93, 1.41, 5);
        assert_eq!(d, 1);
        assert_eq!(t.len(), 5);
        assert!((t[0] - 1.0).abs() < 1e-12 && (t[4] - 1.4).abs() < 1e-12);
        assert_eq!(
            ticks(1.0, 8.0, 8).0,
            (1..=8).map(f64::from).collect::<Vec<_>>()
        );
        assert_eq!(ticks(1.0, 1.0, 5), (vec![], 0));
    }

    #[test]
    fn points_land_where_mapped() {
        let red = [220, 30, 30];
        let panels = [Panel {
            title: "loss".into(),
            y_range: Some((0.0, 1.0)),
            series: vec![Series {
                label: "train".into(),
                colour: red,
                points: vec![(1.0, 0.9), (2.0, 0.5), (3.0, f64::NAN), (4.0, 0.1)],
            }],
        }];
        let c = render(&panels, "epoch", 400, 300);
        assert_eq!(c.size(), [400, 300]);
        let a = layout(&panels, 400, 300)[0];
        // The x range is the finite points' (1..4); the ends land on the area's edges.
        assert_eq!(a.map(1.0, 0.0), (a.px[0], a.px[3]));
        assert_eq!(a.map(4.0, 1.0), (a.px[2], a.px[1]));
        for (x, y) in [(1.0, 0.9), (2.0, 0.5), (4.0, 0.1), (3.0, 0.3)] {
            // (3, 0.3) lies on the segment from (2, 0.5) to (4, 0.1): the NaN point is
            // skipped and its neighbours joined.
            let (px, py) = a.map(x, y);
            assert_eq!(c.get(px as usize, py as usize), Some(red), "({x}, {y})");
        }
        // Far from the line: background or grid, never the series colour.
        let (px, py) = a.map(1.5, 0.1);
        assert_ne!(c.get(px as usize, py as usize), Some(red));
    }
}
