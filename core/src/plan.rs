//! Compile-time memory planning for a whole network.
//!
//! A network lists its activation buffers with their sizes and lifetimes (the first and last
//! step that uses each one). [`Plan::new`] — a `const fn` — assigns each buffer a byte offset
//! so that buffers alive at the same time never overlap, greedily placing the largest first
//! at the lowest offset that fits (the "greedy by size" strategy of TFLite's arena planner).
//! The result's `total` is the network's `ARENA_BYTES`: close to the largest set of
//! simultaneously live activations, not their sum.
//!
//! At run time, [`Plan::regions`] hands out the buffers one step needs as disjoint mutable
//! slices of the arena (checked by `get_disjoint_mut`, so a planner bug is an error value, not
//! aliasing).

use crate::error::Error;
use core::ops::Range;

/// Every buffer starts on this boundary (bytes): SIMD- and cache-line friendly.
pub const ALIGN: usize = 64;

/// One activation buffer: its size and the steps during which it is live (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffer {
    /// Size in bytes.
    pub bytes: usize,
    /// First step that writes it.
    pub first: usize,
    /// Last step that reads it.
    pub last: usize,
}

impl Buffer {
    /// A buffer of `bytes` live from step `first` to step `last`.
    pub const fn new(bytes: usize, first: usize, last: usize) -> Self {
        Self { bytes, first, last }
    }

    const fn overlaps_in_time(&self, other: &Buffer) -> bool {
        self.first <= other.last && other.first <= self.last
    }
}

/// Offsets for `N` buffers, computed at compile time.
#[derive(Debug, Clone, Copy)]
pub struct Plan<const N: usize> {
    buffers: [Buffer; N],
    offsets: [usize; N],
    /// Arena bytes the plan needs.
    pub total: usize,
}

const fn round_up(n: usize) -> usize {
    n.div_ceil(ALIGN) * ALIGN
}

impl<const N: usize> Plan<N> {
    /// Places the buffers: largest first, each at the lowest aligned offset that does not
    /// collide with an already placed buffer whose lifetime overlaps.
    pub const fn new(buffers: [Buffer; N]) -> Self {
        // order = indices sorted by size, descending (stable: ties keep declaration order)
        let mut order = [0usize; N];
        let mut i = 0;
        while i < N {
            order[i] = i;
            i += 1;
        }
        let mut a = 1;
        while a < N {
            let mut b = a;
            while b > 0 && buffers[order[b - 1]].bytes < buffers[order[b]].bytes {
                let t = order[b - 1];
                order[b - 1] = order[b];
                order[b] = t;
                b -= 1;
            }
            a += 1;
        }
        let mut offsets = [0usize; N];
        let mut placed = [false; N];
        let mut total = 0;
        let mut k = 0;
        while k < N {
            let me = order[k];
            let size = round_up(buffers[me].bytes);
            let mut offset = 0;
            // Raise `offset` past every conflicting placed buffer until a pass finds none.
            loop {
                let mut moved = false;
                let mut j = 0;
                while j < N {
                    if placed[j] && buffers[j].overlaps_in_time(&buffers[me]) {
                        let (s, e) = (offsets[j], offsets[j] + round_up(buffers[j].bytes));
                        if offset < e && s < offset + size {
                            offset = e;
                            moved = true;
                        }
                    }
                    j += 1;
                }
                if !moved {
                    break;
                }
            }
            offsets[me] = offset;
            placed[me] = true;
            if offset + size > total {
                total = offset + size;
            }
            k += 1;
        }
        Self {
            buffers,
            offsets,
            total,
        }
    }

    /// Byte range of buffer `id`.
    pub const fn byte_range(&self, id: usize) -> Range<usize> {
        self.offsets[id]..self.offsets[id] + self.buffers[id].bytes
    }

    /// Whether two buffers that are live at the same time ever share bytes (always false for
    /// a plan made by [`Plan::new`]; tests check it).
    pub const fn is_sound(&self) -> bool {
        let mut i = 0;
        while i < N {
            let mut j = i + 1;
            while j < N {
                let (a, b) = (self.byte_range(i), self.byte_range(j));
                if self.buffers[i].overlaps_in_time(&self.buffers[j])
                    && a.start < b.end
                    && b.start < a.end
                {
                    return false;
                }
                j += 1;
            }
            i += 1;
        }
        true
    }

    /// Sum of all buffer sizes (what the arena would need without reuse).
    pub const fn unplanned_total(&self) -> usize {
        let mut s = 0;
        let mut i = 0;
        while i < N {
            s += round_up(self.buffers[i].bytes);
            i += 1;
        }
        s
    }

    /// The f32 slices of buffers `ids` in an f32 arena, as disjoint mutable borrows.
    pub fn regions<'a, const K: usize>(
        &self,
        arena: &'a mut [f32],
        ids: [usize; K],
    ) -> Result<[&'a mut [f32]; K], Error> {
        let f = core::mem::size_of::<f32>();
        let ranges = ids.map(|id| {
            let r = self.byte_range(id);
            r.start / f..r.end / f
        });
        let available = core::mem::size_of_val(arena);
        arena.get_disjoint_mut(ranges).map_err(|e| match e {
            core::slice::GetDisjointMutError::IndexOutOfBounds => Error::ArenaTooSmall {
                needed: self.total,
                available,
            },
            core::slice::GetDisjointMutError::OverlappingIndices => Error::PlanOverlap,
        })
    }
}
