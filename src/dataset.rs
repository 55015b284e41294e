//! [`Dataset`]: the columnar store fed by the push decoder.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use serde::Serialize;

use crate::column::{Column, ColumnData, Role, TimeUnit};
use crate::error::{Error, Result};
use crate::ingest::{Decoder, Event, Limits};

/// Default memory budget: 2 GiB on wasm32 (whose memory is 4 GiB at most), 16 GiB natively.
pub const DEFAULT_BUDGET_BYTES: u64 = if cfg!(target_pointer_width = "32") { 2 << 30 } else { 16 << 30 };

/// Most rows a dataset holds (row numbers are 32-bit).
pub const MAX_ROWS: usize = u32::MAX as usize;

/// One column as described by [`Dataset::schema`].
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FieldInfo {
    /// Column name.
    pub name: String,
    /// Arrow type as written in the stream.
    #[serde(rename = "type")]
    pub arrow_type: String,
    /// How the column is analyzed.
    pub role: Role,
    /// For time columns: the unit of the raw values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<TimeUnit>,
    /// Why the column is kept out of analysis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Number of null values loaded.
    pub nulls: usize,
    /// For string columns: the number of distinct values, once known (an identifier
    /// column, kept as it arrived, has no dictionary until a query needs one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub distinct: Option<usize>,
}

/// What one [`Dataset::push`] did.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct PushSummary {
    /// Rows appended by this push.
    pub rows: usize,
    /// Record batches completed by this push.
    pub batches: usize,
}

/// A dataset: rows appended from one or more Arrow IPC streams.
///
/// `push` takes the bytes of a stream in chunks cut anywhere; each completed record
/// batch is appended to the columns at once. An error leaves every batch completed
/// before it loaded and queryable; the failed stream refuses further bytes until
/// `finish()` (which reports the failure once more) or `reset_stream()`.
#[derive(Debug)]
pub struct Dataset {
    /// Shared so that a query can see them beside columns of its own (calculated
    /// fields, [`Dataset::with_columns`]) without a copy; ingest is their only writer.
    columns: Vec<Arc<Column>>,
    rows: usize,
    batches: usize,
    decoder: Decoder,
    /// For the stream being read: the column index of each of its fields.
    field_map: Vec<usize>,
    metadata: BTreeMap<String, String>,
    failed: Option<Error>,
    budget: u64,
}

impl Default for Dataset {
    fn default() -> Self {
        Dataset::new()
    }
}

impl Dataset {
    /// An empty dataset with the default memory budget.
    pub fn new() -> Dataset {
        Dataset::with_budget(DEFAULT_BUDGET_BYTES)
    }

    /// An empty dataset that refuses data beyond `budget` bytes of memory.
    pub fn with_budget(budget: u64) -> Dataset {
        let limits = Limits { budget, ..Limits::default() };
        Dataset {
            columns: Vec::new(),
            rows: 0,
            batches: 0,
            decoder: Decoder::new(limits),
            field_map: Vec::new(),
            metadata: BTreeMap::new(),
            failed: None,
            budget,
        }
    }

    /// Feeds the next bytes of the stream.
    ///
    /// # Errors
    /// [`Error::Ingest`] names the byte offset of the message that failed; a failed
    /// stream refuses further bytes with [`Error::State`] until [`Dataset::finish`].
    pub fn push(&mut self, chunk: &[u8]) -> Result<PushSummary> {
        if let Some(e) = &self.failed {
            return Err(Error::State(format!(
                "the stream already failed ({e}); call finish() before pushing a new stream; {} rows loaded before the failure remain",
                self.rows
            )));
        }
        let mut summary = PushSummary::default();
        let mut decoder = std::mem::take(&mut self.decoder);
        // The decoder refuses a message that would not fit in what is left of the budget.
        // The module's memory bounds it too: a dataset may not take what others hold.
        let used = self.heap_bytes() as u64;
        let budget = self.budget.min(used.saturating_add(crate::memory::available()));
        decoder.set_limits(Limits { budget_used: used, budget, ..decoder.limits() });
        let result = decoder.push(chunk, &mut |event, offset, limits| match event {
            Event::Schema(schema) => self.on_schema(&schema),
            Event::Batch(batch) => {
                let n = self.on_batch(&batch, offset)?;
                summary.rows += n;
                summary.batches += 1;
                limits.budget_used = self.heap_bytes() as u64;
                Ok(())
            }
        });
        self.decoder = decoder;
        // A message refused for the module's memory rather than this dataset's budget.
        let result = result.map_err(|e| match e {
            Error::Budget { offset, needed, budget } if budget < self.budget => Error::OutOfMemory {
                offset,
                message: format!(
                    "a message needs {needed} bytes, and the datasets of this page leave this one {budget} of the {} bytes they may use together; free() datasets no longer needed",
                    crate::memory::module_limit()
                ),
            },
            other => other,
        });
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result.map(|_| summary)
    }

