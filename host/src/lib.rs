//! hepaseg host library: the workstation side (training, data, export). See the README.
pub use hepaseg_core as core;

pub mod bench;
pub mod blob;
pub mod data;
pub mod device;
pub mod dicom;
pub mod eval;
pub mod info;
pub mod metrics;
pub mod models;
pub mod nn;
pub mod onnx;
pub mod quant;
pub mod registry;
pub mod report;
pub mod segment;
pub mod study;
pub mod train;
