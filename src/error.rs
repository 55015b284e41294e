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

/// Which kind of [`Error`] (the variant), as JavaScript and the server's JSON name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[cfg_attr(test, derive(ts_rs::TS))]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// [`Error::Ingest`].
    Ingest,
    /// [`Error::UnsupportedType`].
    UnsupportedType,
    /// [`Error::SchemaMismatch`].
    SchemaMismatch,
    /// [`Error::Budget`].
    Budget,
    /// [`Error::OutOfMemory`].
    OutOfMemory,
    /// [`Error::State`].
    State,
    /// [`Error::UnknownColumn`].
    UnknownColumn,
    /// [`Error::Operator`].
    Operator,
    /// [`Error::Spec`].
    Spec,
}

/// An error as data: what `Dataset`'s methods throw carries these fields (on the
/// JavaScript `Error`), and the server's error JSON has them beside `error`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[cfg_attr(test, derive(ts_rs::TS), ts(rename = "EngineError", optional_fields))]
pub struct ErrorInfo {
    /// Which error.
    pub kind: ErrorKind,
    /// The message (the error's `Display`).
    pub message: String,
    /// The column it names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<String>,
    /// The operator it names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// The byte offset in the stream it names, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Error {
    /// The error as data: its kind, message, and the column, operator or byte offset it names.
    pub fn info(&self) -> ErrorInfo {
        let (kind, column, operator, offset) = match self {
            Error::Ingest { offset, .. } => (ErrorKind::Ingest, None, None, Some(*offset)),
            Error::UnsupportedType { column, .. } => (ErrorKind::UnsupportedType, Some(column), None, None),
            Error::SchemaMismatch { column, .. } => (ErrorKind::SchemaMismatch, Some(column), None, None),
            Error::Budget { offset, .. } => (ErrorKind::Budget, None, None, Some(*offset)),
            Error::OutOfMemory { offset, .. } => (ErrorKind::OutOfMemory, None, None, Some(*offset)),
            Error::State(_) => (ErrorKind::State, None, None, None),
            Error::UnknownColumn { column } => (ErrorKind::UnknownColumn, Some(column), None, None),
            Error::Operator { op, column, .. } => (ErrorKind::Operator, Some(column), Some(op), None),
            Error::Spec(_) => (ErrorKind::Spec, None, None, None),
        };
        ErrorInfo {
            kind,
            message: self.to_string(),
            column: column.filter(|c| !c.is_empty()).cloned(),
            operator: operator.cloned(),
            offset,
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_names_what_the_error_names() {
        let e = Error::Operator { op: "P99".into(), column: "endpoint".into(), message: "needs a number".into() };
        let i = e.info();
        assert_eq!(
            (i.kind, i.column.as_deref(), i.operator.as_deref(), i.offset),
            (ErrorKind::Operator, Some("endpoint"), Some("P99"), None)
        );
        assert_eq!(i.message, e.to_string());
        let i = Error::Ingest { offset: 1234, message: "bad".into() }.info();
        assert_eq!((i.kind, i.offset, i.column), (ErrorKind::Ingest, Some(1234), None));
        // A having without a column names none (not an empty one).
        let i = Error::Operator { op: "contains".into(), column: String::new(), message: "x".into() }.info();
        assert_eq!(i.column, None);
        assert_eq!(
            serde_json::to_string(&Error::UnknownColumn { column: "x".into() }.info()).unwrap(),
            r#"{"kind":"unknown_column","message":"unknown column \"x\"","column":"x"}"#
        );
    }
}
