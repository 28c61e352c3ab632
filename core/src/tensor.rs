//! Tensor types whose dimensions are part of the type.
//!
//! A feature map of one image is `Map<C, H, W>`, which *is* the nested array `[[[T; W]; H]; C]`
//! (channel-major, like NCHW with N = 1). Using plain nested arrays rather than a wrapper keeps
//! the type zero-cost and lets stable Rust express every shape with const generics; large maps
//! are never on the stack: they are borrowed from an arena (see [`crate::arena`]) or from weight
//! storage. Views from flat memory are safe (`as_chunks` + `try_from`), so core needs no
//! `unsafe`.

/// A feature map: `C` channels of `H` rows of `W` pixels.
pub type Map<const C: usize, const H: usize, const W: usize, T = f32> = [[[T; W]; H]; C];

/// A token sequence: `N` tokens of `D` features each (row-major, token-major).
pub type Tokens<const N: usize, const D: usize, T = f32> = [[T; D]; N];

/// A row-major matrix with `R` rows and `C` columns.
pub type Mat<const R: usize, const C: usize, T = f32> = [[T; C]; R];

/// Convolution weights in PyTorch's layout: `[out][in / groups][kh][kw]` (square kernels).
pub type ConvWeight<const CO: usize, const CIG: usize, const K: usize, T = f32> =
    [[[[T; K]; K]; CIG]; CO];

/// Elements of a tensor of this shape, usable in `const` contexts (arena plans).
pub const fn numel(c: usize, h: usize, w: usize) -> usize {
    c * h * w
}

/// The element types tensors hold (the leaves of the nested arrays).
///
/// Being a local trait that arrays do not implement, it keeps the [`Flat`] impls for 1-D to
/// 4-D arrays from overlapping.
pub trait Scalar: Copy + 'static {}
impl Scalar for f32 {}
impl Scalar for i8 {}
impl Scalar for u8 {}
impl Scalar for i16 {}
impl Scalar for i32 {}

/// Contiguous, element-wise access to any fixed-shape tensor.
///
/// Element-wise ops (activations, in-place scaling) do not care about the shape, so they take
/// `impl Flat<Elem = f32>` and keep the caller's shape type unchanged.
pub trait Flat {
    /// The scalar type of the elements.
    type Elem: Scalar;
    /// All elements in memory order.
    fn flat(&self) -> &[Self::Elem];
    /// All elements in memory order, mutably.
    fn flat_mut(&mut self) -> &mut [Self::Elem];
}

impl<T: Scalar, const A: usize> Flat for [T; A] {
    type Elem = T;
    fn flat(&self) -> &[T] {
        self
    }
    fn flat_mut(&mut self) -> &mut [T] {
        self
    }
}

impl<T: Scalar, const A: usize, const B: usize> Flat for [[T; A]; B] {
    type Elem = T;
    fn flat(&self) -> &[T] {
        self.as_flattened()
    }
    fn flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
    }
}

impl<T: Scalar, const A: usize, const B: usize, const C: usize> Flat for [[[T; A]; B]; C] {
    type Elem = T;
    fn flat(&self) -> &[T] {
        self.as_flattened().as_flattened()
    }
    fn flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut().as_flattened_mut()
    }
}

impl<T: Scalar, const A: usize, const B: usize, const C: usize, const D: usize> Flat
    for [[[[T; A]; B]; C]; D]
{
    type Elem = T;
    fn flat(&self) -> &[T] {
        self.as_flattened().as_flattened().as_flattened()
    }
    fn flat_mut(&mut self) -> &mut [T] {
        self.as_flattened_mut()
            .as_flattened_mut()
            .as_flattened_mut()
    }
}

/// Views the first `C·H·W` elements of `flat` as a `Map<C, H, W>`; `None` if `flat` is shorter.
pub fn map_ref<T, const C: usize, const H: usize, const W: usize>(
    flat: &[T],
) -> Option<&Map<C, H, W, T>> {
    let (rows, _) = flat.as_chunks::<W>();
    let (planes, _) = rows.as_chunks::<H>();
    planes.get(..C)?.try_into().ok()
}

/// Mutable form of [`map_ref`].
pub fn map_mut<T, const C: usize, const H: usize, const W: usize>(
    flat: &mut [T],
) -> Option<&mut Map<C, H, W, T>> {
    let (rows, _) = flat.as_chunks_mut::<W>();
    let (planes, _) = rows.as_chunks_mut::<H>();
    planes.get_mut(..C)?.try_into().ok()
}

/// Views the first `R·C` elements of `flat` as a `Mat<R, C>` (also a `Tokens<R, C>`).
pub fn mat_ref<T, const R: usize, const C: usize>(flat: &[T]) -> Option<&Mat<R, C, T>> {
    let (rows, _) = flat.as_chunks::<C>();
    rows.get(..R)?.try_into().ok()
}

/// Mutable form of [`mat_ref`].
pub fn mat_mut<T, const R: usize, const C: usize>(flat: &mut [T]) -> Option<&mut Mat<R, C, T>> {
    let (rows, _) = flat.as_chunks_mut::<C>();
    rows.get_mut(..R)?.try_into().ok()
}

/// Views the first `N` elements of `flat` as an array.
pub fn vec_ref<T, const N: usize>(flat: &[T]) -> Option<&[T; N]> {
    flat.first_chunk::<N>()
}

