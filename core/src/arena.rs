//! The caller-provided arena and the compile-time memory plan.
//!
//! A forward pass never allocates. Its caller hands it one byte buffer (on a device usually a
//! `static` [`AlignedArena`] of exactly `Net::ARENA_BYTES`), and the pass carves typed tensors
//! out of it through a [`Scratch`].
//!
//! **The plan is a stack discipline, computed in `const` items.** Each block declares
//! `const SCRATCH_BYTES` = the bytes of the intermediate maps it holds *plus* the largest
//! scratch any of its sub-steps needs while those maps are live. At run time the block takes its
//! intermediates from the front of its scratch and lends the rest to each sub-step in turn
//! ([`Scratch::reborrow`]); when a sub-step returns, its memory is free for the next one. So
//! the arena is the deepest chain of simultaneously live buffers, not the sum of all buffers,
//! and the number is known before the program runs (a `static` can be sized by it).
//!
//! Taking more than was planned is an [`Error::ArenaTooSmall`], never a panic.

use crate::error::Error;
use crate::tensor::{Map, Mat};

/// Bytes of one f32 element.
pub const F32_BYTES: usize = core::mem::size_of::<f32>();

/// Bytes of an f32 map of the given shape, for `const` plans.
pub const fn map_bytes(c: usize, h: usize, w: usize) -> usize {
    c * h * w * F32_BYTES
}

/// Bytes of `n` f32 values, for `const` plans.
pub const fn f32_bytes(n: usize) -> usize {
    n * F32_BYTES
}

/// Bytes an int8 tensor of `n` elements takes from a [`Scratch`]: rounded up to whole 4-byte
/// words, because a scratch hands out memory in words (so that `i32` and `f32` tensors taken
/// after it stay aligned).
pub const fn i8_bytes(n: usize) -> usize {
    n.div_ceil(F32_BYTES) * F32_BYTES
}

/// Bytes of an int8 map of the given shape taken from a [`Scratch`], for `const` plans of the
/// int8 engine (see [`i8_bytes`]).
pub const fn map_bytes_i8(c: usize, h: usize, w: usize) -> usize {
    i8_bytes(c * h * w)
}

/// Bytes of `n` `i32` values, for `const` plans.
pub const fn i32_bytes(n: usize) -> usize {
    n * core::mem::size_of::<i32>()
}

/// The larger of two plan sizes (two sub-steps that run one after the other share memory).
pub const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

/// The largest entry of a list of plan sizes.
pub const fn max_of(sizes: &[usize]) -> usize {
    let mut best = 0;
    let mut i = 0;
    while i < sizes.len() {
        best = max(best, sizes[i]);
        i += 1;
    }
    best
}

/// A byte buffer aligned for every element type core uses (and for cache lines).
///
/// Declare one of exactly `Net::ARENA_BYTES` on a device; on a workstation box it, since
/// real-size arenas are megabytes.
#[derive(Debug, Clone)]
#[repr(C, align(64))]
pub struct AlignedArena<const BYTES: usize> {
    bytes: [u8; BYTES],
}

impl<const BYTES: usize> AlignedArena<BYTES> {
    /// A zeroed arena (usable in a `static` initialiser).
    pub const fn new() -> Self {
        Self { bytes: [0; BYTES] }
    }

    /// The whole arena as bytes.
    pub fn as_bytes_mut(&mut self) -> &mut [u8] {
        &mut self.bytes
    }

    /// A scratch over the whole arena (never fails: the buffer is aligned by construction).
    pub fn scratch(&mut self) -> Scratch<'_> {
        match Scratch::from_bytes(&mut self.bytes) {
            Ok(s) => s,
            Err(_) => unreachable!(),
        }
    }
}

impl<const BYTES: usize> Default for AlignedArena<BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

/// The not-yet-used part of an arena, from which typed f32 tensors are taken front to back.
#[derive(Debug)]
pub struct Scratch<'a> {
    buf: &'a mut [f32],
}

impl<'a> Scratch<'a> {
    /// Wraps caller memory. It must start on a 4-byte boundary; a trailing partial word is
    /// ignored.
    pub fn from_bytes(bytes: &'a mut [u8]) -> Result<Self, Error> {
        let whole = bytes.len() / F32_BYTES * F32_BYTES;
        match bytemuck::try_cast_slice_mut::<u8, f32>(&mut bytes[..whole]) {
            Ok(buf) => Ok(Self { buf }),
            Err(_) => Err(Error::ArenaMisaligned),
        }
    }

