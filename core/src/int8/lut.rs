//! Element-wise non-linearities (sigmoid, GELU, exp, …) through 256-entry lookup tables.
//!
//! An int8 input has only 256 possible values, so any scalar function `f` with fixed input and
//! output quantization is a table: entry `x` holds `quantize_out(f(dequantize_in(x)))`,
//! computed once on the host in `f64` ([`crate::int8::quant::build_lut`]) and stored in the
//! blob. Applying it is one load per element — no floating point, no polynomial, bit-identical
//! everywhere, and **exact** (0 LSB) against the float reference, which is the same formula.
//!
//! Tables are indexed by the input's bit pattern as an unsigned byte (`x as u8`: 0..=127 are
//! the non-negative inputs, 128..=255 the negative ones), TFLite's `LUTPopulate`/`LUTLookup`
//! convention (`lut[static_cast<uint8_t>(x)]`), so a table written by TFLite tooling works
//! unchanged.

use crate::tensor::Flat;

/// The table entry for one input.
#[inline]
pub const fn lookup(lut: &[i8; 256], x: i8) -> i8 {
    lut[x.cast_unsigned() as usize]
}

/// `x = lut[x]` element-wise, in place (the tensor takes the table's output quantization).
pub fn apply_lut(x: &mut impl Flat<Elem = i8>, lut: &[i8; 256]) {
    for v in x.flat_mut() {
        *v = lookup(lut, *v);
    }
}

/// `y = lut[x]` element-wise, for two tensors of the same shape.
pub fn apply_lut_into<T: Flat<Elem = i8>>(x: &T, lut: &[i8; 256], y: &mut T) {
    for (o, v) in y.flat_mut().iter_mut().zip(x.flat()) {
        *o = lookup(lut, *v);
    }
}
