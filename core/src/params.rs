//! Parameters by name: the const table every network publishes, and the typed reader its
//! forward pass uses.
//!
//! Each block declares its parameters once, with [`param_struct!`]. That one declaration
//! generates
//! * a struct of typed references (`&ConvWeight<CO, CIG, K>`, `&[f32; C]`, …) the block's
//!   `forward` uses, read in table order from any [`ParamSource`] by [`ReadParams`]; and
//! * a `const fn describe` that writes the same parameters — dotted name, shape, role — into a
//!   table at compile time, so the network can publish `const PARAMS: [ParamSpec; N]` and an
//!   architecture fingerprint.
//!
//! Because the table and the reader come from the same list, names, shapes and order cannot
//! drift apart. The host trains with exactly these names; the weight blob stores them.

use crate::error::Error;
use crate::tensor::{conv_weight_ref, mat_ref, vec_ref, ConvWeight, Mat};

/// Longest dotted parameter name, in bytes.
pub const NAME_CAP: usize = 64;

/// A dotted parameter name (`cpm.agcb.0.nonlocal.q.weight`) built at compile time.
#[derive(Clone, Copy)]
pub struct Name {
    bytes: [u8; NAME_CAP],
    len: usize,
}

impl Name {
    /// The empty root name.
    pub const ROOT: Name = Name {
        bytes: [0; NAME_CAP],
        len: 0,
    };

    const fn push_byte(mut self, b: u8) -> Name {
        assert!(self.len < NAME_CAP, "parameter name longer than NAME_CAP");
        self.bytes[self.len] = b;
        self.len += 1;
        self
    }

    /// `self.segment` (or just `segment` at the root). A segment may itself contain dots.
    pub const fn child(self, segment: &str) -> Name {
        let mut out = self;
        if out.len > 0 && !segment.is_empty() {
            out = out.push_byte(b'.');
        }
        let s = segment.as_bytes();
        let mut i = 0;
        while i < s.len() {
            out = out.push_byte(s[i]);
            i += 1;
        }
        out
    }

    /// `self.index` — for repeated sub-blocks (`agcb.0`, `agcb.1`, …).
    pub const fn index(self, i: usize) -> Name {
        let mut out = self;
        if out.len > 0 {
            out = out.push_byte(b'.');
        }
        let mut digits = [0u8; 20];
        let (mut n, mut k) = (i, 0);
        loop {
            digits[k] = b'0' + (n % 10) as u8;
            k += 1;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        while k > 0 {
            k -= 1;
            out = out.push_byte(digits[k]);
        }
        out
    }

    /// The name as text.
    pub const fn as_str(&self) -> &str {
        let (used, _) = self.bytes.split_at(self.len);
        match core::str::from_utf8(used) {
            Ok(s) => s,
            Err(_) => "",
        }
    }

    /// Whether the name equals `prefix` or starts with `prefix.` (block membership).
    pub fn is_under(&self, prefix: &str) -> bool {
        let s = self.as_str();
        s == prefix
            || (s.len() > prefix.len()
                && s.starts_with(prefix)
                && s.as_bytes()[prefix.len()] == b'.')
    }
}

impl core::fmt::Debug for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}
impl Eq for Name {}

/// What a parameter is for — tells the host how to initialise it and the quantizer how to
/// treat it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Convolution weights `[CO, CI/G, K, K]`.
    ConvWeight,
    /// Convolution bias `[CO]`.
    ConvBias,
    /// Batch-norm scale γ `[C]`.
    BnWeight,
    /// Batch-norm shift β `[C]`.
    BnBias,
    /// Batch-norm running mean `[C]` (a buffer, not trained by gradient).
    BnRunningMean,
    /// Batch-norm running variance `[C]` (a buffer, not trained by gradient).
    BnRunningVar,
    /// Linear weights `[out, in]`.
    LinearWeight,
    /// Linear bias `[out]`.
    LinearBias,
    /// Layer-norm scale `[D]`.
    LnWeight,
    /// Layer-norm shift `[D]`.
    LnBias,
    /// A learnable scalar gate (γ of non-local / AGCB), initialised to 0.
    Gate,
}

impl Role {
    /// Whether gradient descent trains it (running statistics are buffers).
    pub const fn is_trainable(self) -> bool {
        !matches!(self, Role::BnRunningMean | Role::BnRunningVar)
    }
}

