//! The building blocks of both networks, one module each.
//!
//! A block is a zero-sized type whose const parameters are its input geometry; it publishes
//! `SCRATCH_BYTES` (memory it borrows while running, see [`crate::arena`]) and `MACS`
//! (multiply-accumulates of its convolutions, linear layers and attention products), and its
//! `forward` takes the block's parameter struct (see [`crate::params`]), its input, its typed
//! output and a [`crate::Scratch`]. Output shapes are const parameters of `forward`, checked
//! against the input geometry at compile time.

pub mod aff;
pub mod afm;
pub mod agcb;
pub mod aspp;
pub mod attention;
pub mod attention_gate;
pub mod basic_block;
pub mod cpm;
pub mod decoder;
pub mod fcn_head;
pub mod gnfm;
pub mod mix_ffn;
pub mod nonlocal;
pub mod patch_embed;
pub mod seg_head;
pub mod sra;
pub mod transformer;
pub mod unit;
