//! The push decoder: bytes of an Arrow IPC stream in, cut anywhere; schemas and record
//! batches out, each tagged with the byte offset of the message it came from.
//!
//! Framing is done here rather than inside arrow-ipc's `StreamDecoder`, for two reasons:
//! every error can name the byte offset of the message that caused it, and a message's
//! declared lengths are checked against the limits *before* any memory is reserved for
//! it, so a hostile header cannot make the engine allocate gigabytes. A batch's buffers
//! are checked against its body and schema before arrow-ipc reads them, for the layouts
//! arrow-ipc would panic or abort on instead of reporting (`check_buffers`,
//! `check_layout`). Each complete message is then decoded with arrow-ipc's
//! `read_record_batch` (and its `RecordBatchDecoder` for dictionary batches), which
//! resolves dictionaries and decompresses bodies (LZ4_FRAME, ZSTD). Dictionary batches
//! are handled here, not by `read_dictionary`: its delta path links arrow-select's
//! generic `concat`, which alone added about 500 KB to the wasm module; deltas are
//! concatenated here for the string dictionaries the engine analyzes. (arrow-ipc's own
//! `StreamDecoder` was tried first: it leaves a message with an empty body undecoded
//! until more bytes arrive, so a stream's schema would not be seen until its first
//! batch.)

use arrow_array::cast::AsArray;
use arrow_array::ArrayRef;
use arrow_array::RecordBatch;
use arrow_array::{LargeStringArray, StringArray, StringViewArray};
use arrow_buffer::{Buffer, MutableBuffer};
use arrow_ipc::reader::{read_record_batch, RecordBatchDecoder};
use arrow_ipc::MessageHeader;
use arrow_ipc::MetadataVersion;
use arrow_schema::SchemaRef;
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, UnionMode};
use std::collections::HashMap;
use std::sync::Arc;

use crate::error::{Error, Result};

const CONTINUATION: [u8; 4] = [0xff; 4];

/// Limits checked against a message's declared sizes before anything is allocated.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest metadata flatbuffer accepted (schemas with absurd metadata are refused).
    pub max_metadata_bytes: u32,
    /// Largest message body accepted.
    pub max_body_bytes: u64,
    /// Most fields in a schema, nested ones included.
    pub max_fields: usize,
    /// Deepest nesting of a schema's types (a top-level primitive column is depth 1).
    pub max_depth: usize,
    /// Most bytes of custom metadata (keys and values, of the schema and its fields).
    pub max_custom_metadata_bytes: usize,
    /// Memory budget in bytes: a message whose body, decompressed buffers or
    /// dictionaries would take `budget_used` (plus the dictionaries held) beyond it is
    /// refused with [`Error::Budget`] before anything is allocated for it.
    pub budget: u64,
    /// Bytes of the budget already used by loaded data (set by [`crate::Dataset`]).
    pub budget_used: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_metadata_bytes: 16 << 20,
            max_body_bytes: 1 << 31,
            max_fields: 10_000,
            max_depth: 32,
            max_custom_metadata_bytes: 1 << 20,
            budget: u64::MAX,
            budget_used: 0,
        }
    }
}

/// Bytes reserved ahead of the data for a message's body: a body is read into a buffer
/// that grows with the bytes that actually arrive, so a declared length far beyond the
/// data costs at most this much.
const RESERVE_AHEAD: usize = 1 << 20;

/// Most bytes an LZ4 frame can decompress to per compressed byte (a match costs at
/// least one byte per 255 of length), and a Zstandard frame (an RLE block of 4 bytes
/// decompresses to at most 128 KiB), plus slack for tiny buffers.
const LZ4_MAX_RATIO: u64 = 256;
const ZSTD_MAX_RATIO: u64 = 32 << 10;
const RATIO_SLACK: u64 = 64 << 10;

/// What a complete message produced.
#[derive(Debug)]
pub enum Event {
    /// The stream's schema (first message of each stream).
    Schema(SchemaRef),
    /// A record batch, with dictionaries already resolved.
    Batch(RecordBatch),
}

#[derive(Debug)]
enum Frame {
    /// Reading the 4-byte continuation marker and/or the 4-byte metadata length.
    Prefix { buf: [u8; 8], read: usize },
    /// Reading `len` bytes of metadata.
    Meta { len: usize },
    /// Reading `len` bytes of body.
    Body { len: usize, kind: MessageHeader },
    /// The end-of-stream marker was read; more bytes start a new stream.
    Ended,
}

