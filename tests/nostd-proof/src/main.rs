//! Freestanding proof that `hepaseg-core` needs nothing but `core`.
//!
//! This binary has no `std`, no `alloc`, no libc and no C runtime: its entry point is our own
//! `_start`, it leaves through a raw `exit_group` system call, and the `mem*` functions the
//! compiler may call are defined below. It carves its tensors out of a `static`
//! [`AlignedArena`] through a [`Scratch`], runs a handful of core ops on inputs hidden from the
//! optimiser ([`black_box`]), prints the integer checks it derives from the results, and exits
//! with their sum modulo 256. The expected values are derived by hand in `README.md`; `.ci/run`
//! compares the exit code with them.
//!
//! `unsafe` is confined to this crate (the entry point, the system calls, the `mem*`
//! functions and the `static mut` arena); the main workspace forbids it.
#![no_std]
#![no_main]

use core::hint::black_box;

use hepaseg_core::ops::{self, AlignCorners, Axis, Conv2d};
use hepaseg_core::{AlignedArena, ConvWeight, Error, Mat, Scratch, Tokens};

/// Exit status when the arena cannot hold the planned tensors (never expected).
const EXIT_ARENA: i32 = 250;
/// Exit status of the panic handler (never expected).
const EXIT_PANIC: i32 = 251;

/// The arena every tensor comes from: a `static`, as on a device (zero-filled `.bss`).
static mut ARENA: AlignedArena<4096> = AlignedArena::new();

// ---------------------------------------------------------------------------------------------
// Entry point, system calls, panic handler.

// The kernel enters `_start` with `rsp` 16-byte aligned and no return address pushed; a Rust
// `extern "C"` function expects `rsp ≡ 8 (mod 16)` on entry, so a few lines of assembly set up
// the frame and call into Rust.
core::arch::global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

/// Called from `_start`; never returns.
extern "C" fn entry() -> ! {
    let code = match run() {
        Ok(code) => code,
        Err(_) => EXIT_ARENA,
    };
    exit(code)
}

/// `exit_group(code)` through a raw system call.
fn exit(code: i32) -> ! {
    // SAFETY: `exit_group` (231) takes one integer argument and does not return.
    unsafe {
        core::arch::asm!(
            "syscall",
            in("rax") 231usize,
            in("rdi") code as isize,
            options(noreturn, nostack)
        )
    }
}

/// `write(fd, bytes)` through a raw system call; errors are ignored (output is diagnostic).
fn write(fd: usize, bytes: &[u8]) {
    // SAFETY: `write` (1) reads `len` bytes from `ptr`, which `bytes` keeps valid; the kernel
    // clobbers rcx and r11 and returns in rax.
    unsafe {
        core::arch::asm!(
            "syscall",
            inlateout("rax") 1usize => _,
            in("rdi") fd,
            in("rsi") bytes.as_ptr(),
            in("rdx") bytes.len(),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack, readonly)
        );
    }
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo<'_>) -> ! {
    write(2, b"nostd-proof: panic\n");
    exit(EXIT_PANIC)
}

/// The precompiled `core` of this target is built with unwind tables whose entries name
/// `rust_eh_personality` (normally supplied by `std`). With `panic = "abort"` nothing ever
/// unwinds, so the personality routine is never called; this definition only satisfies the
/// linker (the `eh_personality` lang item itself is unstable).
#[no_mangle]
extern "C" fn rust_eh_personality() {}

/// Writes `label=value\n` to standard output (`value` in decimal).
fn report(label: &[u8], value: i64) {
    let mut buf = [0u8; 24];
    let mut i = buf.len();
    let negative = value < 0;
    let mut v = value.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    write(1, label);
    write(1, b"=");
    write(1, &buf[i..]);
    write(1, b"\n");
}

/// Nearest integer of a non-negative value (core has no `f32::round` on stable).
fn round(v: f32) -> i64 {
    (v + 0.5) as i64
}

// ---------------------------------------------------------------------------------------------
// The computation.

