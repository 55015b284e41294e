//! Arrow IPC bytes from `(name, array)` columns, and a Dataset loaded from them.
#![allow(dead_code)]

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{Field, Schema};
use sightline::Dataset;

/// One batch of these columns as an Arrow IPC stream.
pub fn ipc(cols: Vec<(&str, ArrayRef)>) -> Vec<u8> {
    let schema = Arc::new(Schema::new(
        cols.iter().map(|(n, a)| Field::new(*n, a.data_type().clone(), a.null_count() > 0)).collect::<Vec<_>>(),
    ));
    let mut bytes = Vec::new();
    let mut w = StreamWriter::try_new(&mut bytes, &schema).unwrap();
    w.write(&RecordBatch::try_new(schema.clone(), cols.into_iter().map(|c| c.1).collect()).unwrap()).unwrap();
    w.finish().unwrap();
    drop(w);
    bytes
}

/// A dataset holding these columns.
pub fn dataset(cols: Vec<(&str, ArrayRef)>) -> Dataset {
    let mut ds = Dataset::new();
    ds.push(&ipc(cols)).unwrap();
    ds.finish().unwrap();
    ds
}
