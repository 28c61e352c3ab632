//! hepaseg host library: the workstation side (training, data, export). See the README.
pub use hepaseg_core as core;

pub mod info;
pub mod metrics;
pub mod registry;
