//! ASPP — atrous spatial pyramid pooling (DeepLabv3, output stride 16), on the fused deepest
//! level of CAFCT-Net.
//!
//! Five branches of `CO` channels, each conv (no bias) + BN + ReLU: Conv1×1; three Conv3×3
//! with dilation = padding = `D1`, `D2`, `D3`; image pooling GAP → Conv1×1 → broadcast. Their
//! concatenation (`CAT = 5·CO`) → Conv1×1 (no bias) + BN + ReLU. Dropout(0.5) follows while
//! training; it is the identity at inference. Parameter names follow torchvision's `ASPP`
//! (`convs.0` … `convs.4`, `project`).

use super::unit::{conv_macs, Act, ConvBn, ConvBnParams};
use crate::arena::{map_bytes, Scratch};
use crate::error::Error;
use crate::ops;
use crate::param_struct;
use crate::tensor::{channels_at_mut, vec_mut, Flat, Map};

param_struct! {
    /// Parameters of an ASPP from `CI` to `CO` channels (`CAT = 5·CO`).
    pub struct AsppParams<'a, const CI: usize, const CO: usize, const CAT: usize> {
        conv0: ConvBnParams<'a, CO, CI, 1> = "convs.0",
        conv1: ConvBnParams<'a, CO, CI, 3> = "convs.1",
        conv2: ConvBnParams<'a, CO, CI, 3> = "convs.2",
        conv3: ConvBnParams<'a, CO, CI, 3> = "convs.3",
        pool: ConvBnParams<'a, CO, CI, 1> = "convs.4",
        project: ConvBnParams<'a, CO, CAT, 1>,
    }
}

/// An ASPP with atrous rates `D1`, `D2`, `D3` on a `CI × H × W` map.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aspp<
    const CI: usize,
    const CO: usize,
    const CAT: usize,
    const D1: usize,
    const D2: usize,
    const D3: usize,
    const H: usize,
    const W: usize,
>;

impl<
        const CI: usize,
        const CO: usize,
        const CAT: usize,
        const D1: usize,
        const D2: usize,
        const D3: usize,
        const H: usize,
        const W: usize,
    > Aspp<CI, CO, CAT, D1, D2, D3, H, W>
{
    /// The concatenation buffer and the pooled vectors.
    pub const SCRATCH_BYTES: usize = map_bytes(CAT, H, W) + map_bytes(CI + CO, 1, 1);
    /// Every convolution (the image-pooling one on 1 × 1).
    pub const MACS: u64 = conv_macs(CI, CO, 1, H, W)
        + 3 * conv_macs(CI, CO, 3, H, W)
        + conv_macs(CI, CO, 1, 1, 1)
        + conv_macs(CAT, CO, 1, H, W);

    /// `y = project([b0(x), b1(x), b2(x), b3(x), broadcast(pool(x))])`.
    pub fn forward(
        p: &AsppParams<'_, CI, CO, CAT>,
        x: &Map<CI, H, W>,
        y: &mut Map<CO, H, W>,
        mut scratch: Scratch<'_>,
    ) -> Result<(), Error> {
        const {
            assert!(CAT == 5 * CO, "ASPP concatenates five branches");
            assert!(D1 >= 1 && D2 >= 1 && D3 >= 1, "atrous rates >= 1");
        };
        let cat = scratch.take_map::<CAT, H, W>()?;
        ConvBn::<1, 0>::run(&p.conv0, x, slot::<CO, CAT, H, W>(cat, 0)?, Act::Relu);
        ConvBn::<1, D1, D1>::run(&p.conv1, x, slot::<CO, CAT, H, W>(cat, 1)?, Act::Relu);
        ConvBn::<1, D2, D2>::run(&p.conv2, x, slot::<CO, CAT, H, W>(cat, 2)?, Act::Relu);
        ConvBn::<1, D3, D3>::run(&p.conv3, x, slot::<CO, CAT, H, W>(cat, 3)?, Act::Relu);
        {
            let pooled = scratch.take_map::<CI, 1, 1>()?;
            let branch = scratch.take_map::<CO, 1, 1>()?;
            let pooled_vec = vec_mut::<f32, CI>(pooled.flat_mut()).ok_or(Error::PlanOverlap)?;
            ops::global_avg_pool(x, pooled_vec);
            ConvBn::<1, 0>::run(&p.pool, pooled, branch, Act::Relu);
            // Bilinear upsampling of a 1 × 1 map is a broadcast.
            for (plane, v) in slot::<CO, CAT, H, W>(cat, 4)?.iter_mut().zip(branch.iter()) {
                plane.flat_mut().fill(v[0][0]);
            }
        }
        ConvBn::<1, 0>::run(&p.project, cat, y, Act::Relu);
        Ok(())
    }
}

/// Branch `k` (`CO` channels) of the concatenation buffer.
fn slot<const CO: usize, const CAT: usize, const H: usize, const W: usize>(
    cat: &mut Map<CAT, H, W>,
    k: usize,
) -> Result<&mut Map<CO, H, W>, Error> {
    channels_at_mut::<f32, CO, CAT, H, W>(cat, k * CO).ok_or(Error::PlanOverlap)
}
