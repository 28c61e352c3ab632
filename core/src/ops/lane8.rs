//! Eight f32 lanes with separately rounded multiply and add: one 256-bit vector where the
//! build enables AVX (through `safe_arch`, no `unsafe`), eight scalars otherwise — the same
//! bits either way (IEEE `mul` and `add` per lane, never fused).
//!
//! For the small register tiles of the f32 attention (`ops::attention_tiles`), where the
//! auto-vectoriser, left to itself, vectorises across the wrong loop (gathers across queries).

#[cfg(all(target_arch = "x86_64", target_feature = "avx"))]
mod imp {
    use safe_arch::{add_m256, m256, mul_m256, set_splat_m256};

    /// Eight lanes.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct F8(m256);

    impl F8 {
        #[inline(always)]
        pub(crate) fn zero() -> F8 {
            F8(bytemuck::cast([0.0f32; 8]))
        }

        #[inline(always)]
        pub(crate) fn load(x: &[f32; 8]) -> F8 {
            F8(bytemuck::cast(*x))
        }

        #[inline(always)]
        pub(crate) fn store(self, out: &mut [f32; 8]) {
            *out = bytemuck::cast(self.0);
        }

        /// `self + s·x` per lane (product rounded, then sum rounded).
        #[inline(always)]
        pub(crate) fn add_scaled(self, s: f32, x: F8) -> F8 {
            F8(add_m256(self.0, mul_m256(set_splat_m256(s), x.0)))
        }

        /// `self + x` per lane.
        #[inline(always)]
        pub(crate) fn add(self, x: F8) -> F8 {
            F8(add_m256(self.0, x.0))
        }
    }
}

#[cfg(not(all(target_arch = "x86_64", target_feature = "avx")))]
mod imp {
    /// Eight lanes.
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct F8([f32; 8]);

    impl F8 {
        #[inline(always)]
        pub(crate) fn zero() -> F8 {
            F8([0.0; 8])
        }

        #[inline(always)]
        pub(crate) fn load(x: &[f32; 8]) -> F8 {
            F8(*x)
        }

        #[inline(always)]
        pub(crate) fn store(self, out: &mut [f32; 8]) {
            *out = self.0;
        }

        /// `self + s·x` per lane (product rounded, then sum rounded).
        #[inline(always)]
        pub(crate) fn add_scaled(self, s: f32, x: F8) -> F8 {
            let mut y = self.0;
            for (y, x) in y.iter_mut().zip(x.0) {
                *y += s * x;
            }
            F8(y)
        }

        /// `self + x` per lane.
        #[inline(always)]
        pub(crate) fn add(self, x: F8) -> F8 {
            let mut y = self.0;
            for (y, x) in y.iter_mut().zip(x.0) {
                *y += x;
            }
            F8(y)
        }
    }
}

pub(crate) use imp::F8;