/// One row of a network's parameter table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamSpec {
    /// Stable dotted name.
    pub name: Name,
    /// Dimensions (only the first `rank` are meaningful).
    pub dims: [usize; 4],
    /// Number of dimensions.
    pub rank: usize,
    /// What the parameter is.
    pub role: Role,
}

impl ParamSpec {
    /// Placeholder used to initialise const tables before they are filled.
    pub const EMPTY: ParamSpec = ParamSpec {
        name: Name::ROOT,
        dims: [0; 4],
        rank: 0,
        role: Role::Gate,
    };

    /// Number of elements.
    pub const fn numel(&self) -> usize {
        let mut n = 1;
        let mut i = 0;
        while i < self.rank {
            n *= self.dims[i];
            i += 1;
        }
        n
    }

    /// The meaningful dimensions.
    pub fn shape(&self) -> &[usize] {
        &self.dims[..self.rank.min(4)]
    }
}

/// Fills a parameter table at compile time.
#[derive(Debug)]
pub struct TableWriter<'t> {
    table: &'t mut [ParamSpec],
    at: usize,
}

impl<'t> TableWriter<'t> {
    /// Starts writing at the beginning of `table`.
    pub const fn new(table: &'t mut [ParamSpec]) -> Self {
        Self { table, at: 0 }
    }

    /// Appends one parameter.
    pub const fn push(&mut self, name: Name, dims: [usize; 4], rank: usize, role: Role) {
        self.table[self.at] = ParamSpec {
            name,
            dims,
            rank,
            role,
        };
        self.at += 1;
    }

    /// Rows written so far.
    pub const fn written(&self) -> usize {
        self.at
    }
}

/// Builds a network's table from its root parameter struct (used in a `const` item).
#[macro_export]
macro_rules! param_table {
    ($root:ty, $n:expr) => {{
        let mut table = [$crate::params::ParamSpec::EMPTY; $n];
        let mut w = $crate::params::TableWriter::new(&mut table);
        <$root>::describe($crate::params::Name::ROOT, &mut w);
        assert!(w.written() == $n, "parameter table size mismatch");
        table
    }};
}

/// FNV-1a 64 over every parameter's name and shape: the architecture fingerprint stored in
/// a weight blob, so a blob for another wiring or preset is refused.
pub const fn fingerprint(table: &[ParamSpec]) -> u64 {
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < table.len() {
        let p = &table[i];
        let name = p.name.as_str().as_bytes();
        let mut j = 0;
        while j < name.len() {
            h = (h ^ name[j] as u64).wrapping_mul(PRIME);
            j += 1;
        }
        h = (h ^ 0xff).wrapping_mul(PRIME);
        let mut d = 0;
        while d < p.rank {
            let mut v = p.dims[d] as u64;
            let mut b = 0;
            while b < 8 {
                h = (h ^ (v & 0xff)).wrapping_mul(PRIME);
                v >>= 8;
                b += 1;
            }
            d += 1;
        }
        i += 1;
    }
    h
}

/// Total number of scalar parameters; `trainable_only` leaves out batch-norm running stats
/// (that is the figure PyTorch's `sum(p.numel() for p in model.parameters())` reports).
pub const fn count_elements(table: &[ParamSpec], trainable_only: bool) -> usize {
    let mut n = 0;
    let mut i = 0;
    while i < table.len() {
        if !trainable_only || table[i].role.is_trainable() {
            n += table[i].numel();
        }
        i += 1;
    }
    n
}

/// Where a forward pass gets its f32 parameters, by index into the network's table.
///
/// Implemented by [`SliceParams`] (one slice per tensor, e.g. exported by the host) and
/// [`PackedParams`] (all tensors back to back in one buffer, e.g. in flash).
pub trait ParamSource {
    /// Tensor `index` of the table, or `None` if the source has no such tensor.
    fn tensor(&self, index: usize) -> Option<&[f32]>;
}

/// A plain set of slices, one per table row.
#[derive(Debug, Clone, Copy)]
pub struct SliceParams<'a> {
    /// The tensors, in table order.
    pub tensors: &'a [&'a [f32]],
}

impl ParamSource for SliceParams<'_> {
    fn tensor(&self, index: usize) -> Option<&[f32]> {
        self.tensors.get(index).copied()
    }
}

/// All tensors back to back in table order, in one buffer.
#[derive(Debug, Clone, Copy)]
pub struct PackedParams<'a> {
    /// The network's table (gives each tensor's length).
    pub table: &'a [ParamSpec],
    /// The values.
    pub data: &'a [f32],
}