    /// Ends the current stream. Fails if it ended inside a message, or if it failed
    /// earlier; either way the dataset is then ready for a new stream, and every row
    /// loaded so far stays.
    pub fn finish(&mut self) -> Result<()> {
        let end = self.decoder.finish();
        match self.failed.take() {
            Some(e) => Err(e),
            None => end,
        }
    }

    /// Drops a partial or failed stream without reporting it.
    pub fn reset_stream(&mut self) {
        self.decoder.reset();
        self.failed = None;
    }

    /// Number of rows loaded.
    pub fn row_count(&self) -> usize {
        self.rows
    }

    /// Bytes of the current stream consumed so far.
    pub fn stream_position(&self) -> u64 {
        self.decoder.position()
    }

    /// Number of record batches loaded.
    pub fn batch_count(&self) -> usize {
        self.batches
    }

    /// The columns, in schema order.
    pub fn columns(&self) -> &[Arc<Column>] {
        &self.columns
    }

    /// This dataset's rows with `extra` columns after its own (a query's calculated
    /// fields): the columns are shared, not copied, and the result takes no more data.
    pub fn with_columns(&self, extra: Vec<Arc<Column>>) -> Dataset {
        let mut columns = self.columns.clone();
        columns.extend(extra);
        Dataset {
            columns,
            rows: self.rows,
            batches: self.batches,
            decoder: Decoder::default(),
            field_map: Vec::new(),
            metadata: self.metadata.clone(),
            failed: Some(Error::State("a dataset with calculated columns takes no more data".into())),
            budget: self.budget,
        }
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Result<&Column> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .map(|c| &**c)
            .ok_or_else(|| Error::UnknownColumn { column: name.to_string() })
    }

    /// Schema-level key/value metadata of the first stream.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// The memory budget in bytes.
    pub fn budget(&self) -> u64 {
        self.budget
    }

    /// Approximate heap bytes held by the columns.
    pub fn heap_bytes(&self) -> usize {
        self.columns.iter().map(|c| c.heap_bytes()).sum()
    }

    /// The columns as users see them.
    pub fn schema(&self) -> Vec<FieldInfo> {
        self.columns
            .iter()
            .map(|c| FieldInfo {
                name: c.name.clone(),
                arrow_type: c.arrow_type.clone(),
                role: c.role,
                unit: match &c.data {
                    ColumnData::Time { unit, .. } => Some(*unit),
                    _ => None,
                },
                note: c.note.clone(),
                nulls: match &c.data {
                    ColumnData::Str(s) => s.null_count(),
                    ColumnData::Bool(v) => v.iter().filter(|x| **x == 2).count(),
                    ColumnData::Other => c.len(),
                    _ => c.validity.null_count(),
                },
                distinct: match &c.data {
                    ColumnData::Str(s) => s.distinct(),
                    _ => None,
                },
            })
            .collect()
    }

    /// Drops the bytes of identifier columns whose dictionary a query built, keeping the
    /// dictionary (see [`crate::strings`]): a query sees the dataset through `&self`, so
    /// it builds beside the bytes, and the edge calls this once the query is answered.
    pub fn settle_strings(&mut self) {
        for c in &mut self.columns {
            if let Some(ColumnData::Str(s)) = Arc::get_mut(c).map(|c| &mut c.data) {
                s.settle();
            }
        }
    }

    /// The default time column: one named `timestamp`, `time`, `@timestamp` or `_time`,
    /// else the first time column.
    pub fn time_column(&self) -> Option<&Column> {
        let roles: Vec<(&str, Role)> = self.columns.iter().map(|c| (c.name.as_str(), c.role)).collect();
        crate::plan::default_time_column(&roles).map(|i| &*self.columns[i])
    }

