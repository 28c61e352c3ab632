//! The arena: `Scratch` take/reborrow semantics, `ArenaTooSmall` / `ArenaMisaligned` error
//! values, `AlignedArena`, and the const plan helpers (`map_bytes`, `f32_bytes`, `max`,
//! `max_of`).

use hepaseg_core::arena::{f32_bytes, map_bytes, max, max_of, F32_BYTES};
use hepaseg_core::{AlignedArena, Error, Scratch};

#[test]
fn plan_helpers() {
    assert_eq!(F32_BYTES, 4);
    assert_eq!(map_bytes(2, 3, 4), 2 * 3 * 4 * 4); // 96
    assert_eq!(map_bytes(0, 3, 4), 0);
    assert_eq!(f32_bytes(5), 20);
    assert_eq!(max(3, 7), 7);
    assert_eq!(max(7, 3), 7);
    assert_eq!(max(5, 5), 5);
    assert_eq!(max_of(&[]), 0);
    assert_eq!(max_of(&[3]), 3);
    assert_eq!(max_of(&[3, 9, 2]), 9);
    assert_eq!(max_of(&[9, 3, 2]), 9);
    assert_eq!(max_of(&[2, 3, 9]), 9);
}

/// A two-step block plan, computed at compile time: one live 2×4×4 map, then two sub-steps
/// that run one after the other (8×4×4 + 4 floats, and a 16×2×2 map).
const BLOCK_PLAN: usize =
    map_bytes(2, 4, 4) + max_of(&[map_bytes(8, 4, 4) + f32_bytes(4), map_bytes(16, 2, 2)]);

#[test]
fn const_plan_sizes_a_static_arena() {
    // 2·16·4 = 128, plus max(8·16·4 + 16 = 528, 16·4·4 = 256) = 528 → 656.
    assert_eq!(BLOCK_PLAN, 656);
    static ARENA: std::sync::Mutex<AlignedArena<BLOCK_PLAN>> =
        std::sync::Mutex::new(AlignedArena::new());
    let mut guard = ARENA.lock().unwrap();
    let mut s = guard.scratch();
    assert_eq!(s.remaining_bytes(), 656);
    run_block(&mut s).expect("the plan fits exactly");
}

/// Runs the planned block: its own map, then each sub-step in a reborrowed scratch.
fn run_block(s: &mut Scratch<'_>) -> Result<(), Error> {
    s.require(BLOCK_PLAN)?;
    let own = s.take_map::<2, 4, 4>()?;
    own[1][3][3] = 1.0;
    {
        let mut sub = s.reborrow();
        let big = sub.take_map::<8, 4, 4>()?;
        let v = sub.take_vec::<4>()?;
        big[0][0][0] = 2.0;
        v[3] = 3.0;
        assert_eq!(sub.remaining_bytes(), 0);
    }
    {
        let mut sub = s.reborrow();
        let m = sub.take_map::<16, 2, 2>()?;
        m[15][1][1] = 4.0;
        assert_eq!(sub.remaining_bytes(), 528 - 256);
    }
    assert_eq!(
        own[1][3][3], 1.0,
        "sub-steps must not touch the block's own map"
    );
    Ok(())
}

#[test]
fn short_arena_fails_up_front_with_the_right_numbers() {
    let mut arena = AlignedArena::<{ BLOCK_PLAN - 4 }>::new();
    let mut s = arena.scratch();
    assert_eq!(
        run_block(&mut s),
        Err(Error::ArenaTooSmall {
            needed: 656,
            available: 652
        })
    );
    // `require` did not consume anything.
    assert_eq!(s.remaining_bytes(), 652);
}

#[test]
fn take_reduces_remaining_and_hands_out_disjoint_tensors() {
    let mut arena = AlignedArena::<256>::new();
    let mut s = arena.scratch();
    assert_eq!(s.remaining_bytes(), 256);
    let a = s.take_map::<1, 2, 3>().unwrap(); // 24 bytes
    assert_eq!(s.remaining_bytes(), 232);
    let b = s.take_mat::<2, 5>().unwrap(); // 40 bytes
    assert_eq!(s.remaining_bytes(), 192);
    let c = s.take_vec::<7>().unwrap(); // 28 bytes
    assert_eq!(s.remaining_bytes(), 164);
    let d = s.take_f32(41).unwrap(); // the whole rest
    assert_eq!(d.len(), 41);
    assert_eq!(s.remaining_bytes(), 0);
    // All four are live at once and do not alias.
    *a = [[[1.0; 3]; 2]];
    *b = [[2.0; 5]; 2];
    *c = [3.0; 7];
    d.fill(4.0);
    assert_eq!(*a, [[[1.0; 3]; 2]]);
    assert_eq!(*b, [[2.0; 5]; 2]);
    assert_eq!(*c, [3.0; 7]);
    assert!(d.iter().all(|v| *v == 4.0));
    // Taking nothing from an empty scratch is fine; one more float is not.
    assert_eq!(s.take_f32(0).unwrap().len(), 0);
    assert_eq!(
        s.take_f32(1),
        Err(Error::ArenaTooSmall {
            needed: 4,
            available: 0
        })
    );
}