impl ParamSource for PackedParams<'_> {
    fn tensor(&self, index: usize) -> Option<&[f32]> {
        let start: usize = self.table.get(..index)?.iter().map(ParamSpec::numel).sum();
        let len = self.table.get(index)?.numel();
        self.data.get(start..start.checked_add(len)?)
    }
}

/// Reads tensors from a source in table order, checking each one's length.
#[derive(Debug)]
pub struct Cursor<'a, S: ?Sized> {
    source: &'a S,
    index: usize,
}

impl<'a, S: ParamSource + ?Sized> Cursor<'a, S> {
    /// Starts at the first table row.
    pub fn new(source: &'a S) -> Self {
        Self { source, index: 0 }
    }

    /// Rows read so far.
    pub fn position(&self) -> usize {
        self.index
    }

    fn next(&mut self, expected: usize) -> Result<&'a [f32], Error> {
        let index = self.index;
        let t = self
            .source
            .tensor(index)
            .ok_or(Error::ParamMissing { index })?;
        if t.len() != expected {
            return Err(Error::ParamShape {
                index,
                expected,
                found: t.len(),
            });
        }
        self.index += 1;
        Ok(t)
    }

    /// Next tensor as `[f32; N]`.
    pub fn vector<const N: usize>(&mut self) -> Result<&'a [f32; N], Error> {
        let index = self.index;
        vec_ref(self.next(N)?).ok_or(Error::ParamMissing { index })
    }

    /// Next tensor as a `Mat<R, C>`.
    pub fn matrix<const R: usize, const C: usize>(&mut self) -> Result<&'a Mat<R, C>, Error> {
        let index = self.index;
        mat_ref(self.next(R * C)?).ok_or(Error::ParamMissing { index })
    }

    /// Next tensor as convolution weights.
    pub fn conv_weight<const CO: usize, const CIG: usize, const K: usize>(
        &mut self,
    ) -> Result<&'a ConvWeight<CO, CIG, K>, Error> {
        let index = self.index;
        conv_weight_ref(self.next(CO * CIG * K * K)?).ok_or(Error::ParamMissing { index })
    }
}

/// A parameter group that can be read from a [`Cursor`] in table order.
pub trait ReadParams<'a>: Sized {
    /// Reads the group, validating every tensor's length.
    fn read<S: ParamSource + ?Sized>(cursor: &mut Cursor<'a, S>) -> Result<Self, Error>;
}

/// Convolution weights without bias (a convolution followed by batch norm).
#[derive(Debug, Clone, Copy)]
pub struct Conv<'a, const CO: usize, const CIG: usize, const K: usize> {
    /// `[CO][CI/G][K][K]`.
    pub weight: &'a ConvWeight<CO, CIG, K>,
}

impl<const CO: usize, const CIG: usize, const K: usize> Conv<'_, CO, CIG, K> {
    /// Rows this group adds to the table.
    pub const COUNT: usize = 1;
    /// Writes `prefix.weight`.
    pub const fn describe(prefix: Name, w: &mut TableWriter<'_>) {
        w.push(prefix.child("weight"), [CO, CIG, K, K], 4, Role::ConvWeight);
    }
}

impl<'a, const CO: usize, const CIG: usize, const K: usize> ReadParams<'a>
    for Conv<'a, CO, CIG, K>
{
    fn read<S: ParamSource + ?Sized>(c: &mut Cursor<'a, S>) -> Result<Self, Error> {
        Ok(Self {
            weight: c.conv_weight()?,
        })
    }
}

/// Convolution weights with bias.
#[derive(Debug, Clone, Copy)]
pub struct ConvBias<'a, const CO: usize, const CIG: usize, const K: usize> {
    /// `[CO][CI/G][K][K]`.
    pub weight: &'a ConvWeight<CO, CIG, K>,
    /// `[CO]`.
    pub bias: &'a [f32; CO],
}

impl<const CO: usize, const CIG: usize, const K: usize> ConvBias<'_, CO, CIG, K> {
    /// Rows this group adds to the table.
    pub const COUNT: usize = 2;
    /// Writes `prefix.weight`, `prefix.bias`.
    pub const fn describe(prefix: Name, w: &mut TableWriter<'_>) {
        w.push(prefix.child("weight"), [CO, CIG, K, K], 4, Role::ConvWeight);
        w.push(prefix.child("bias"), [CO, 0, 0, 0], 1, Role::ConvBias);
    }
}

