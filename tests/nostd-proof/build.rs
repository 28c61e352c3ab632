//! Links the proof binary freestanding: no C start files (`_start` is ours), no libc, no
//! libgcc, static and not position-independent (nothing would apply run-time relocations).
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for arg in ["-nostartfiles", "-nostdlib", "-static", "-no-pie"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}
