//! Sightline's engine: Arrow IPC in, heatmaps, breakdowns and comparisons out.
//!
//! The crate is a pure-Rust core (`ingest`, `column`, `query`, `render`, `demo`) with
//! no JavaScript types in it, plus one thin `wasm` module that is compiled only for
//! `wasm32` and exposes the core to JavaScript through `wasm-bindgen`.
//!
//! ```
//! use sightline::{demo, Dataset};
//!
//! let bytes = demo::ipc_stream(&demo::DemoOptions { rows: 5_000, ..Default::default() }).unwrap();
//! let mut ds = Dataset::new();
//! for chunk in bytes.chunks(1000) {
//!     ds.push(chunk).unwrap();
//! }
//! ds.finish().unwrap();
//! assert_eq!(ds.row_count(), 5_000);
//! ```
#![warn(missing_docs)]

pub mod column;
pub mod compare;
pub mod dataset;
pub mod demo;
pub mod error;
pub mod formula;
pub mod heatmap;
pub mod ingest;
pub mod memory;
pub mod plan;
pub mod query;
pub mod render;
pub mod strings;
#[cfg(test)]
mod typescript;
pub mod tz;
mod util;
pub mod view;

#[cfg(target_arch = "wasm32")]
pub mod wasm;

pub use dataset::Dataset;
pub use error::{Error, ErrorInfo, ErrorKind};
