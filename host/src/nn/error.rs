//! The one error type of the layers: every misuse a caller can make is a value, not a panic.

/// What went wrong in a layer, the parameter store or a device op.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NnError {
    /// An input tensor's shape does not fit the layer.
    #[error("{layer}: expected input {expected}, got {found:?}")]
    Shape {
        /// The layer (its parameter prefix or kind).
        layer: String,
        /// What it accepts, in words.
        expected: String,
        /// The shape it was given.
        found: Vec<usize>,
    },
    /// A layer was configured with sizes that cannot work (zero channels, indivisible groups…).
    #[error("{layer}: invalid configuration: {reason}")]
    Config {
        /// The layer.
        layer: String,
        /// Why.
        reason: String,
    },
    /// No parameter has this name.
    #[error("unknown parameter `{0}`")]
    UnknownParam(String),
    /// A parameter id that this store never handed out.
    #[error("parameter id {0} does not belong to this store")]
    BadParamId(usize),
    /// A name was registered twice.
    #[error("parameter `{0}` registered twice")]
    DuplicateParam(String),
    /// Values of the wrong length for a parameter.
    #[error("parameter `{name}`: expected {expected} values, got {found}")]
    ParamLen {
        /// The parameter.
        name: String,
        /// Its element count.
        expected: usize,
        /// What was supplied.
        found: usize,
    },
    /// The store does not match a core parameter table.
    #[error("parameter table mismatch at row {row}: {detail}")]
    Table {
        /// Row of the core table.
        row: usize,
        /// The difference.
        detail: String,
    },
    /// The dfdx device failed (out of memory, CUDA error, …).
    #[error("device error: {0}")]
    Device(String),
}

impl NnError {
    /// Shorthand for [`NnError::Shape`].
    pub fn shape(layer: &str, expected: impl Into<String>, found: &[usize]) -> Self {
        NnError::Shape {
            layer: layer.to_string(),
            expected: expected.into(),
            found: found.to_vec(),
        }
    }

    /// Shorthand for [`NnError::Config`].
    pub fn config(layer: &str, reason: impl Into<String>) -> Self {
        NnError::Config {
            layer: layer.to_string(),
            reason: reason.into(),
        }
    }
}
