//! # hepaseg-core
//!
//! The scanner-side half of hepaseg: a `#![no_std]`, allocation-free library that runs the
//! CAFCT-Net and AGCAF-Net liver-tumour segmentation networks deterministically.
//!
//! * Every tensor carries its dimensions in its type ([`Map`], [`Tokens`], [`Mat`]), so a
//!   mis-wired network does not compile: each op states its output shape in its signature and
//!   checks the shape relation in an inline `const` block, evaluated when the op is instantiated.
//! * Memory comes from a caller-provided arena ([`arena::Scratch`]); sizes are `const` so a
//!   device build can reserve a static buffer of exactly the needed size.
//! * The f32 path is the reference: fixed summation order, `libm` for transcendental functions.
//!
//! Nothing here allocates, touches files or threads, or panics on run-time input: failures
//! are [`Error`] values.
#![no_std]
#![doc(html_no_source)]

pub mod arena;
pub mod blob;
pub mod blocks;
pub mod error;
pub mod int8;
pub mod nets;
pub mod ops;
pub mod params;
pub mod plan;
pub mod tensor;

pub use arena::{AlignedArena, Scratch};
pub use error::Error;
pub use tensor::{ConvWeight, Flat, Map, Mat, Scalar, Tokens};