#[test]
fn too_small_errors_carry_needed_and_available() {
    let mut arena = AlignedArena::<100>::new();
    let mut s = arena.scratch();
    // take_map: needs 3·4·5·4 = 240 bytes, 100 available.
    assert_eq!(
        s.take_map::<3, 4, 5>().err(),
        Some(Error::ArenaTooSmall {
            needed: 240,
            available: 100
        })
    );
    // A failed take consumes nothing.
    assert_eq!(s.remaining_bytes(), 100);
    let _ = s.take_vec::<20>().unwrap(); // 80 bytes, 20 left
    assert_eq!(
        s.take_mat::<2, 3>().err(),
        Some(Error::ArenaTooSmall {
            needed: 24,
            available: 20
        })
    );
    assert_eq!(
        s.take_vec::<6>().err(),
        Some(Error::ArenaTooSmall {
            needed: 24,
            available: 20
        })
    );
    assert_eq!(s.require(20), Ok(()));
    assert_eq!(
        s.require(21),
        Err(Error::ArenaTooSmall {
            needed: 21,
            available: 20
        })
    );
    // Display names both numbers.
    let msg = Error::ArenaTooSmall {
        needed: 21,
        available: 20,
    }
    .to_string();
    assert!(msg.contains("21") && msg.contains("20"), "{msg}");
}

#[test]
fn reborrow_releases_memory_for_the_next_sub_step() {
    let mut arena = AlignedArena::<64>::new();
    let mut s = arena.scratch();
    let first_ptr;
    {
        let mut sub = s.reborrow();
        let m = sub.take_vec::<16>().unwrap(); // the whole arena
        m[5] = 42.0;
        first_ptr = m.as_ptr();
        assert_eq!(sub.remaining_bytes(), 0);
    }
    // The parent still has everything; the next sub-step gets the same memory, with its
    // old content (ops fully overwrite their outputs, so nothing is cleared).
    assert_eq!(s.remaining_bytes(), 64);
    {
        let mut sub = s.reborrow();
        let m = sub.take_vec::<16>().unwrap();
        assert_eq!(m.as_ptr(), first_ptr);
        assert_eq!(m[5], 42.0);
    }
    // Nested reborrows stack.
    let mut sub = s.reborrow();
    let _ = sub.take_f32(4).unwrap();
    {
        let mut inner = sub.reborrow();
        assert_eq!(inner.remaining_bytes(), 48);
        let _ = inner.take_f32(12).unwrap();
        assert_eq!(inner.remaining_bytes(), 0);
    }
    assert_eq!(sub.remaining_bytes(), 48);
}

#[test]
fn misaligned_arena_is_rejected() {
    let mut arena = AlignedArena::<64>::new();
    let bytes = arena.as_bytes_mut();
    assert_eq!(
        bytes.as_ptr() as usize % 64,
        0,
        "AlignedArena is 64-byte aligned"
    );
    for off in [1usize, 2, 3, 5] {
        assert_eq!(
            Scratch::from_bytes(&mut bytes[off..]).err(),
            Some(Error::ArenaMisaligned),
            "offset {off}"
        );
    }
    // On a 4-byte boundary it works, and a trailing partial word is ignored.
    let s = Scratch::from_bytes(&mut bytes[4..]).unwrap();
    assert_eq!(s.remaining_bytes(), 60);
    let s = Scratch::from_bytes(&mut bytes[8..19]).unwrap();
    assert_eq!(s.remaining_bytes(), 8);
    assert_eq!(
        Error::ArenaMisaligned.to_string(),
        "arena is not aligned to 4 bytes"
    );
}

#[test]
fn aligned_arena_basics() {
    assert_eq!(std::mem::align_of::<AlignedArena<4>>(), 64);
    let mut a = AlignedArena::<12>::default();
    assert_eq!(a.as_bytes_mut(), &[0u8; 12]);
    assert_eq!(a.scratch().remaining_bytes(), 12);
    // from_f32 wraps an f32 buffer directly.
    let mut buf = [0.0f32; 5];
    let mut s = Scratch::from_f32(&mut buf);
    assert_eq!(s.remaining_bytes(), 20);
    s.take_vec::<2>().unwrap()[1] = 8.0;
    assert_eq!(buf[1], 8.0);
}
