//! Connected components of a binary volume, for counting tumours and cleaning masks.
//!
//! Connectivity is the full neighbourhood: 26 neighbours in 3D, which on a one-slice volume
//! is exactly the 8-neighbourhood in 2D, so a single slice and a volume share one code path.
//! Labelling is an explicit-stack flood fill (no recursion, so a large liver cannot overflow
//! the stack); components are numbered in raster order of their first voxel, which keeps
//! reports deterministic.

/// The components of a mask.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Components {
    /// Per voxel: 0 for background, else the component number `1..=sizes.len()`.
    pub labels: Vec<u32>,
    /// Voxels of component `k + 1`.
    pub sizes: Vec<usize>,
}

/// Labels the foreground of `mask` (`dims = [width, height, depth]`, x fastest).
pub fn label(mask: &[bool], dims: [usize; 3]) -> Components {
    let [w, h, d] = dims;
    let mut labels = vec![0u32; mask.len()];
    let mut sizes = Vec::new();
    // Callers pass a mask of its own dims; a mismatch (a bug) labels nothing rather than
    // indexing out of bounds.
    debug_assert_eq!(mask.len(), w * h * d);
    if mask.len() != w * h * d {
        return Components { labels, sizes };
    }
    let mut stack = Vec::new();
    for start in 0..mask.len() {
        if !mask[start] || labels[start] != 0 {
            continue;
        }
        let id = sizes.len() as u32 + 1;
        labels[start] = id;
        stack.push(start);
        let mut size = 0;
        while let Some(i) = stack.pop() {
            size += 1;
            let (x, y, z) = (i % w, (i / w) % h, i / (w * h));
            for nz in z.saturating_sub(1)..=(z + 1).min(d - 1) {
                for ny in y.saturating_sub(1)..=(y + 1).min(h - 1) {
                    for nx in x.saturating_sub(1)..=(x + 1).min(w - 1) {
                        let j = (nz * h + ny) * w + nx;
                        if mask[j] && labels[j] == 0 {
                            labels[j] = id;
                            stack.push(j);
                        }
                    }
                }
            }
        }
        sizes.push(size);
    }
    Components { labels, sizes }
}

/// Removes components of fewer than `min_size` voxels; returns how many were removed.
pub fn remove_small(mask: &mut [bool], dims: [usize; 3], min_size: usize) -> usize {
    if min_size <= 1 {
        return 0;
    }
    let c = label(mask, dims);
    for (m, &l) in mask.iter_mut().zip(&c.labels) {
        if l != 0 && c.sizes[l as usize - 1] < min_size {
            *m = false;
        }
    }
    c.sizes.iter().filter(|&&s| s < min_size).count()
}

/// Keeps only the largest component (the first in raster order on a tie); an empty mask stays
/// empty.
pub fn keep_largest(mask: &mut [bool], dims: [usize; 3]) {
    let c = label(mask, dims);
    let Some(best) = (0..c.sizes.len()).max_by_key(|&k| (c.sizes[k], std::cmp::Reverse(k))) else {
        return;
    };
    let keep = best as u32 + 1;
    for (m, &l) in mask.iter_mut().zip(&c.labels) {
        *m = l == keep;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(rows: &[&str]) -> (Vec<bool>, [usize; 3]) {
        let w = rows[0].len();
        let mask = rows
            .iter()
            .flat_map(|r| r.bytes().map(|b| b == b'#'))
            .collect();
        (mask, [w, rows.len(), 1])
    }

    #[test]
    fn diagonal_touch_is_connected_in_2d() {
        let (m, dims) = grid(&["#...", ".#..", "...#", "...#"]);
        let c = label(&m, dims);
        // (0,0)–(1,1) touch diagonally: one component; (3,2)–(3,3) another.
        assert_eq!(c.sizes, vec![2, 2]);
        assert_eq!(c.labels[0], 1);
        assert_eq!(c.labels[15], 2);
    }

    #[test]
    fn corner_touch_is_connected_in_3d() {
        // Two voxels touching only at a corner across slices: 26-connected.
        let dims = [2, 2, 2];
        let mut m = vec![false; 8];
        m[0] = true; // (0,0,0)
        m[7] = true; // (1,1,1)
        assert_eq!(label(&m, dims).sizes, vec![2]);
        // Two slices apart: not connected.
        let dims = [1, 1, 3];
        assert_eq!(label(&[true, false, true], dims).sizes, vec![1, 1]);
    }

    #[test]
    fn small_components_removed_and_largest_kept() {
        let (mut m, dims) = grid(&["##..#", "##...", ".....", "...##"]);
        assert_eq!(label(&m, dims).sizes, vec![4, 1, 2]);
        assert_eq!(remove_small(&mut m, dims, 2), 1);
        assert_eq!(label(&m, dims).sizes, vec![4, 2]);
        keep_largest(&mut m, dims);
        assert_eq!(m.iter().filter(|&&v| v).count(), 4);
        let mut empty = vec![false; 4];
        keep_largest(&mut empty, [2, 2, 1]);
        assert!(empty.iter().all(|&v| !v));
    }
}