    /// Wraps an f32 buffer directly.
    pub fn from_f32(buf: &'a mut [f32]) -> Self {
        Self { buf }
    }

    /// Bytes still available.
    pub fn remaining_bytes(&self) -> usize {
        self.buf.len() * F32_BYTES
    }

    /// Fails unless at least `bytes` are available (a forward pass checks its whole plan
    /// up front, so a short arena is reported before any work is done).
    pub fn require(&self, bytes: usize) -> Result<(), Error> {
        if self.remaining_bytes() < bytes {
            Err(Error::ArenaTooSmall {
                needed: bytes,
                available: self.remaining_bytes(),
            })
        } else {
            Ok(())
        }
    }

    /// Takes the next `n` floats. Their content is whatever the arena held: every op fully
    /// writes its output, so nothing is cleared.
    pub fn take_f32(&mut self, n: usize) -> Result<&'a mut [f32], Error> {
        if n > self.buf.len() {
            return Err(Error::ArenaTooSmall {
                needed: n * F32_BYTES,
                available: self.remaining_bytes(),
            });
        }
        let buf = core::mem::take(&mut self.buf);
        let (head, tail) = buf.split_at_mut(n);
        self.buf = tail;
        Ok(head)
    }

    /// Takes a `Map<C, H, W>`.
    pub fn take_map<const C: usize, const H: usize, const W: usize>(
        &mut self,
    ) -> Result<&'a mut Map<C, H, W>, Error> {
        let flat = self.take_f32(C * H * W)?;
        crate::tensor::map_mut(flat).ok_or(Error::ArenaMisaligned)
    }

    /// Takes a `Mat<R, C>` (also a `Tokens<R, C>`).
    pub fn take_mat<const R: usize, const C: usize>(&mut self) -> Result<&'a mut Mat<R, C>, Error> {
        let flat = self.take_f32(R * C)?;
        crate::tensor::mat_mut(flat).ok_or(Error::ArenaMisaligned)
    }

    /// Takes an array of `N` floats.
    pub fn take_vec<const N: usize>(&mut self) -> Result<&'a mut [f32; N], Error> {
        let flat = self.take_f32(N)?;
        flat.try_into().map_err(|_| Error::ArenaMisaligned)
    }

    /// Takes the next `n` bytes as `i8`s (whole words are taken: [`i8_bytes`]`(n)` bytes of
    /// the scratch), for the int8 engine.
    pub fn take_i8(&mut self, n: usize) -> Result<&'a mut [i8], Error> {
        let words = self.take_f32(n.div_ceil(F32_BYTES))?;
        let bytes = bytemuck::cast_slice_mut::<f32, i8>(words);
        Ok(&mut bytes[..n])
    }

    /// Takes the next `n` `i32`s.
    pub fn take_i32(&mut self, n: usize) -> Result<&'a mut [i32], Error> {
        let words = self.take_f32(n)?;
        Ok(bytemuck::cast_slice_mut::<f32, i32>(words))
    }

    /// Takes an int8 `Map<C, H, W, i8>` ([`map_bytes_i8`] bytes).
    pub fn take_map_i8<const C: usize, const H: usize, const W: usize>(
        &mut self,
    ) -> Result<&'a mut Map<C, H, W, i8>, Error> {
        let flat = self.take_i8(C * H * W)?;
        crate::tensor::map_mut(flat).ok_or(Error::ArenaMisaligned)
    }

    /// Takes an array of `N` `i8`s.
    pub fn take_vec_i8<const N: usize>(&mut self) -> Result<&'a mut [i8; N], Error> {
        let flat = self.take_i8(N)?;
        flat.try_into().map_err(|_| Error::ArenaMisaligned)
    }

    /// Lends the rest of the scratch to a sub-step. What the sub-step takes is released when
    /// the returned scratch is dropped, so consecutive sub-steps reuse the same memory.
    pub fn reborrow(&mut self) -> Scratch<'_> {
        Scratch { buf: self.buf }
    }
}
