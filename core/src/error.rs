//! Errors are values: nothing in core panics on input that arrives at run time.

use core::fmt;

/// Everything that can go wrong in core at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The arena handed to a forward pass is smaller than the plan needs.
    ArenaTooSmall {
        /// Bytes the plan needs.
        needed: usize,
        /// Bytes that were provided.
        available: usize,
    },
    /// The arena does not start on a 4-byte (f32) boundary.
    ArenaMisaligned,
    /// A parameter the network needs is not in the parameter source.
    ParamMissing {
        /// Index of the parameter in the network's parameter table.
        index: usize,
    },
    /// A parameter exists but holds the wrong number of elements.
    ParamShape {
        /// Index of the parameter in the network's parameter table.
        index: usize,
        /// Elements the network expects.
        expected: usize,
        /// Elements the source holds.
        found: usize,
    },
    /// An input value is not finite (NaN or ±∞).
    NonFiniteInput,
    /// A flat input does not hold the network's `1 × H × W` values.
    InputShape {
        /// Values the network expects.
        expected: usize,
        /// Values given.
        found: usize,
    },
    /// Two buffers a step uses at once overlap in the memory plan (a planner bug; tests
    /// guard against it, and it is reported rather than aliased).
    PlanOverlap,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::ArenaTooSmall { needed, available } => write!(
                f,
                "arena too small: the plan needs {needed} bytes, {available} were provided"
            ),
            Error::ArenaMisaligned => write!(f, "arena is not aligned to 4 bytes"),
            Error::ParamMissing { index } => write!(f, "parameter #{index} is missing"),
            Error::ParamShape {
                index,
                expected,
                found,
            } => write!(
                f,
                "parameter #{index} has {found} elements, the network expects {expected}"
            ),
            Error::NonFiniteInput => write!(f, "input contains a non-finite value"),
            Error::InputShape { expected, found } => {
                write!(
                    f,
                    "input holds {found} values, the network expects {expected}"
                )
            }
            Error::PlanOverlap => write!(f, "memory plan hands out overlapping buffers"),
        }
    }
}

impl core::error::Error for Error {}
