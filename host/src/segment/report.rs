//! The text `segment` prints: what was read, with which network, what was found (tumour
//! count, sizes, volume in mL when the spacing is known), how long it took, what was written.

use super::input::{CtVolume, Input};
use super::predict::Runner;
use super::Cleaned;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Largest components listed one per line.
const LIST: usize = 10;

#[derive(Debug)]
struct SliceLine {
    name: String,
    tumours: usize,
    voxels: usize,
    removed: usize,
}

#[derive(Debug)]
struct VolumeLines {
    components: Vec<usize>,
    removed: usize,
    /// Millilitres per voxel, when the spacing is known.
    ml_per_voxel: Option<f64>,
    liver_voxels: Option<usize>,
    notes: Vec<String>,
}

/// What one run found, filled in as it goes.
#[derive(Debug)]
pub(super) struct Report {
    input: String,
    kind: String,
    net: String,
    pub(super) liver_net: Option<String>,
    min_size: usize,
    slices: Vec<SliceLine>,
    volume: Option<VolumeLines>,
    timing: Vec<String>,
}

fn sizes_text(voxels: usize, ml_per_voxel: Option<f64>) -> String {
    match ml_per_voxel {
        Some(ml) => format!("{voxels} voxels = {:.3} mL", voxels as f64 * ml),
        None => format!("{voxels} voxels"),
    }
}

impl Report {
    pub(super) fn new(input: &Path, loaded: &Input, net: String, min_size: usize) -> Self {
        Self {
            input: input.display().to_string(),
            kind: loaded.describe(),
            net,
            liver_net: None,
            min_size,
            slices: Vec::new(),
            volume: None,
            timing: Vec::new(),
        }
    }

    pub(super) fn add_slice(&mut self, name: &str, c: &Cleaned) {
        self.slices.push(SliceLine {
            name: name.to_owned(),
            tumours: c.components.len(),
            voxels: c.components.iter().sum(),
            removed: c.removed,
        });
    }

    pub(super) fn set_volume(&mut self, v: &CtVolume, c: &Cleaned) {
        self.volume = Some(VolumeLines {
            components: c.components.clone(),
            removed: c.removed,
            ml_per_voxel: v.spacing_mm.map(|s| s[0] * s[1] * s[2] / 1000.0),
            liver_voxels: c.liver.as_ref().map(|l| l.iter().filter(|&&x| x).count()),
            notes: v.notes.clone(),
        });
    }

    pub(super) fn timing(&mut self, tumour: &Runner, liver: Option<&Runner>) {
        let n = tumour.seconds.len();
        self.timing.push(format!(
            "time: {n} slice(s), {:.2} ms/slice tumour network{}",
            tumour.ms_per_slice(),
            liver.map_or(String::new(), |l| format!(
                ", {:.2} ms/slice liver network",
                l.ms_per_slice()
            ))
        ));
    }

    pub(super) fn render(&self, written: &[PathBuf]) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "segmented {} ({})", self.input, self.kind);
        let _ = writeln!(s, "  network: {}", self.net);
        if let Some(l) = &self.liver_net {
            let _ = writeln!(
                s,
                "  liver cascade: {l}; tumour kept inside the largest liver component"
            );
        }
        if let Some(v) = &self.volume {
            for n in &v.notes {
                let _ = writeln!(s, "  note: {n}");
            }
            if let Some(lv) = v.liver_voxels {
                let _ = writeln!(s, "  liver: {}", sizes_text(lv, v.ml_per_voxel));
            }
            if self.min_size > 1 {
                let _ = writeln!(
                    s,
                    "  removed {} component(s) below {} voxels",
                    v.removed, self.min_size
                );
            }
            let total: usize = v.components.iter().sum();
            let _ = writeln!(
                s,
                "  tumours: {} (3D 26-connected components), {}",
                v.components.len(),
                sizes_text(total, v.ml_per_voxel)
            );
            let mut order: Vec<usize> = (0..v.components.len()).collect();
            order.sort_by_key(|&k| std::cmp::Reverse(v.components[k]));
            for &k in order.iter().take(LIST) {
                let _ = writeln!(
                    s,
                    "    #{}: {}",
                    k + 1,
                    sizes_text(v.components[k], v.ml_per_voxel)
                );
            }
            if order.len() > LIST {
                let _ = writeln!(s, "    … {} smaller", order.len() - LIST);
            }
        } else {
            let tumours: usize = self.slices.iter().map(|l| l.tumours).sum();
            let removed: usize = self.slices.iter().map(|l| l.removed).sum();
            if self.min_size > 1 {
                let _ = writeln!(
                    s,
                    "  removed {removed} component(s) below {} pixels",
                    self.min_size
                );
            }
            let _ = writeln!(
                s,
                "  tumours: {tumours} in {} slice(s) (2D 8-connected components per slice; no spacing: sizes in pixels)",
                self.slices.len()
            );
            for l in &self.slices {
                let _ = writeln!(
                    s,
                    "    {}: {} tumour(s), {} pixels",
                    l.name, l.tumours, l.voxels
                );
            }
        }
        for t in &self.timing {
            let _ = writeln!(s, "  {t}");
        }
        match written {
            [] => {}
            [one] => {
                let _ = write!(s, "  wrote {}", one.display());
            }
            [first, ..] => {
                let _ = write!(
                    s,
                    "  wrote {} file(s), first {}",
                    written.len(),
                    first.display()
                );
            }
        }
        s
    }
}
