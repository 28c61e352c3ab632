//! 2.5D input: a slice and its k − 1 neighbours of the same patient as k input channels.
//!
//! Both papers segment slice by slice and name the lost inter-slice context as their main
//! limitation; the 2.5D presets (`tiny-2.5d`, `edge-2.5d`) take k adjacent slices instead of
//! one and still predict the mask of the centre slice. This module holds the one rule every
//! part of the pipeline (training and evaluation samples, `segment` on a volume) uses to pick
//! the neighbours, so they cannot disagree:
//!
//! * k is odd; channel `j` (0-based) holds the slice at offset `j − (k − 1)/2` from the centre,
//!   so the centre slice is the middle channel and offsets grow with the slice index (z for
//!   NIfTI/MSD/DICOM volumes, the instance number for lits-png).
//! * Neighbours are **clamped at the volume ends**: the first slice of a volume uses itself
//!   for the missing slices before it, the last one itself for those after it (replicate
//!   padding along z, the usual choice for 2.5D CT inputs; zeros would look like air).
//! * lits-png slices are ordered per patient by instance number; a neighbour is the next
//!   slice *present* in that order (a folder with gaps yields the nearest present slices).
//!   Neighbours come from the whole dataset folder, never from a filtered subset, so a
//!   liver-only training set still sees the real adjacent slices.

/// The largest k accepted (the presets use 3; this bounds memory and typos).
pub const MAX_CHANNELS: usize = 15;

/// Checks that `k` is an odd number of slices in `1..=MAX_CHANNELS`.
pub fn check_channels(k: usize) -> Result<(), String> {
    if k == 0 || k.is_multiple_of(2) || k > MAX_CHANNELS {
        return Err(format!(
            "{k} input channels: a 2.5D input needs an odd number of slices (the centre one \
             and as many on each side), at most {MAX_CHANNELS}"
        ));
    }
    Ok(())
}

/// The positions (in `0..len`) of the `k` slices around `centre`, in channel order, clamped at
/// both ends. `len` must be at least 1 and `centre < len`; `k = 1` gives `[centre]`.
pub fn neighbours(centre: usize, len: usize, k: usize) -> impl Iterator<Item = usize> {
    let half = k / 2;
    let last = len.saturating_sub(1);
    (0..k).map(move |j| (centre + j).saturating_sub(half).min(last))
}

/// The `k` planes around plane `centre` of `planes` (`len` planes of `plane` values each,
/// back to back), stacked channel after channel.
pub fn stack_planes(planes: &[f32], plane: usize, centre: usize, k: usize) -> Vec<f32> {
    let len = planes.len().checked_div(plane).unwrap_or(0);
    let mut out = Vec::with_capacity(k * plane);
    for z in neighbours(centre, len, k) {
        out.extend_from_slice(&planes[z * plane..(z + 1) * plane]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neighbours_are_centred_and_clamped_at_both_ends() {
        let at = |c, len, k| neighbours(c, len, k).collect::<Vec<_>>();
        assert_eq!(at(2, 5, 3), [1, 2, 3]);
        assert_eq!(at(0, 5, 3), [0, 0, 1]);
        assert_eq!(at(4, 5, 3), [3, 4, 4]);
        assert_eq!(at(1, 5, 5), [0, 0, 1, 2, 3]);
        assert_eq!(at(0, 1, 5), [0, 0, 0, 0, 0]);
        assert_eq!(at(3, 5, 1), [3]);
    }

    #[test]
    fn stacks_planes_in_channel_order() {
        // 3 planes of 2 values: plane z holds [10z, 10z + 1].
        let planes = [0.0, 1.0, 10.0, 11.0, 20.0, 21.0];
        assert_eq!(
            stack_planes(&planes, 2, 0, 3),
            [0.0, 1.0, 0.0, 1.0, 10.0, 11.0]
        );
        assert_eq!(
            stack_planes(&planes, 2, 2, 3),
            [10.0, 11.0, 20.0, 21.0, 20.0, 21.0]
        );
    }

    #[test]
    fn only_odd_counts_are_accepted() {
        assert!(check_channels(1).is_ok() && check_channels(3).is_ok());
        for k in [0, 2, 4, MAX_CHANNELS + 2] {
            assert!(check_channels(k).is_err(), "{k}");
        }
    }
}
