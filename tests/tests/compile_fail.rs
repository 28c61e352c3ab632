//! Wrong wirings of core's typed ops must not build; right ones must build and run.
//!
//! * `ui/pass/*.rs`: correctly wired programs; trybuild builds *and runs* them (they assert
//!   on their results).
//! * `ui/fail/*.rs`: one wrong wiring each, with the expected compiler output in the `.stderr`
//!   next to it. Regenerate those with `TRYBUILD=overwrite cargo test -p hepaseg-tests --test
//!   compile_fail` and review the diff: each must show the op's own assert message, or the
//!   mismatched-types error at the offending argument.
//!
//! **Why the pass cases are load-bearing.** Most shape relations are checked by inline
//! `const { assert!(..) }` blocks inside generic functions. Those are evaluated only when the
//! function is monomorphized, i.e. in codegen: `cargo check` never sees them, only `cargo build`
//! does. trybuild runs `cargo check` when a `TestCases` holds only `compile_fail` cases and
//! `cargo build` as soon as it holds at least one `pass` case (dtolnay/trybuild#258; trybuild
//! 1.0.122 `src/cargo.rs`: `if project.has_pass { "build" } else { "check" }`). So the `pass`
//! and `compile_fail` globs must stay in the *same* `TestCases`, and `ui/pass` must not be
//! empty. Verified on Rust 1.95: with the pass cases removed, every const-assert case fails
//! with "Expected test case to fail to compile, but it succeeded" — so losing the forced build
//! makes this test fail loudly rather than pass vacuously.
//!
//! The snapshots name core's files as `$WORKSPACE/core/src/...` without line numbers
//! (trybuild's normalization), so they change only when an assert's text or an op's signature
//! does.

use std::path::Path;

#[test]
fn ui() {
    // Guard the forced build described above: without a pass case trybuild would only
    // `cargo check`, and the const-assert cases could not fail.
    let pass_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("ui/pass");
    let has_pass_case = std::fs::read_dir(&pass_dir)
        .expect("ui/pass exists")
        .filter_map(Result::ok)
        .any(|e| e.path().extension().is_some_and(|x| x == "rs"));
    assert!(
        has_pass_case,
        "ui/pass needs at least one case: it makes trybuild run `cargo build`, without which \
         post-monomorphization `const {{ assert!() }}` errors are never reported"
    );

    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
    // Presets whose sizes do not fit the network (checked by `const _` items in the preset
    // macros, so these fail even under `cargo check`).
    t.compile_fail("ui/preset_fail/*.rs");
}
