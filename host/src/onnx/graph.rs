//! [`Builder`]: assembles an ONNX graph node by node, with the network's parameters as
//! initializers under their own names, and one helper per operation the two networks use.
//!
//! Every helper mirrors one of core's `f32` operations (`hepaseg_core::ops`, `blocks`), which
//! are the ground truth; the doc of each says which ONNX operator (opset 17) computes the same
//! thing. Shapes are fixed (batch 1) and the emitters know them, so the builder does not track
//! them. Constants (reshape targets, slice bounds, scalars) are `Constant` nodes, which keeps
//! the initializer list exactly the parameter table.

use super::proto::{attribute_type, AttributeProto, NodeProto, TensorProto};
use hepaseg_core::ops::{AlignCorners, BN_EPS, LN_EPS};
use hepaseg_core::params::ParamSpec;
use std::collections::HashMap;

/// A value (tensor) of the graph, by name.
pub type Value = String;

/// Builds one graph.
#[derive(Debug)]
pub struct Builder<'p> {
    table: &'p [ParamSpec],
    values: &'p [Vec<f32>],
    index: HashMap<&'p str, usize>,
    used: Vec<bool>,
    nodes: Vec<NodeProto>,
    next: usize,
}

/// An attribute.
fn attr_i(name: &str, i: i64) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        i,
        r#type: attribute_type::INT,
        ..Default::default()
    }
}

fn attr_f(name: &str, f: f32) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        f,
        r#type: attribute_type::FLOAT,
        ..Default::default()
    }
}

fn attr_ints(name: &str, ints: &[i64]) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        ints: ints.to_vec(),
        r#type: attribute_type::INTS,
        ..Default::default()
    }
}

fn attr_s(name: &str, s: &str) -> AttributeProto {
    AttributeProto {
        name: name.into(),
        s: s.as_bytes().to_vec(),
        r#type: attribute_type::STRING,
        ..Default::default()
    }
}

fn i64s(v: &[usize]) -> Vec<i64> {
    v.iter().map(|&x| x as i64).collect()
}

impl<'p> Builder<'p> {
    /// A builder over a parameter table and its values (table order).
    pub fn new(table: &'p [ParamSpec], values: &'p [Vec<f32>]) -> Result<Self, String> {
        crate::quant::graph::check_values(table, values)?;
        for (p, v) in table.iter().zip(values) {
            if let Some(i) = v.iter().position(|x| !x.is_finite()) {
                return Err(format!("`{}`: value #{i} is {}", p.name.as_str(), v[i]));
            }
        }
        let index = table
            .iter()
            .enumerate()
            .map(|(i, p)| (p.name.as_str(), i))
            .collect();
        Ok(Self {
            table,
            values,
            index,
            used: vec![false; table.len()],
            nodes: Vec::new(),
            next: 0,
        })
    }

    /// Whether the table has a parameter `name`.
    pub fn has(&self, name: &str) -> bool {
        self.index.contains_key(name)
    }

    /// Parameter `name` as a graph value (it becomes an initializer).
    pub fn param(&mut self, name: &str) -> Result<Value, String> {
        let i = *self
            .index
            .get(name)
            .ok_or_else(|| format!("the graph needs parameter `{name}`, which the table lacks"))?;
        self.used[i] = true;
        Ok(name.to_owned())
    }