impl<'a, const CO: usize, const CIG: usize, const K: usize> ReadParams<'a>
    for ConvBias<'a, CO, CIG, K>
{
    fn read<S: ParamSource + ?Sized>(c: &mut Cursor<'a, S>) -> Result<Self, Error> {
        Ok(Self {
            weight: c.conv_weight()?,
            bias: c.vector()?,
        })
    }
}

/// Batch-norm parameters and running statistics (PyTorch names).
#[derive(Debug, Clone, Copy)]
pub struct Bn<'a, const C: usize> {
    /// γ.
    pub weight: &'a [f32; C],
    /// β.
    pub bias: &'a [f32; C],
    /// Running mean.
    pub running_mean: &'a [f32; C],
    /// Running variance.
    pub running_var: &'a [f32; C],
}

impl<const C: usize> Bn<'_, C> {
    /// Rows this group adds to the table.
    pub const COUNT: usize = 4;
    /// Writes `prefix.{weight,bias,running_mean,running_var}`.
    pub const fn describe(prefix: Name, w: &mut TableWriter<'_>) {
        w.push(prefix.child("weight"), [C, 0, 0, 0], 1, Role::BnWeight);
        w.push(prefix.child("bias"), [C, 0, 0, 0], 1, Role::BnBias);
        w.push(
            prefix.child("running_mean"),
            [C, 0, 0, 0],
            1,
            Role::BnRunningMean,
        );
        w.push(
            prefix.child("running_var"),
            [C, 0, 0, 0],
            1,
            Role::BnRunningVar,
        );
    }

    /// The inference-form batch norm with the networks' epsilon.
    pub fn norm(&self) -> crate::ops::BatchNorm<'_, C> {
        crate::ops::BatchNorm {
            gamma: self.weight,
            beta: self.bias,
            mean: self.running_mean,
            var: self.running_var,
            eps: crate::ops::BN_EPS,
        }
    }
}

impl<'a, const C: usize> ReadParams<'a> for Bn<'a, C> {
    fn read<S: ParamSource + ?Sized>(c: &mut Cursor<'a, S>) -> Result<Self, Error> {
        Ok(Self {
            weight: c.vector()?,
            bias: c.vector()?,
            running_mean: c.vector()?,
            running_var: c.vector()?,
        })
    }
}

/// A linear layer `[out][in]` with bias.
#[derive(Debug, Clone, Copy)]
pub struct Linear<'a, const DO: usize, const DI: usize> {
    /// `[DO][DI]`.
    pub weight: &'a Mat<DO, DI>,
    /// `[DO]`.
    pub bias: &'a [f32; DO],
}

impl<const DO: usize, const DI: usize> Linear<'_, DO, DI> {
    /// Rows this group adds to the table.
    pub const COUNT: usize = 2;
    /// Writes `prefix.weight`, `prefix.bias`.
    pub const fn describe(prefix: Name, w: &mut TableWriter<'_>) {
        w.push(
            prefix.child("weight"),
            [DO, DI, 0, 0],
            2,
            Role::LinearWeight,
        );
        w.push(prefix.child("bias"), [DO, 0, 0, 0], 1, Role::LinearBias);
    }
}

impl<'a, const DO: usize, const DI: usize> ReadParams<'a> for Linear<'a, DO, DI> {
    fn read<S: ParamSource + ?Sized>(c: &mut Cursor<'a, S>) -> Result<Self, Error> {
        Ok(Self {
            weight: c.matrix()?,
            bias: c.vector()?,
        })
    }
}

/// Layer-norm scale and shift.
#[derive(Debug, Clone, Copy)]
pub struct Ln<'a, const D: usize> {
    /// Scale.
    pub weight: &'a [f32; D],
    /// Shift.
    pub bias: &'a [f32; D],
}

impl<const D: usize> Ln<'_, D> {
    /// Rows this group adds to the table.
    pub const COUNT: usize = 2;
    /// Writes `prefix.weight`, `prefix.bias`.
    pub const fn describe(prefix: Name, w: &mut TableWriter<'_>) {
        w.push(prefix.child("weight"), [D, 0, 0, 0], 1, Role::LnWeight);
        w.push(prefix.child("bias"), [D, 0, 0, 0], 1, Role::LnBias);
    }
}

