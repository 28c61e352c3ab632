//! The int8 engine's time per activation point and per block of a whole forward pass.
//!
//! The int8 blocks read their tensors from a blob by name and hand quantization points from
//! block to block, so they are timed inside the network instead of one by one: a
//! [`Probe`] sees every activation point as soon as it is computed (the probe is called
//! whether or not anyone listens; see `core/src/nets/agcaf_int8.rs` for the order), and
//! [`PointTimer`] charges the time since the previous point to the point just reported. The
//! points are then summed per row of the network's
//! [`BlockInfo`](hepaseg_core::nets::BlockInfo) table (a point `act.P…` belongs to the row whose
//! name is a prefix of `P`). `act.input` is the input's quantization; the time after the last
//! point (AGCAF-Net: the final bilinear resize) is reported as [`AFTER_LAST`].
//!
//! The probe's own cost is one clock read and one comparison per report (attention scores are
//! reported one query row at a time: a few thousand reports per slice), which
//! [`Breakdown::total`] includes; compare it with the same network's time without a probe.
use hepaseg::bench::int8_blob;
use hepaseg::quant::report::AlignedBytes;
use hepaseg::registry::Model;
use hepaseg_core::blob::{Blob, SignaturePolicy};
use hepaseg_core::int8::graph::{OutputQuant, Probe};
use hepaseg_core::nets::{agcaf, cafct, BlockInfo, Int8Network};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Name of the time after the last reported point.
pub const AFTER_LAST: &str = "(after the last point)";

/// Charges the time between reports to the reported point.
///
/// Names are told apart by address: a point's name is the blob's tensor name, the same bytes
/// at every report (the CAFCT-Net attention reports its query, scores and output in turn, one
/// token at a time, so a comparison of the text per report would cost more than the work).
#[derive(Debug)]
pub struct PointTimer {
    last: Instant,
    index: HashMap<(usize, usize), usize>,
    points: Vec<(String, Duration)>,
}

impl PointTimer {
    fn new() -> Self {
        PointTimer {
            last: Instant::now(),
            index: HashMap::new(),
            points: Vec::new(),
        }
    }

    fn charge(&mut self, name: &str, now: Instant) {
        let dt = now.saturating_duration_since(self.last);
        let key = (name.as_ptr() as usize, name.len());
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                // A new address: the same text may already be known (another copy of it).
                let i = match self.points.iter().position(|p| p.0 == name) {
                    Some(i) => i,
                    None => {
                        self.points.push((name.to_owned(), Duration::ZERO));
                        self.points.len() - 1
                    }
                };
                self.index.insert(key, i);
                i
            }
        };
        self.points[i].1 += dt;
        self.last = now;
    }
}

impl Probe for PointTimer {
    fn observe(&mut self, name: &str, _: OutputQuant, _: &[i8]) {
        self.charge(name, Instant::now());
    }
}

/// One network's int8 forward pass, ready to run with a [`PointTimer`].
pub struct Int8Net {
    blob: AlignedBytes,
    input: Vec<f32>,
    arena: AlignedBytes,
    blocks: &'static [BlockInfo],
    macs: u64,
    forward: fn(&Blob<'_>, &[f32], &mut [u8], &mut PointTimer),
}

impl std::fmt::Debug for Int8Net {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Int8Net")
            .field("macs", &self.macs)
            .finish_non_exhaustive()
    }
}

/// Time per point, summed over the runs.
#[derive(Debug, Clone, Default)]
pub struct Breakdown {
    /// `(point name, time)` in the order the points were first reported.
    pub points: Vec<(String, Duration)>,
    /// Wall time of the runs, the probe's reports included.
    pub total: Duration,
    /// Runs summed.
    pub runs: usize,
}

fn forward<N: Int8Network>(blob: &Blob<'_>, input: &[f32], arena: &mut [u8], t: &mut PointTimer) {
    N::forward_int8_probe(blob, input, arena, t).expect("int8 forward pass");
}

impl Int8Net {
    /// `model`'s `edge` network with seeded weights quantized as `hepaseg bench` does, on the
    /// same phantom slice (`None` for a model core does not run).
    pub fn edge(model: Model) -> Option<Self> {
        match model {
            Model::AgcafNet => Some(Self::build::<agcaf::AgcafEdge>(model)),
            Model::CafctNet => Some(Self::build::<cafct::edge::Net>(model)),
            _ => None,
        }
    }

    fn build<N: Int8Network>(model: Model) -> Self {
        let values = hepaseg::blob::seeded_params(N::PARAMS, 0);
        let blob = int8_blob::<N>(model, "edge", &values, 0).expect("int8 blob");
        let input = hepaseg::bench::bench_input(N::INPUT[1], N::INPUT[0], 0).expect("phantom");
        Int8Net {
            blob: AlignedBytes::new(&blob),
            input,
            arena: AlignedBytes::zeroed(N::ARENA_BYTES_INT8),
            blocks: N::BLOCKS,
            macs: N::MACS,
            forward: forward::<N>,
        }
    }

    /// The network's block rows.
    pub fn blocks(&self) -> &'static [BlockInfo] {
        self.blocks
    }

    /// Multiply–accumulates per slice.
    pub fn macs(&self) -> u64 {
        self.macs
    }

    /// Runs the network `runs` times with a [`PointTimer`].
    pub fn run(&mut self, runs: usize) -> Breakdown {
        let blob = Blob::parse(self.blob.bytes(), SignaturePolicy::Optional).expect("int8 blob");
        let mut out = Breakdown::default();
        let mut timer = PointTimer::new();
        for _ in 0..runs {
            let start = Instant::now();
            timer.last = start;
            (self.forward)(&blob, &self.input, self.arena.bytes_mut(), &mut timer);
            let end = Instant::now();
            timer.charge(AFTER_LAST, end);
            out.total += end - start;
        }
        out.points = timer.points;
        out.runs = runs;
        out
    }
}

impl Breakdown {
    /// Time per row of `blocks` (a point belongs to the row whose name prefixes it), then the
    /// points of no row (`act.input`, [`AFTER_LAST`]) under their own names.
    pub fn per_block(&self, blocks: &[BlockInfo]) -> Vec<(String, Duration)> {
        let mut rows: Vec<(String, Duration)> = blocks
            .iter()
            .map(|b| (b.name.to_owned(), Duration::ZERO))
            .collect();
        for (point, t) in &self.points {
            let bare = point.strip_prefix("act.").unwrap_or(point);
            match blocks.iter().position(|b| is_under(bare, b.name)) {
                Some(i) => rows[i].1 += *t,
                None => match rows.iter_mut().find(|r| r.0 == *point) {
                    Some(r) => r.1 += *t,
                    None => rows.push((point.clone(), *t)),
                },
            }
        }
        rows
    }
}

/// Whether `name` is `prefix` or below it (`prefix.`…).
pub fn is_under(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}