/// Incremental Arrow IPC stream decoder. See the module docs.
#[derive(Debug)]
pub struct Decoder {
    frame: Frame,
    /// The current message's bytes so far (prefix, metadata, body).
    pending: MutableBuffer,
    prefix_len: usize,
    meta_len: usize,
    /// The current stream's schema, once read.
    schema: Option<SchemaRef>,
    /// The current stream's dictionaries, by id.
    dictionaries: HashMap<i64, ArrayRef>,
    /// Bytes of the stream consumed so far.
    position: u64,
    /// Offset of the message being read.
    message_start: u64,
    limits: Limits,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder::new(Limits::default())
    }
}

fn kind_name(kind: MessageHeader) -> &'static str {
    match kind {
        MessageHeader::Schema => "schema",
        MessageHeader::RecordBatch => "record batch",
        MessageHeader::DictionaryBatch => "dictionary batch",
        MessageHeader::Tensor => "tensor",
        MessageHeader::SparseTensor => "sparse tensor",
        _ => "unknown",
    }
}

impl Decoder {
    /// A decoder with the given limits.
    pub fn new(limits: Limits) -> Decoder {
        Decoder {
            frame: Frame::Prefix { buf: [0; 8], read: 0 },
            pending: MutableBuffer::new(0),
            prefix_len: 0,
            meta_len: 0,
            schema: None,
            dictionaries: HashMap::new(),
            position: 0,
            message_start: 0,
            limits,
        }
    }

