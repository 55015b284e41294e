//! The one error type of the engine.
//!
//! Every variant names what was wrong and where: the column, the operator, or the
//! byte offset in the stream. The wasm layer turns it into a JS `Error` whose
//! message is this type's `Display`.

use std::fmt;

/// Everything that can go wrong in the engine. Nothing in the core panics instead.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// The bytes are not a valid Arrow IPC stream. `offset` is the byte offset, counted
    /// from the start of the stream, of the message that could not be decoded.
    Ingest {
        /// Byte offset of the failing message within the stream.
        offset: u64,
        /// What the decoder said.
        message: String,
    },
    /// A column's type cannot be loaded at all.
    UnsupportedType {
        /// The column's name.
        column: String,
        /// The column's Arrow type.
        arrow_type: String,
    },
    /// A stream pushed after `finish()` has a schema that does not match the loaded data.
    SchemaMismatch {
        /// The first column that differs.
        column: String,
        /// How it differs.
        message: String,
    },
    /// Loading more would exceed the dataset's memory budget.
    Budget {
        /// Byte offset in the stream where the budget ran out.
        offset: u64,
        /// Bytes the dataset would need.
        needed: u64,
        /// The budget in bytes.
        budget: u64,
    },
    /// Memory ran out for the whole module (every dataset of the page), or the
    /// browser refused to grow it: nothing was appended, and what was loaded stays.
    OutOfMemory {
        /// Byte offset in the stream of the batch that did not fit.
        offset: u64,
        /// What did not fit, and what can be done.
        message: String,
    },
    /// The dataset was used out of order (for example, pushed after a failure).
    State(String),
    /// A query or render request names a column the dataset does not have.
    UnknownColumn {
        /// The name asked for.
        column: String,
    },
    /// An operator does not fit a column (for example `P99` of a string column).
    Operator {
        /// The operator.
        op: String,
        /// The column.
        column: String,
        /// Why it does not fit.
        message: String,
    },
    /// A specification is malformed.
    Spec(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Ingest { offset, message } => {
                write!(f, "Arrow IPC error at byte {offset}: {message}")
            }
            Error::UnsupportedType { column, arrow_type } => {
                write!(f, "column \"{column}\": unsupported Arrow type {arrow_type}")
            }
            Error::SchemaMismatch { column, message } => {
                write!(f, "column \"{column}\": schema differs from the loaded data: {message}")
            }
            Error::Budget { offset, needed, budget } => {
                write!(f, "memory budget exceeded at byte {offset}: needs {needed} bytes, budget is {budget} bytes")
            }
            Error::OutOfMemory { offset, message } => write!(f, "out of memory at byte {offset}: {message}"),
            Error::State(message) => write!(f, "{message}"),
            Error::UnknownColumn { column } => write!(f, "unknown column \"{column}\""),
            Error::Operator { op, column, message } => {
                write!(f, "operator {op} on column \"{column}\": {message}")
            }
            Error::Spec(message) => write!(f, "invalid specification: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
