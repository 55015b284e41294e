"""The demo stream re-encoded the ways other servers send strings, for bench/ingest.mjs.

    python3 bench/encodings.py IN.arrow OUT-dict.arrow OUT-view.arrow

dict: every string column with fewer distinct values than a tenth of its rows becomes a
dictionary (ClickHouse's LowCardinality(String) arrives so); ids stay plain strings.
view: every string column as Utf8View (what DuckDB and Polars write).
"""
import sys

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as ipc


def main(src, out_dict, out_view):
    with ipc.open_stream(src) as r:
        table = r.read_all()
    cols_dict, cols_view = [], []
    for field, col in zip(table.schema, table.columns):
        if pa.types.is_string(field.type):
            few = pc.count_distinct(col).as_py() * 10 < len(table)
            cols_dict.append(pc.dictionary_encode(col).combine_chunks() if few else col)
            cols_view.append(col.cast(pa.string_view()))
        else:
            cols_dict.append(col)
            cols_view.append(col)
    for cols, out in ((cols_dict, out_dict), (cols_view, out_view)):
        t = pa.table(cols, names=table.column_names)
        with ipc.new_stream(out, t.schema) as w:
            for batch in t.to_batches(max_chunksize=65536):
                w.write_batch(batch)


if __name__ == "__main__":
    main(*sys.argv[1:4])
