//! Bounded stack: whole forward passes on threads with a small, stated stack, and the
//! published-size forward (slow in debug builds, so it is `#[ignore]`d there and run by CI in
//! release: `cargo test --release -p hepaseg-tests --test nets_stack -- --ignored`).

use hepaseg_core::nets::agcaf::{AgcafEdge, AgcafPaper, AgcafTiny};
use hepaseg_core::nets::cafct::{CafctEdge, CafctPaper, CafctTiny};
use hepaseg_core::nets::Network;
use hepaseg_core::params::SliceParams;
use hepaseg_tests::seeded::{arena, arena_bytes, as_slices, seeded_params, synthetic_slice};

/// The stack every forward pass must fit in. Core keeps activations in the arena and only
/// small parameter-reference structs and loop state on the stack.
pub const STACK_BYTES: usize = 64 * 1024;

fn forward_on_small_stack<N: Network>() -> std::time::Duration {
    // Parameters, input and arena are made on the test thread (heap); only the forward pass
    // runs on the small stack.
    let params = seeded_params(N::PARAMS, 11, 0.5);
    let input = synthetic_slice(N::INPUT[1], N::INPUT[2], 12);
    let mut a = arena(N::ARENA_BYTES);
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(STACK_BYTES)
            .spawn_scoped(s, || {
                let slices = as_slices(&params);
                let t = std::time::Instant::now();
                let out = N::forward_flat(
                    &SliceParams { tensors: &slices },
                    &input,
                    arena_bytes(&mut a, N::ARENA_BYTES),
                )
                .expect("forward");
                assert!(out.iter().all(|v| v.is_finite()));
                t.elapsed()
            })
            .expect("spawn")
            .join()
            .expect("forward pass overflowed or panicked on a 64 KiB stack")
    })
}

#[test]
fn tiny_forwards_fit_in_64_kib_of_stack() {
    forward_on_small_stack::<AgcafTiny>();
    forward_on_small_stack::<CafctTiny>();
}

#[test]
#[ignore = "slow outside release builds; CI runs it with --release"]
fn edge_forwards_fit_in_64_kib_of_stack() {
    let t = forward_on_small_stack::<AgcafEdge>();
    eprintln!("agcaf edge forward: {t:?}");
    let t = forward_on_small_stack::<CafctEdge>();
    eprintln!("cafct edge forward: {t:?}");
}

#[test]
#[ignore = "slow outside release builds; CI runs it with --release"]
fn paper_forwards_fit_in_64_kib_of_stack() {
    let t = forward_on_small_stack::<AgcafPaper>();
    eprintln!("agcaf paper forward: {t:?}");
    let t = forward_on_small_stack::<CafctPaper>();
    eprintln!("cafct paper forward: {t:?}");
}