impl<'a, const D: usize> ReadParams<'a> for Ln<'a, D> {
    fn read<S: ParamSource + ?Sized>(c: &mut Cursor<'a, S>) -> Result<Self, Error> {
        Ok(Self {
            weight: c.vector()?,
            bias: c.vector()?,
        })
    }
}

/// A learnable scalar gate, stored under the field's own name (e.g. `nonlocal.gamma`).
#[derive(Debug, Clone, Copy)]
pub struct Gate<'a> {
    /// The scalar.
    pub value: &'a [f32; 1],
}

impl Gate<'_> {
    /// Rows this group adds to the table.
    pub const COUNT: usize = 1;
    /// Writes `prefix` itself.
    pub const fn describe(prefix: Name, w: &mut TableWriter<'_>) {
        w.push(prefix, [1, 0, 0, 0], 1, Role::Gate);
    }
    /// The gate's value.
    pub fn get(&self) -> f32 {
        self.value[0]
    }
}

impl<'a> ReadParams<'a> for Gate<'a> {
    fn read<S: ParamSource + ?Sized>(c: &mut Cursor<'a, S>) -> Result<Self, Error> {
        Ok(Self { value: c.vector()? })
    }
}

/// Declares a block's parameter struct, its table description and its reader from one list.
///
/// ```ignore
/// param_struct! {
///     /// Parameters of a non-local block.
///     pub struct NonLocalParams<'a, const C: usize, const CR: usize> {
///         q: ConvBias<'a, CR, C, 1>,
///         k: ConvBias<'a, CR, C, 1>,
///         v: ConvBias<'a, C, C, 1>,
///         gamma: Gate<'a>,
///     }
/// }
/// ```
/// A field may give its table segment explicitly (`agcb0: AgcbParams<..> = "agcb.0"`);
/// otherwise the field name is the segment. `field: if FLAG Type` declares a group that exists
/// only when the `const FLAG: bool` in scope is true (ablation switches): the field is then an
/// `Option` and adds no table rows when off.
#[macro_export]
macro_rules! param_struct {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident<'a $(, const $cp:ident : $cpt:ty)* $(,)?> {
            $( $(#[$fmeta:meta])* $field:ident : $(if $on:ident)? $fty:ty $(= $seg:literal)? ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name<'a $(, const $cp: $cpt)*> {
            $( $(#[$fmeta])* pub $field: $crate::param_struct!(@ty $fty $(, $on)?), )*
        }

        impl<'a $(, const $cp: $cpt)*> $name<'a $(, $cp)*> {
            /// Rows this group adds to the table.
            pub const COUNT: usize = 0 $( + $crate::param_struct!(@count $fty $(, $on)?) )*;
            /// Writes this group's rows under `prefix`.
            pub const fn describe(prefix: $crate::params::Name, w: &mut $crate::params::TableWriter<'_>) {
                $( $crate::param_struct!(@describe $fty $(, $on)?;
                    prefix.child($crate::param_struct!(@seg $field $($seg)?)), w); )*
            }
        }

        impl<'a $(, const $cp: $cpt)*> $crate::params::ReadParams<'a> for $name<'a $(, $cp)*> {
            fn read<S: $crate::params::ParamSource + ?Sized>(
                c: &mut $crate::params::Cursor<'a, S>,
            ) -> Result<Self, $crate::Error> {
                Ok(Self { $( $field: $crate::param_struct!(@read $fty $(, $on)?; c), )* })
            }
        }
    };
    (@seg $field:ident $seg:literal) => { $seg };
    (@seg $field:ident) => { stringify!($field) };
    (@ty $fty:ty) => { $fty };
    (@ty $fty:ty, $on:ident) => { Option<$fty> };
    (@count $fty:ty) => { <$fty>::COUNT };
    (@count $fty:ty, $on:ident) => { if $on { <$fty>::COUNT } else { 0 } };
    (@describe $fty:ty; $name:expr, $w:ident) => { <$fty>::describe($name, $w) };
    (@describe $fty:ty, $on:ident; $name:expr, $w:ident) => {
        if $on { <$fty>::describe($name, $w) }
    };
    (@read $fty:ty; $c:ident) => { <$fty as $crate::params::ReadParams<'a>>::read($c)? };
    (@read $fty:ty, $on:ident; $c:ident) => {
        if $on { Some(<$fty as $crate::params::ReadParams<'a>>::read($c)?) } else { None }
    };
}
