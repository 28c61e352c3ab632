//! Benchmarks live in `benches/`; this library holds what several of them share: the
//! `edge` networks' f32 blocks runnable one by one ([`blocks`]) and the int8 engine's time
//! per activation point ([`int8_points`]).
pub mod blocks;
pub mod int8_points;