    /// Replaces the limits (applies from the next message on).
    pub fn set_limits(&mut self, limits: Limits) {
        self.limits = limits;
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Approximate heap bytes of the dictionaries held for the current stream.
    pub fn dictionary_bytes(&self) -> u64 {
        self.dictionaries.values().map(|d| d.get_array_memory_size() as u64).sum()
    }

    /// Refuses `bytes` more when they would take the memory used beyond the budget.
    fn check_budget(&self, bytes: u64) -> Result<()> {
        let needed = self.limits.budget_used.saturating_add(self.dictionary_bytes()).saturating_add(bytes);
        if needed > self.limits.budget {
            return Err(Error::Budget { offset: self.message_start, needed, budget: self.limits.budget });
        }
        Ok(())
    }

    /// Bytes consumed so far.
    pub fn position(&self) -> u64 {
        self.position
    }

    /// Byte offset of the message being read.
    pub fn message_start(&self) -> u64 {
        self.message_start
    }

    fn err(&self, message: String) -> Error {
        Error::Ingest { offset: self.message_start, message }
    }

    /// Consumes `chunk`, calling `on` for each schema and record batch it completes,
    /// with the message's byte offset and the limits, which it may change (say, the
    /// budget used once a batch is loaded) for the messages after it.
    ///
    /// After an error the decoder is in an undefined framing state; the caller stops
    /// feeding it (see [`crate::Dataset`]).
    pub fn push(&mut self, mut chunk: &[u8], on: &mut dyn FnMut(Event, u64, &mut Limits) -> Result<()>) -> Result<()> {
        while !chunk.is_empty() {
            match &mut self.frame {
                Frame::Ended => {
                    // Another stream follows the end-of-stream marker.
                    self.schema = None;
                    self.dictionaries.clear();
                    self.frame = Frame::Prefix { buf: [0; 8], read: 0 };
                }
                Frame::Prefix { buf, read } => {
                    if *read == 0 {
                        self.message_start = self.position;
                    }
                    // Read up to 4 bytes at a time: the marker, then the length.
                    let want = if *read < 4 { 4 - *read } else { 8 - *read };
                    let n = want.min(chunk.len());
                    buf[*read..*read + n].copy_from_slice(&chunk[..n]);
                    *read += n;
                    chunk = &chunk[n..];
                    self.position += n as u64;
                    let len_bytes = match *read {
                        4 if buf[..4] == CONTINUATION => continue,
                        4 => [buf[0], buf[1], buf[2], buf[3]], // legacy framing: no marker
                        8 => [buf[4], buf[5], buf[6], buf[7]],
                        _ => continue,
                    };
                    let prefix_len = *read;
                    let prefix = *buf;
                    let len = i32::from_le_bytes(len_bytes);
                    if len == 0 {
                        self.frame = Frame::Ended;
                        continue;
                    }
                    if len < 0 || len as u32 > self.limits.max_metadata_bytes {
                        return Err(self.err(format!(
                            "message metadata length {len} is out of range (limit {} bytes)",
                            self.limits.max_metadata_bytes
                        )));
                    }
                    self.pending = MutableBuffer::new(0);
                    self.reserve(prefix_len + len as usize)?;
                    self.pending.extend_from_slice(&prefix[..prefix_len]);
                    self.prefix_len = prefix_len;
                    self.meta_len = len as usize;
                    self.frame = Frame::Meta { len: len as usize };
                }
                Frame::Meta { len } => {
                    let len = *len;
                    let have = self.pending.len() - self.prefix_len;
                    let n = (len - have).min(chunk.len());
                    self.reserve(n)?;
                    self.pending.extend_from_slice(&chunk[..n]);
                    chunk = &chunk[n..];
                    self.position += n as u64;
                    if have + n < len {
                        continue;
                    }
                    let meta = &self.pending.as_slice()[self.prefix_len..];
                    let message = arrow_ipc::root_as_message(meta)
                        .map_err(|e| self.err(format!("invalid message metadata: {e}")))?;
                    let body = message.bodyLength();
                    let kind = message.header_type();
                    if body < 0 || body as u64 > self.limits.max_body_bytes {
                        return Err(self.err(format!(
                            "{} message declares a body of {body} bytes (limit {} bytes)",
                            kind_name(kind),
                            self.limits.max_body_bytes
                        )));
                    }
                    self.check_budget(body as u64)?;
                    let body = body as usize;
                    self.reserve(body)?;
                    self.frame = Frame::Body { len: body, kind };
                    if body == 0 {
                        self.complete(kind, on)?;
                    }
                }
                Frame::Body { len, kind } => {
                    let (len, kind) = (*len, *kind);
                    let have = self.pending.len() - self.prefix_len - self.meta_len;
                    let n = (len - have).min(chunk.len());
                    // Grows with the data (doubling), never ahead of it by more than
                    // RESERVE_AHEAD.
                    self.reserve(n)?;
                    self.pending.extend_from_slice(&chunk[..n]);
                    chunk = &chunk[n..];
                    self.position += n as u64;
                    if have + n == len {
                        self.complete(kind, on)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Makes room for `additional` bytes (at most [`RESERVE_AHEAD`] at once), refusing
    /// with an error instead of aborting when memory runs out.
    fn reserve(&mut self, additional: usize) -> Result<()> {
        let additional = additional.min(RESERVE_AHEAD);
        if self.pending.capacity() - self.pending.len() >= additional {
            return Ok(());
        }
        // Doubling, as MutableBuffer itself grows, but fallibly.
        let want = (self.pending.len() + additional).max(self.pending.capacity().saturating_mul(2));
        self.pending
            .try_reserve(want - self.pending.len())
            .or_else(|_| self.pending.try_reserve(additional))
            .map_err(|e| Error::Ingest { offset: self.message_start, message: format!("out of memory: {e}") })
    }

    fn complete(
        &mut self,
        kind: MessageHeader,
        on: &mut dyn FnMut(Event, u64, &mut Limits) -> Result<()>,
    ) -> Result<()> {
        let start = self.message_start;
        let what = kind_name(kind);
        let buffer: Buffer = std::mem::replace(&mut self.pending, MutableBuffer::new(0)).into();
        self.frame = Frame::Prefix { buf: [0; 8], read: 0 };
        let meta_end = self.prefix_len + self.meta_len;
        let meta =
            buffer.get(self.prefix_len..meta_end).ok_or_else(|| self.err(format!("{what} message is truncated")))?;
        let message =
            arrow_ipc::root_as_message(meta).map_err(|e| self.err(format!("invalid message metadata: {e}")))?;
        let body = buffer.slice_with_length(meta_end, buffer.len() - meta_end);
        let version = message.version();
        let fail =
            |e: arrow_schema::ArrowError| Error::Ingest { offset: start, message: format!("{what} message: {e}") };
        match kind {
            MessageHeader::Schema => {
                if self.schema.is_some() {
                    return Err(self.err("a second schema message in one stream".into()));
                }
                let fb =
                    message.header_as_schema().ok_or_else(|| self.err("schema message without a schema".into()))?;
                self.check_schema(fb)?;
                let schema: SchemaRef = Arc::new(arrow_ipc::convert::try_fb_to_schema(fb).map_err(fail)?);
                self.schema = Some(schema.clone());
                on(Event::Schema(schema), start, &mut self.limits)
            }
            MessageHeader::RecordBatch => {
                let schema =
                    self.schema.clone().ok_or_else(|| self.err(format!("{what} message before the schema")))?;
                let fb = message
                    .header_as_record_batch()
                    .ok_or_else(|| self.err("record batch message without a batch".into()))?;
                self.check_buffers(what, fb, &body)?;
                check_layout(schema.fields(), fb, &body, version).map_err(fail)?;
                let batch = read_record_batch(&body, fb, schema.clone(), &self.dictionaries, None, &version)
                    .map_err(|e| self.name_column(e, &body, fb, &schema, version))?;
                on(Event::Batch(batch), start, &mut self.limits)
            }
            MessageHeader::DictionaryBatch => {
                let schema =
                    self.schema.clone().ok_or_else(|| self.err(format!("{what} message before the schema")))?;
                let fb = message
                    .header_as_dictionary_batch()
                    .ok_or_else(|| self.err("dictionary message without a batch".into()))?;
                if let Some(data) = fb.data() {
                    self.check_buffers(what, data, &body)?;
                }
                let id = fb.id();
                let values = read_dictionary_values(&body, fb, &schema, &self.dictionaries, &version).map_err(fail)?;
                let values = match (fb.isDelta(), self.dictionaries.get(&id)) {
                    (false, _) => values,
                    (true, Some(existing)) => concat_strings(existing, &values).ok_or_else(|| {
                        self.err(format!("dictionary {id}: deltas are supported for string dictionaries only"))
                    })?,
                    (true, None) => {
                        return Err(self.err(format!("dictionary {id}: delta before the dictionary itself")))
                    }
                };
                self.dictionaries.insert(id, values);
                Ok(())
            }
            MessageHeader::NONE => Ok(()),
            other => Err(self.err(format!("{} messages are not supported in a stream", kind_name(other)))),
        }
    }

    /// Checks a batch's buffers against its body before arrow-ipc reads them: each must
    /// lie inside the body (arrow-ipc panics slicing one that does not), and what the
    /// compressed ones declare they decompress to (arrow-ipc allocates that up front,
    /// aborting when it cannot) must be possible for the codec given the compressed
    /// length, stay within the body limit and the budget, and be allocatable.
    fn check_buffers(&self, what: &str, batch: arrow_ipc::RecordBatch, body: &Buffer) -> Result<()> {
        let Some(buffers) = batch.buffers() else { return Ok(()) };
        let compressed = batch.compression().is_some();
        let ratio = match batch.compression().map(|c| c.codec()) {
            Some(arrow_ipc::CompressionType::LZ4_FRAME) => LZ4_MAX_RATIO,
            _ => ZSTD_MAX_RATIO,
        };
        let mut declared: u64 = 0;
        for (i, b) in buffers.iter().enumerate() {
            let start = usize::try_from(b.offset()).ok();
            let end = start.zip(usize::try_from(b.length()).ok()).and_then(|(o, l)| o.checked_add(l));
            let (Some(start), Some(end)) = (start, end.filter(|e| *e <= body.len())) else {
                return Err(self.err(format!(
                    "{what} message: buffer {i} (offset {}, length {}) lies outside the {}-byte body",
                    b.offset(),
                    b.length(),
                    body.len()
                )));
            };
            if compressed {
                // A compressed buffer starts with its uncompressed length (-1: not compressed).
                if let Some(prefix) = body.get(start..end).and_then(|b| b.get(..8)).and_then(|b| b.try_into().ok()) {
                    let n = u64::try_from(i64::from_le_bytes(prefix)).unwrap_or(0);
                    let most = ((end - start - 8) as u64).saturating_mul(ratio).saturating_add(RATIO_SLACK);
                    if n > most {
                        return Err(self.err(format!(
                            "{what} message: buffer {i} (at body offset {start}) declares {n} bytes after \
                             decompression, more than its {} compressed bytes can hold",
                            end - start - 8
                        )));
                    }
                    declared = declared.saturating_add(n);
                }
            }
        }
        if declared > self.limits.max_body_bytes {
            return Err(self.err(format!(
                "{what} message declares {declared} bytes after decompression (limit {} bytes)",
                self.limits.max_body_bytes
            )));
        }
        self.check_budget(declared)?;
        if declared > 0 {
            usize::try_from(declared).ok().and_then(|n| Vec::<u8>::new().try_reserve_exact(n).ok()).ok_or_else(
                || self.err(format!("{what} message: out of memory for {declared} bytes after decompression")),
            )?;
        }
        Ok(())
    }

    /// The error of a record batch arrow-ipc could not read, naming the first column
    /// that fails to read alone (say, a string column with invalid UTF-8). Runs only
    /// after a failure, so reading good batches costs nothing more.
    fn name_column(
        &self,
        e: ArrowError,
        body: &Buffer,
        fb: arrow_ipc::RecordBatch,
        schema: &SchemaRef,
        version: MetadataVersion,
    ) -> Error {
        // Each try walks every field: bounded to schemas of at most 1,000 columns.
        let columns = if schema.fields().len() <= 1_000 { schema.fields().len() } else { 0 };
        let column = (0..columns)
            .find(|i| read_record_batch(body, fb, schema.clone(), &self.dictionaries, Some(&[*i]), &version).is_err());
        let message = match column {
            Some(i) => format!("record batch message: column \"{}\" (#{i}): {e}", schema.field(i).name()),
            None => format!("record batch message: {e}"),
        };
        self.err(message)
    }

    /// Refuses a schema with more fields, deeper nesting or more custom metadata than
    /// the limits allow, before arrow-ipc builds it.
    fn check_schema(&self, fb: arrow_ipc::Schema) -> Result<()> {
        fn meta_bytes<'a>(kv: impl Iterator<Item = arrow_ipc::KeyValue<'a>>) -> usize {
            kv.map(|e| e.key().map_or(0, str::len) + e.value().map_or(0, str::len)).sum()
        }
        let limits = &self.limits;
        let mut fields = 0usize;
        let mut meta = meta_bytes(fb.custom_metadata().into_iter().flat_map(|v| v.iter()));
        // (field, depth), depth first.
        let too_many =
            || self.err(format!("the schema has more than {} fields (nested ones included)", limits.max_fields));
        if fb.fields().map_or(0, |v| v.len()) > limits.max_fields {
            return Err(too_many());
        }
        let mut stack: Vec<(arrow_ipc::Field, usize)> =
            fb.fields().into_iter().flat_map(|v| v.iter()).map(|f| (f, 1)).collect();
        while let Some((f, depth)) = stack.pop() {
            fields += 1;
            if fields + stack.len() + f.children().map_or(0, |v| v.len()) > limits.max_fields {
                return Err(too_many());
            }
            meta += meta_bytes(f.custom_metadata().into_iter().flat_map(|v| v.iter()));
            if depth > limits.max_depth {
                return Err(self.err(format!(
                    "field \"{}\" is nested {depth} levels deep (limit {})",
                    f.name().unwrap_or(""),
                    limits.max_depth
                )));
            }
            if meta > limits.max_custom_metadata_bytes {
                return Err(self.err(format!(
                    "the schema has more than {} bytes of custom metadata",
                    limits.max_custom_metadata_bytes
                )));
            }
            stack.extend(f.children().into_iter().flat_map(|v| v.iter()).map(|c| (c, depth + 1)));
        }
        Ok(())
    }

    /// Ends the stream: an error if it stopped inside a message.
    pub fn finish(&mut self) -> Result<()> {
        let result = match &self.frame {
            Frame::Ended | Frame::Prefix { read: 0, .. } => Ok(()),
            Frame::Prefix { read, .. } => {
                Err(self
                    .err(format!("stream ended at byte {} inside a message prefix ({read} of 8 bytes)", self.position)))
            }
            Frame::Meta { len } => Err(self.err(format!(
                "stream ended at byte {} inside a message's metadata ({} of {len} bytes)",
                self.position,
                self.pending.len() - self.prefix_len
            ))),
            Frame::Body { len, kind } => Err(self.err(format!(
                "stream ended at byte {} inside a {} message's body ({} of {len} bytes)",
                self.position,
                kind_name(*kind),
                self.pending.len() - self.prefix_len - self.meta_len
            ))),
        };
        self.reset();
        result
    }

    /// Forgets any partial message and starts a new stream at offset 0.
    pub fn reset(&mut self) {
        *self = Decoder::new(self.limits);
    }
}

/// Decodes a dictionary batch's values (as arrow-ipc's private `get_dictionary_values`).
fn read_dictionary_values(
    body: &Buffer,
    fb: arrow_ipc::DictionaryBatch,
    schema: &Schema,
    dictionaries: &HashMap<i64, ArrayRef>,
    version: &MetadataVersion,
) -> Result<ArrayRef, ArrowError> {
    let id = fb.id();
    #[allow(deprecated)] // the IPC reader itself still maps dictionary ids this way
    let fields = schema.fields_with_dict_id(id);
    let value_type = match fields.first().map(|f| f.data_type()) {
        Some(DataType::Dictionary(_, v)) => v.as_ref().clone(),
        _ => return Err(ArrowError::InvalidArgumentError(format!("dictionary id {id} not found in schema"))),
    };
    let one = Arc::new(Schema::new(vec![Field::new("", value_type, true)]));
    let data = fb.data().ok_or_else(|| ArrowError::ParseError("dictionary batch is missing its data".into()))?;
    check_layout(one.fields(), data, body, *version)?;
    let batch = RecordBatchDecoder::try_new(body, data, one, dictionaries, version)?.read_record_batch()?;
    batch.columns().first().cloned().ok_or_else(|| ArrowError::ParseError("dictionary batch has no column".into()))
}

/// Walks a batch's fields in the order arrow-ipc reads their nodes and buffers, and
/// refuses what arrow-ipc would panic on instead of reporting: a typed buffer (offsets,
/// views, dictionary keys, numbers) that is not a whole number of values, union type
/// ids or offsets shorter than the union, and fixed sizes below zero. Buffers must lie inside the body
/// (`Decoder::check_buffers`).
fn check_layout(
    fields: &Fields,
    batch: arrow_ipc::RecordBatch,
    body: &Buffer,
    version: MetadataVersion,
) -> Result<(), ArrowError> {
    let mut walk = Layout {
        body: body.as_slice(),
        compressed: batch.compression().is_some(),
        union_validity: version < MetadataVersion::V5,
        nodes: batch.nodes().map(|n| n.iter().map(|n| n.length()).collect()).unwrap_or_default(),
        buffers: batch.buffers().map(|b| b.iter().map(|b| (b.offset(), b.length())).collect()).unwrap_or_default(),
        variadic: batch.variadicBufferCounts().map(|v| v.iter().collect()).unwrap_or_default(),
        next: (0, 0, 0),
    };
    fields.iter().try_for_each(|f| walk.field(f.data_type())).map_err(ArrowError::IpcError)
}

/// State of [`check_layout`]: the batch's nodes, buffers and variadic counts, and the
/// index of the next of each.
struct Layout<'a> {
    body: &'a [u8],
    compressed: bool,
    union_validity: bool,
    nodes: Vec<i64>,
    buffers: Vec<(i64, i64)>,
    variadic: Vec<i64>,
    next: (usize, usize, usize),
}

impl Layout<'_> {
    /// The next node's length.
    fn node(&mut self) -> Result<usize, String> {
        let len = *self.nodes.get(self.next.0).ok_or("the batch has fewer nodes than its fields need")?;
        self.next.0 += 1;
        usize::try_from(len).map_err(|_| format!("node {} has a negative length {len}", self.next.0 - 1))
    }

    /// The next buffer's length (once decompressed), checked to hold whole values of
    /// `width` bytes (0: any length), and whether it starts aligned to `width`.
    fn buffer(&mut self, width: usize) -> Result<(usize, bool), String> {
        let i = self.next.1;
        let (offset, length) = *self.buffers.get(i).ok_or("the batch has fewer buffers than its fields need")?;
        self.next.1 += 1;
        let start = usize::try_from(offset).ok();
        let bytes = start
            .zip(usize::try_from(length).ok())
            .and_then(|(s, l)| self.body.get(s..s.checked_add(l)?))
            .ok_or_else(|| format!("buffer {i} lies outside the body"))?;
        let len = match bytes.get(..8).and_then(|p| p.try_into().ok()).map(i64::from_le_bytes) {
            _ if !self.compressed || bytes.is_empty() => bytes.len(),
            Some(-1) => bytes.len() - 8,
            Some(n) => usize::try_from(n).unwrap_or(0), // arrow-ipc refuses other negatives
            None => 0,                                  // and prefixes shorter than 8 bytes
        };
        if width > 1 && !len.is_multiple_of(width) {
            return Err(format!("buffer {i} holds {len} bytes, not a whole number of {width}-byte values"));
        }
        // Decompressed buffers are fresh allocations; arrow-ipc aligns most others itself.
        let aligned = self.compressed || (bytes.as_ptr() as usize).is_multiple_of(width.max(1));
        Ok((len, aligned))
    }

    fn field(&mut self, dt: &DataType) -> Result<(), String> {
        use DataType as D;
        let len = self.node()?;
        let validity = |w: &mut Self| w.buffer(0).map(|_| ());
        match dt {
            D::Null => {}
            D::Utf8 | D::Binary | D::LargeUtf8 | D::LargeBinary => {
                let width = if matches!(dt, D::Utf8 | D::Binary) { 4 } else { 8 };
                validity(self)?;
                self.buffer(width)?;
                self.buffer(0)?;
            }
            D::Utf8View | D::BinaryView => {
                let count = *self.variadic.get(self.next.2).ok_or("a view column without its variadic count")?;
                self.next.2 += 1;
                validity(self)?;
                self.buffer(16)?;
                for _ in 0..usize::try_from(count).map_err(|_| format!("negative variadic count {count}"))? {
                    self.buffer(0)?;
                }
            }
            D::List(f) | D::Map(f, _) | D::LargeList(f) => {
                validity(self)?;
                self.buffer(if matches!(dt, D::LargeList(_)) { 8 } else { 4 })?;
                self.field(f.data_type())?;
            }
            D::ListView(f) | D::LargeListView(f) => {
                let width = if matches!(dt, D::ListView(_)) { 4 } else { 8 };
                validity(self)?;
                self.buffer(width)?;
                self.buffer(width)?;
                self.field(f.data_type())?;
            }
            D::FixedSizeBinary(n) | D::FixedSizeList(_, n) if *n < 0 => {
                return Err(format!("{dt} declares a negative size"));
            }
            D::FixedSizeList(f, _) => {
                validity(self)?;
                self.field(f.data_type())?;
            }
            D::Struct(fields) => {
                validity(self)?;
                fields.iter().try_for_each(|f| self.field(f.data_type()))?;
            }
            D::RunEndEncoded(run_ends, values) => {
                self.field(run_ends.data_type())?;
                self.field(values.data_type())?;
            }
            D::Dictionary(key, _) => {
                validity(self)?;
                self.buffer(key.primitive_width().unwrap_or(0))?;
            }
            D::Union(fields, mode) => {
                if self.union_validity {
                    validity(self)?;
                }
                if self.buffer(1)?.0 < len {
                    return Err(format!("union type ids are shorter than the union's {len} rows"));
                }
                if *mode == UnionMode::Dense {
                    let (bytes, aligned) = self.buffer(4)?;
                    if len.checked_mul(4).is_none_or(|n| bytes < n) || !aligned {
                        return Err(format!("union offsets do not hold the union's {len} rows, aligned"));
                    }
                }
                fields.iter().try_for_each(|(_, f)| self.field(f.data_type()))?;
            }
            other => {
                validity(self)?;
                // Widths up to 8 only: writers may pad wider values' buffers to 8 bytes.
                self.buffer(other.primitive_width().filter(|w| *w <= 8).unwrap_or(0))?;
            }
        }
        Ok(())
    }
}

/// `a` followed by `b`, for string arrays of the same type; `None` for other types.
fn concat_strings(a: &ArrayRef, b: &ArrayRef) -> Option<ArrayRef> {
    if a.data_type() != b.data_type() {
        return None;
    }
    Some(match a.data_type() {
        DataType::Utf8 => {
            Arc::new(a.as_string::<i32>().iter().chain(b.as_string::<i32>().iter()).collect::<StringArray>())
        }
        DataType::LargeUtf8 => {
            Arc::new(a.as_string::<i64>().iter().chain(b.as_string::<i64>().iter()).collect::<LargeStringArray>())
        }
        DataType::Utf8View => {
            Arc::new(a.as_string_view().iter().chain(b.as_string_view().iter()).collect::<StringViewArray>())
        }
        _ => return None,
    })
}