/// Mutable form of [`vec_ref`].
pub fn vec_mut<T, const N: usize>(flat: &mut [T]) -> Option<&mut [T; N]> {
    flat.first_chunk_mut::<N>()
}

/// Views the first `CO·CIG·K·K` elements of `flat` as convolution weights.
pub fn conv_weight_ref<T, const CO: usize, const CIG: usize, const K: usize>(
    flat: &[T],
) -> Option<&ConvWeight<CO, CIG, K, T>> {
    let (rows, _) = flat.as_chunks::<K>();
    let (kernels, _) = rows.as_chunks::<K>();
    let (filters, _) = kernels.as_chunks::<CIG>();
    filters.get(..CO)?.try_into().ok()
}

/// Mutable form of [`conv_weight_ref`].
pub fn conv_weight_mut<T, const CO: usize, const CIG: usize, const K: usize>(
    flat: &mut [T],
) -> Option<&mut ConvWeight<CO, CIG, K, T>> {
    let (rows, _) = flat.as_chunks_mut::<K>();
    let (kernels, _) = rows.as_chunks_mut::<K>();
    let (filters, _) = kernels.as_chunks_mut::<CIG>();
    filters.get_mut(..CO)?.try_into().ok()
}

/// Channels `OFF .. OFF + N` of a map, as a map of their own (zero-copy concat/split).
///
/// The range is checked at compile time, so the view cannot fail.
pub fn channels<
    T,
    const OFF: usize,
    const N: usize,
    const C: usize,
    const H: usize,
    const W: usize,
>(
    x: &Map<C, H, W, T>,
) -> &Map<N, H, W, T> {
    const {
        assert!(
            OFF + N <= C,
            "channel range OFF..OFF+N exceeds the map's channels"
        )
    };
    match x[OFF..OFF + N].try_into() {
        Ok(v) => v,
        Err(_) => unreachable!(),
    }
}

/// Mutable form of [`channels`]: lets several producers write straight into their part of a
/// concatenation buffer.
pub fn channels_mut<
    T,
    const OFF: usize,
    const N: usize,
    const C: usize,
    const H: usize,
    const W: usize,
>(
    x: &mut Map<C, H, W, T>,
) -> &mut Map<N, H, W, T> {
    const {
        assert!(
            OFF + N <= C,
            "channel range OFF..OFF+N exceeds the map's channels"
        )
    };
    match (&mut x[OFF..OFF + N]).try_into() {
        Ok(v) => v,
        Err(_) => unreachable!(),
    }
}

/// Splits a map into its first `A` and last `B` channels (`A + B == C`, checked at compile time).
pub fn split_channels_mut<
    T,
    const A: usize,
    const B: usize,
    const C: usize,
    const H: usize,
    const W: usize,
>(
    x: &mut Map<C, H, W, T>,
) -> (&mut Map<A, H, W, T>, &mut Map<B, H, W, T>) {
    const { assert!(A + B == C, "split sizes must add up to the map's channels") };
    let (a, b) = x.split_at_mut(A);
    match (a.try_into(), b.try_into()) {
        (Ok(a), Ok(b)) => (a, b),
        _ => unreachable!(),
    }
}

/// A map's channels as rows of a `C × N` matrix (`N = H·W`, row-major pixels) — the view that
/// attention blocks multiply with.
pub fn map_as_mat<T: Scalar, const C: usize, const H: usize, const W: usize, const N: usize>(
    x: &Map<C, H, W, T>,
) -> &Mat<C, N, T> {
    const { assert!(N == H * W, "N must equal H*W") };
    match mat_ref(x.flat()) {
        Some(m) => m,
        None => unreachable!(),
    }
}

/// Mutable form of [`map_as_mat`].
pub fn map_as_mat_mut<T: Scalar, const C: usize, const H: usize, const W: usize, const N: usize>(
    x: &mut Map<C, H, W, T>,
) -> &mut Mat<C, N, T> {
    const { assert!(N == H * W, "N must equal H*W") };
    match mat_mut(x.flat_mut()) {
        Some(m) => m,
        None => unreachable!(),
    }
}

/// Channels `off .. off + N` of a map, with the offset chosen at run time (for loops over
/// concatenation slots). `None` if the range does not fit.
pub fn channels_at_mut<T, const N: usize, const C: usize, const H: usize, const W: usize>(
    x: &mut Map<C, H, W, T>,
    off: usize,
) -> Option<&mut Map<N, H, W, T>> {
    x.get_mut(off..off.checked_add(N)?)?.try_into().ok()
}

/// Reinterprets a map as another map type with the same number of elements (e.g. an
/// identity shortcut whose shape equality is known from const asserts but not to the type
/// checker).
pub fn reshape_ref<
    T: Scalar,
    const C: usize,
    const H: usize,
    const W: usize,
    const C2: usize,
    const H2: usize,
    const W2: usize,
>(
    x: &Map<C, H, W, T>,
) -> &Map<C2, H2, W2, T> {
    const {
        assert!(
            C * H * W == C2 * H2 * W2,
            "reshape must keep the element count"
        )
    };
    match map_ref(x.flat()) {
        Some(m) => m,
        None => unreachable!(),
    }
}
