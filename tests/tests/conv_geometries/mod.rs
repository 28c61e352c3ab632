//! The convolution geometries that both fast-kernel test files run against their reference
//! kernels (`ops_conv_fast.rs`, f32; `int8_conv_fast.rs`, int8), included with
//! `#[macro_use] mod conv_geometries;`. Each file defines its own
//! `check::<S, P, D, G, CI, H, W, CO, CIG, K, HO, WO>(seed, fill) -> Result<(), String>` and
//! imports `conv_out`; these macros call them.

/// `check` with the output size derived from the geometry.
macro_rules! geometry {
    ($s:literal, $p:literal, $d:literal, $g:literal; $ci:literal x $h:literal x $w:literal -> $co:literal; k $k:literal; $seed:expr, $fill:expr) => {
        check::<
            $s,
            $p,
            $d,
            $g,
            $ci,
            $h,
            $w,
            $co,
            { $ci / $g },
            $k,
            { conv_out($h, $k, $s, $p, $d) },
            { conv_out($w, $k, $s, $p, $d) },
        >($seed, $fill)
    };
}

/// Every convolution geometry of AGCAF-Net and CAFCT-Net (tiny, edge; the paper presets use
/// the same kernels, strides, paddings and dilations with more channels), at the networks'
/// channel counts, on reduced maps where the full size would only repeat the same tiles.
macro_rules! network_geometries {
    ($seed:expr, $fill:expr) => {{
        let (seed, fill) = ($seed, $fill);
        // AGCAF-Net backbone: 7×7 stem, 3×3 basic blocks, stride-2 3×3 and 1×1 downsamples.
        geometry!(1, 3, 1, 1; 1 x 40 x 40 -> 16; k 7; seed, fill)?;
        geometry!(1, 1, 1, 1; 16 x 40 x 40 -> 16; k 3; seed, fill)?;
        geometry!(2, 1, 1, 1; 16 x 40 x 40 -> 32; k 3; seed, fill)?;
        geometry!(2, 0, 1, 1; 16 x 40 x 40 -> 32; k 1; seed, fill)?;
        geometry!(1, 1, 1, 1; 32 x 20 x 20 -> 32; k 3; seed, fill)?;
        geometry!(1, 1, 1, 1; 64 x 16 x 16 -> 64; k 3; seed, fill)?;
        geometry!(2, 1, 1, 1; 64 x 16 x 16 -> 128; k 3; seed, fill)?;
        // Edge layer 4 at full size (32×32): reductions of 1152 terms, several chunks.
        geometry!(1, 1, 1, 1; 128 x 32 x 32 -> 128; k 3; seed, fill)?;
        // Context pyramid / non-local / fusion / head: 1×1 projections and 3×3 heads.
        geometry!(1, 0, 1, 1; 128 x 8 x 8 -> 32; k 1; seed, fill)?;
        geometry!(1, 0, 1, 1; 32 x 10 x 10 -> 128; k 1; seed, fill)?;
        geometry!(1, 0, 1, 1; 256 x 12 x 12 -> 128; k 1; seed, fill)?;
        geometry!(1, 1, 1, 1; 32 x 24 x 24 -> 8; k 3; seed, fill)?;
        geometry!(1, 0, 1, 1; 8 x 24 x 24 -> 1; k 1; seed, fill)?;
        // CAFCT-Net: patch embeddings (7×7 s4, 3×3 s2), spatial reduction (k = s = sr), ASPP
        // dilations, decoder 3×3 and 1×1.
        geometry!(4, 3, 1, 1; 1 x 64 x 64 -> 32; k 7; seed, fill)?;
        geometry!(2, 1, 1, 1; 32 x 16 x 16 -> 64; k 3; seed, fill)?;
        geometry!(8, 0, 1, 1; 32 x 32 x 32 -> 32; k 8; seed, fill)?;
        geometry!(4, 0, 1, 1; 64 x 16 x 16 -> 64; k 4; seed, fill)?;
        geometry!(2, 0, 1, 1; 128 x 8 x 8 -> 128; k 2; seed, fill)?;
        geometry!(1, 6, 6, 1; 64 x 16 x 16 -> 32; k 3; seed, fill)?;
        geometry!(1, 12, 12, 1; 64 x 16 x 16 -> 32; k 3; seed, fill)?;
        geometry!(1, 18, 18, 1; 32 x 16 x 16 -> 16; k 3; seed, fill)?;
        // Tile edges: widths below, at and just past a tile, channel counts that leave partial
        // register tiles and more than one accumulator block, odd reductions, groups.
        geometry!(1, 1, 1, 1; 3 x 5 x 5 -> 5; k 3; seed, fill)?;
        geometry!(1, 1, 1, 1; 5 x 6 x 16 -> 7; k 3; seed, fill)?;
        geometry!(1, 1, 1, 1; 7 x 4 x 17 -> 3; k 3; seed, fill)?;
        geometry!(1, 0, 1, 1; 15 x 3 x 33 -> 130; k 1; seed, fill)?;
        geometry!(1, 2, 2, 1; 9 x 11 x 13 -> 6; k 3; seed, fill)?;
        geometry!(3, 2, 1, 1; 4 x 19 x 23 -> 9; k 5; seed, fill)?;
        geometry!(1, 1, 1, 2; 8 x 10 x 10 -> 6; k 3; seed, fill)?;
        geometry!(2, 1, 1, 4; 8 x 9 x 9 -> 8; k 3; seed, fill)?;
    }};
}