/// Runs the ops and returns the exit code: the sum of the checks, modulo 256.
fn run() -> Result<i32, Error> {
    // SAFETY: the only reference ever made to `ARENA`; the program is single-threaded.
    let arena: &'static mut AlignedArena<4096> = unsafe { &mut *core::ptr::addr_of_mut!(ARENA) };
    let mut scratch: Scratch<'static> = arena.scratch();

    // Input: one channel, 4×4, x[i][j] = 4i + j − 6 (−6 … 9).
    let x = scratch.take_map::<1, 4, 4>()?;
    for (i, row) in x[0].iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = black_box((4 * i + j) as f32 - 6.0);
        }
    }

    // Conv 3×3, stride 1, pad 1, 1 → 2 channels: channel 0 = identity (centre tap),
    // channel 1 = box sum of the 3×3 neighbourhood (zero padding).
    let mut w: ConvWeight<2, 1, 3> = [[[[0.0; 3]; 3]; 1]; 2];
    w[0][0][1][1] = 1.0;
    w[1][0] = [[1.0; 3]; 3];
    let w = black_box(w);
    let bias = black_box([0.0f32; 2]);
    let y = scratch.take_map::<2, 4, 4>()?;
    Conv2d::<1, 1>::forward(x, &w, Some(&bias), y);

    // M: adaptive max pool of the box sums to 2×2 (before the ReLU), summed.
    let pooled = scratch.take_map::<2, 2, 2>()?;
    ops::adaptive_max_pool(y, pooled);
    let m: f32 = pooled[1].iter().flatten().sum();

    // A, B: ReLU, then global average pool, times the 16 pixels.
    ops::relu(y);
    let gap = scratch.take_vec::<2>()?;
    ops::global_avg_pool(y, gap);
    let a = gap[0] * 16.0;
    let b = gap[1] * 16.0;

    // R, Q: bilinear 4×4 → 7×7 (align_corners = true: every output sits on a half pixel),
    // 4 × the sum of channel 0 and the sum of channel 1.
    let up = scratch.take_map::<2, 7, 7>()?;
    ops::resize_bilinear(y, up, AlignCorners::True);
    let r: f32 = up[0].iter().flatten().sum::<f32>() * 4.0;
    let q: f32 = up[1].iter().flatten().sum();

    // S: softmax of [0, 1]: the larger probability e/(1 + e), in thousandths.
    let logits: &mut Mat<1, 2> = scratch.take_mat::<1, 2>()?;
    logits[0] = black_box([0.0, 1.0]);
    ops::softmax(logits, Axis::Rows);
    let s = logits[0][1] * 1000.0;

    // L: layer norm of the token [1, 2, 3, 4] (γ = 1, β = 0, eps 1e-6): the largest output,
    // 1.5 / √1.25, in thousandths.
    let tokens: &mut Tokens<2, 4> = scratch.take_mat::<2, 4>()?;
    tokens[0] = black_box([1.0, 2.0, 3.0, 4.0]);
    tokens[1] = black_box([4.0; 4]);
    ops::layer_norm(tokens, &[1.0; 4], &[0.0; 4], ops::LN_EPS);
    let l = tokens[0][3] * 1000.0;
    let flat_token_ok = tokens[1].iter().all(|v| *v == 0.0);

    // E: asking the scratch for more than it holds is an error value, not a panic.
    let e = match scratch.take_map::<64, 64, 64>() {
        Err(Error::ArenaTooSmall { .. }) => 1,
        _ => 0,
    };

    let checks: [(&[u8], i64); 9] = [
        (b"A", round(a)),
        (b"B", round(b)),
        (b"M", round(m)),
        (b"R", round(r)),
        (b"Q", round(q)),
        (b"S", round(s)),
        (b"L", round(l)),
        (b"T", i64::from(flat_token_ok)),
        (b"E", e),
    ];
    let mut sum = 0i64;
    for (label, value) in checks {
        report(label, value);
        sum += value;
    }
    report(b"sum", sum);
    Ok(black_box(sum).rem_euclid(256) as i32)
}

// ---------------------------------------------------------------------------------------------
// The memory functions LLVM may emit calls to. Without libc nothing else provides them (Rust's
// `compiler_builtins` leaves them to libc on this target). Written with string instructions or
// volatile loads, so the compiler cannot turn their bodies back into calls to themselves.

/// # Safety
/// `dst` and `src` valid for `n` bytes, not overlapping.
#[no_mangle]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: caller's contract; the direction flag is clear per the System V ABI.
    unsafe {
        core::arch::asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags)
        );
    }
    dst
}

/// # Safety
/// `dst` and `src` valid for `n` bytes; they may overlap.
#[no_mangle]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // dst before src, or no overlap: a forward copy is safe.
        // SAFETY: caller's contract.
        unsafe { memcpy(dst, src, n) }
    } else {
        // dst inside [src, src + n): copy backwards (n > 0 here).
        // SAFETY: caller's contract; the direction flag is restored before returning.
        unsafe {
            core::arch::asm!(
                "std",
                "rep movsb",
                "cld",
                inout("rcx") n => _,
                inout("rdi") dst.add(n - 1) => _,
                inout("rsi") src.add(n - 1) => _,
                options(nostack)
            );
        }
        dst
    }
}

/// # Safety
/// `dst` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: caller's contract.
    unsafe {
        core::arch::asm!(
            "rep stosb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            in("al") c as u8,
            options(nostack, preserves_flags)
        );
    }
    dst
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    let mut i = 0;
    while i < n {
        // SAFETY: caller's contract; volatile keeps this a byte loop.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
        i += 1;
    }
    0
}

/// # Safety
/// `a` and `b` valid for `n` bytes.
#[no_mangle]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}