    fn on_schema(&mut self, schema: &SchemaRef) -> Result<()> {
        if self.rows == 0 {
            // Nothing loaded yet (perhaps a schema-only stream): this schema decides.
            self.columns = schema.fields().iter().map(|f| Arc::new(Column::new(f))).collect();
            self.field_map = (0..self.columns.len()).collect();
            self.metadata = schema.metadata().iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            return Ok(());
        }
        self.field_map = self.map_fields(schema)?;
        Ok(())
    }

    /// Matches a later stream's fields to the loaded columns, by name and storage.
    fn map_fields(&self, schema: &Schema) -> Result<Vec<usize>> {
        let mut map = Vec::with_capacity(schema.fields().len());
        for f in schema.fields() {
            // By name; a repeated name maps to the next loaded column of that name.
            let (i, c) =
                self.columns.iter().enumerate().find(|(i, c)| c.name == *f.name() && !map.contains(i)).ok_or_else(
                    || Error::SchemaMismatch { column: f.name().clone(), message: "not in the loaded data".into() },
                )?;
            let fresh = Column::new(f);
            let same = fresh.role == c.role
                && std::mem::discriminant(&fresh.data) == std::mem::discriminant(&c.data)
                && match (&fresh.data, &c.data) {
                    (ColumnData::Time { unit: a, .. }, ColumnData::Time { unit: b, .. }) => a == b,
                    _ => true,
                };
            if !same {
                return Err(Error::SchemaMismatch {
                    column: c.name.clone(),
                    message: format!("loaded as {}, the new stream has {}", c.arrow_type, f.data_type()),
                });
            }
            map.push(i);
        }
        if let Some(missing) = self.columns.iter().enumerate().find(|(i, _)| !map.contains(i)) {
            return Err(Error::SchemaMismatch {
                column: missing.1.name.clone(),
                message: "missing from the new stream".into(),
            });
        }
        Ok(map)
    }

    fn bytes_per_row(&self) -> u64 {
        self.columns
            .iter()
            .map(|c| match c.data {
                ColumnData::Str(ref s) => s.bytes_per_row(),
                ColumnData::Bool(_) => 1,
                ColumnData::Other => 0,
                _ => 8,
            })
            .sum::<u64>()
            + 1
    }

    fn on_batch(&mut self, batch: &RecordBatch, offset: u64) -> Result<usize> {
        let n = batch.num_rows();
        // Row numbers are 32-bit in selections and results (`Rows`, `row_ids`). A batch
        // of null-typed columns declares any number of rows at no cost in its body.
        if (self.rows as u64).saturating_add(n as u64) > MAX_ROWS as u64 {
            return Err(Error::Ingest {
                offset,
                message: format!("a record batch of {n} rows would take the dataset past {MAX_ROWS} rows"),
            });
        }
        let needed = (self.heap_bytes() as u64)
            .saturating_add((n as u64).saturating_mul(self.bytes_per_row()))
            .saturating_add(batch.get_array_memory_size() as u64);
        if needed > self.budget {
            return Err(Error::Budget { offset, needed, budget: self.budget });
        }
        // Every dataset of the module together (the batch itself is already decoded).
        let more = (n as u64).saturating_mul(self.bytes_per_row());
        if more > crate::memory::available() {
            return Err(Error::OutOfMemory {
                offset,
                message: format!(
                    "this batch of {n} rows needs {more} more bytes, and the datasets of this page already hold {} of the {} bytes they may use together; free() datasets no longer needed",
                    crate::memory::live_bytes().unwrap_or(0),
                    crate::memory::module_limit()
                ),
            });
        }
        if batch.num_columns() != self.field_map.len() {
            return Err(Error::Ingest { offset, message: "record batch column count differs from the schema".into() });
        }
        for (j, array) in batch.columns().iter().enumerate() {
            // The only writer: no query holds a column between calls (a copy otherwise).
            let Some(col) = self.field_map.get(j).and_then(|i| self.columns.get_mut(*i)).map(Arc::make_mut) else {
                continue;
            };
            if let Err(e) = col.append(array) {
                let rows = self.rows;
                self.columns.iter_mut().for_each(|c| Arc::make_mut(c).truncate(rows));
                return Err(match e {
                    Error::Ingest { message, .. } => Error::Ingest { offset, message },
                    Error::OutOfMemory { message, .. } => Error::OutOfMemory { offset, message },
                    other => other,
                });
            }
        }
        self.rows += n;
        self.batches += 1;
        Ok(n)
    }
}