    /// The shape of parameter `name`.
    pub fn param_shape(&self, name: &str) -> Result<&'p [usize], String> {
        let table = self.table;
        self.index
            .get(name)
            .map(|&i| table[i].shape())
            .ok_or_else(|| format!("the graph needs parameter `{name}`, which the table lacks"))
    }

    /// Adds a node with one output and returns that output.
    pub fn node(&mut self, op: &str, inputs: &[&str], attribute: Vec<AttributeProto>) -> Value {
        self.next += 1;
        let out = format!("{}_{}", op.to_lowercase(), self.next);
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| (*s).to_owned()).collect(),
            output: vec![out.clone()],
            name: format!("n{}", self.next),
            op_type: op.to_owned(),
            attribute,
        });
        out
    }

    /// Renames the output of the node that produced `value` (the graph output).
    pub fn rename(&mut self, value: &str, to: &str) -> Result<(), String> {
        let node = self
            .nodes
            .iter_mut()
            .find(|n| n.output.iter().any(|o| o == value))
            .ok_or_else(|| format!("no node produces `{value}`"))?;
        for o in &mut node.output {
            if o == value {
                *o = to.to_owned();
            }
        }
        Ok(())
    }

    /// The nodes and the initializers (every parameter, table order). Fails if the graph
    /// left a parameter unused: then it does not compute the network the table describes.
    pub fn finish(self) -> Result<(Vec<NodeProto>, Vec<TensorProto>), String> {
        if let Some(i) = self.used.iter().position(|u| !u) {
            return Err(format!(
                "internal: the ONNX graph does not use parameter `{}`",
                self.table[i].name.as_str()
            ));
        }
        let init = self
            .table
            .iter()
            .zip(self.values)
            .map(|(p, v)| TensorProto::f32(p.name.as_str(), p.shape(), v))
            .collect();
        Ok((self.nodes, init))
    }

    // ---- constants ------------------------------------------------------------------------

    /// A 1-D `int64` constant.
    pub fn ints(&mut self, v: &[i64]) -> Value {
        let t = TensorProto::i64s("", v);
        self.constant(t)
    }

    /// A scalar `f32` constant.
    pub fn scalar(&mut self, v: f32) -> Value {
        let t = TensorProto::f32("", &[], &[v]);
        self.constant(t)
    }

    /// A `Constant` node; its tensor is named after the value it produces.
    fn constant(&mut self, mut t: TensorProto) -> Value {
        t.name = format!("constant_{}", self.next + 1);
        let a = AttributeProto {
            name: "value".into(),
            t: Some(t),
            r#type: attribute_type::TENSOR,
            ..Default::default()
        };
        let out = self.node("Constant", &[], vec![a]);
        debug_assert_eq!(
            self.nodes
                .last()
                .and_then(|n| n.attribute[0].t.as_ref())
                .map(|t| &t.name),
            Some(&out)
        );
        out
    }

    // ---- layers ---------------------------------------------------------------------------

    /// `Conv` with weight `{prefix}.weight` and, if the table has it, bias `{prefix}.bias`
    /// (core's `Conv2d::<S, P, D>` / `DepthwiseConv2d` for `group` = channels). The kernel
    /// size comes from the weight's shape.
    pub fn conv(
        &mut self,
        x: &str,
        prefix: &str,
        (stride, pad, dilation): (usize, usize, usize),
        group: usize,
    ) -> Result<Value, String> {
        let wname = format!("{prefix}.weight");
        let k = *self
            .param_shape(&wname)?
            .get(2)
            .ok_or_else(|| format!("`{wname}` is not a convolution weight"))?;
        let w = self.param(&wname)?;
        let bname = format!("{prefix}.bias");
        let b = if self.has(&bname) {
            Some(self.param(&bname)?)
        } else {
            None
        };
        let mut inputs = vec![x, w.as_str()];
        if let Some(b) = &b {
            inputs.push(b);
        }
        let attrs = vec![
            attr_ints("kernel_shape", &i64s(&[k, k])),
            attr_ints("strides", &i64s(&[stride, stride])),
            attr_ints("pads", &i64s(&[pad, pad, pad, pad])),
            attr_ints("dilations", &i64s(&[dilation, dilation])),
            attr_i("group", group as i64),
        ];
        Ok(self.node("Conv", &inputs, attrs))
    }

    /// `BatchNormalization` (inference form, epsilon [`BN_EPS`]) with `{prefix}.weight`,
    /// `.bias`, `.running_mean`, `.running_var` — core's `ops::batch_norm`. Runtimes fold it
    /// into the convolution before it.
    pub fn batch_norm(&mut self, x: &str, prefix: &str) -> Result<Value, String> {
        let names = ["weight", "bias", "running_mean", "running_var"]
            .map(|s| self.param(&format!("{prefix}.{s}")));
        let [g, b, m, v] = names;
        let (g, b, m, v) = (g?, b?, m?, v?);
        Ok(self.node(
            "BatchNormalization",
            &[x, &g, &b, &m, &v],
            vec![attr_f("epsilon", BN_EPS)],
        ))
    }

    /// Core's `ConvBn` unit named `unit`: convolution `unit.conv`, batch norm `unit.bn`,
    /// activation.
    pub fn conv_bn(
        &mut self,
        x: &str,
        unit: &str,
        geometry: (usize, usize, usize),
        act: Act,
    ) -> Result<Value, String> {
        let y = self.conv(x, &format!("{unit}.conv"), geometry, 1)?;
        let y = self.batch_norm(&y, &format!("{unit}.bn"))?;
        Ok(self.act(&y, act))
    }

    /// An activation.
    pub fn act(&mut self, x: &str, act: Act) -> Value {
        match act {
            Act::None => x.to_owned(),
            Act::Relu => self.node("Relu", &[x], vec![]),
            Act::Sigmoid => self.node("Sigmoid", &[x], vec![]),
        }
    }

    /// Exact GELU `½x(1 + erf(x/√2))` from `Erf` (opset 17 has no `Gelu`), as core's
    /// `ops::gelu`.
    pub fn gelu(&mut self, x: &str) -> Value {
        let r = self.scalar(std::f32::consts::FRAC_1_SQRT_2);
        let s = self.node("Mul", &[x, &r], vec![]);
        let e = self.node("Erf", &[&s], vec![]);
        let one = self.scalar(1.0);
        let e1 = self.node("Add", &[&e, &one], vec![]);
        let half = self.scalar(0.5);
        let hx = self.node("Mul", &[&half, x], vec![]);
        self.node("Mul", &[&hx, &e1], vec![])
    }

    /// `Gemm(x, W, b, transB = 1)` on `N × DI` tokens with `{prefix}.weight` (`DO × DI`, as
    /// stored) and `{prefix}.bias` — core's `ops::linear`.
    pub fn linear(&mut self, x: &str, prefix: &str) -> Result<Value, String> {
        let w = self.param(&format!("{prefix}.weight"))?;
        let b = self.param(&format!("{prefix}.bias"))?;
        Ok(self.node("Gemm", &[x, &w, &b], vec![attr_i("transB", 1)]))
    }

    /// `LayerNormalization` over the last axis with `{prefix}.weight`/`.bias`, epsilon
    /// [`LN_EPS`] — core's `ops::layer_norm`.
    pub fn layer_norm(&mut self, x: &str, prefix: &str) -> Result<Value, String> {
        let g = self.param(&format!("{prefix}.weight"))?;
        let b = self.param(&format!("{prefix}.bias"))?;
        Ok(self.node(
            "LayerNormalization",
            &[x, &g, &b],
            vec![attr_i("axis", -1), attr_f("epsilon", LN_EPS)],
        ))
    }

    /// A learned scalar gate `name` (shape `[1]`) times `x`.
    pub fn gate(&mut self, x: &str, name: &str) -> Result<Value, String> {
        let g = self.param(name)?;
        Ok(self.node("Mul", &[x, &g], vec![]))
    }

    // ---- element-wise and shape -----------------------------------------------------------

    /// `a + b` (broadcasting).
    pub fn add(&mut self, a: &str, b: &str) -> Value {
        self.node("Add", &[a, b], vec![])
    }

    /// `a ⊙ b` (broadcasting).
    pub fn mul(&mut self, a: &str, b: &str) -> Value {
        self.node("Mul", &[a, b], vec![])
    }

    /// `Reshape` to fixed dims.
    pub fn reshape(&mut self, x: &str, dims: &[usize]) -> Value {
        let s = self.ints(&i64s(dims));
        self.node("Reshape", &[x, &s], vec![])
    }

    /// `Transpose`.
    pub fn transpose(&mut self, x: &str, perm: &[usize]) -> Value {
        self.node("Transpose", &[x], vec![attr_ints("perm", &i64s(perm))])
    }

    /// `Concat` along `axis`.
    pub fn concat(&mut self, xs: &[&str], axis: i64) -> Value {
        if let [one] = xs {
            return (*one).to_owned();
        }
        self.node("Concat", xs, vec![attr_i("axis", axis)])
    }

    /// `Slice` of `[start, end)` along each of `axes`.
    pub fn slice(&mut self, x: &str, axes: &[usize], starts: &[usize], ends: &[usize]) -> Value {
        let s = self.ints(&i64s(starts));
        let e = self.ints(&i64s(ends));
        let a = self.ints(&i64s(axes));
        self.node("Slice", &[x, &s, &e, &a], vec![])
    }

    /// `MatMul`.
    pub fn matmul(&mut self, a: &str, b: &str) -> Value {
        self.node("MatMul", &[a, b], vec![])
    }

    /// `Softmax` over the last axis — core's `ops::softmax_in_place` on each row.
    pub fn softmax(&mut self, x: &str) -> Value {
        self.node("Softmax", &[x], vec![attr_i("axis", -1)])
    }

    // ---- maps ↔ tokens --------------------------------------------------------------------

    /// A `1 × C × H × W` map as `H·W × C` tokens (core's `ops::map_to_tokens`).
    pub fn map_to_tokens(&mut self, x: &str, c: usize, n: usize) -> Value {
        let flat = self.reshape(x, &[c, n]);
        self.transpose(&flat, &[1, 0])
    }

    /// `H·W × C` tokens as a `1 × C × H × W` map (core's `ops::tokens_to_map`).
    pub fn tokens_to_map(&mut self, x: &str, [c, h, w]: [usize; 3]) -> Value {
        let t = self.transpose(x, &[1, 0]);
        self.reshape(&t, &[1, c, h, w])
    }

    // ---- pooling and resampling -----------------------------------------------------------

    /// `GlobalAveragePool` — core's `ops::global_avg_pool` (as a `1 × C × 1 × 1` map).
    pub fn global_avg_pool(&mut self, x: &str) -> Value {
        self.node("GlobalAveragePool", &[x], vec![])
    }

    /// Adaptive max pooling of a `1 × C × H × W` map to `S × S` bins with PyTorch's bin rule
    /// (core's `ops::adaptive_max_pool`, bins from `ops::pool_bin`). Equal bins are one
    /// `MaxPool`; unequal (possibly overlapping) bins are a `Slice` + `ReduceMax` per bin row,
    /// then per bin column — exact, since a maximum over a rectangle is the maximum of the
    /// row maxima.
    pub fn adaptive_max_pool(&mut self, x: &str, (h, w): (usize, usize), s: usize) -> Value {
        if h.is_multiple_of(s) && w.is_multiple_of(s) {
            let (kh, kw) = (h / s, w / s);
            return self.node(
                "MaxPool",
                &[x],
                vec![
                    attr_ints("kernel_shape", &i64s(&[kh, kw])),
                    attr_ints("strides", &i64s(&[kh, kw])),
                ],
            );
        }
        let rows = self.reduce_bins(x, 2, h, s);
        self.reduce_bins(&rows, 3, w, s)
    }

    /// `ReduceMax` over each adaptive bin along `axis` (of length `len`), concatenated.
    fn reduce_bins(&mut self, x: &str, axis: usize, len: usize, s: usize) -> Value {
        let parts: Vec<Value> = (0..s)
            .map(|i| {
                let (a, b) = hepaseg_core::ops::pool_bin(i, len, s);
                let part = self.slice(x, &[axis], &[a], &[b]);
                self.node(
                    "ReduceMax",
                    &[&part],
                    vec![attr_ints("axes", &[axis as i64]), attr_i("keepdims", 1)],
                )
            })
            .collect();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        self.concat(&refs, axis as i64)
    }

    /// Bilinear `Resize` of a `1 × C × H × W` map to `1 × C × HO × WO` — core's
    /// `ops::resize_bilinear`: `align_corners` ↔ `AlignCorners::True`, `pytorch_half_pixel`
    /// (`(dst + ½)·in/out − ½`, neighbours clamped to the edge) ↔ `AlignCorners::False`.
    pub fn resize(&mut self, x: &str, out: [usize; 4], mode: AlignCorners) -> Value {
        let sizes = self.ints(&i64s(&out));
        let transform = match mode {
            AlignCorners::True => "align_corners",
            AlignCorners::False => "pytorch_half_pixel",
        };
        self.node(
            "Resize",
            &[x, "", "", &sizes],
            vec![
                attr_s("mode", "linear"),
                attr_s("coordinate_transformation_mode", transform),
            ],
        )
    }

    /// `Expand` to fixed dims (a `1 × C × 1 × 1` map broadcast over pixels).
    pub fn expand(&mut self, x: &str, dims: &[usize]) -> Value {
        let s = self.ints(&i64s(dims));
        self.node("Expand", &[x, &s], vec![])
    }
}

/// The activation after a unit (core's `blocks::unit::Act`).
pub use hepaseg_core::blocks::unit::Act;
