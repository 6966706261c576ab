"""The run folder's records, each defined once: what every file in a run folder holds, and the
only code that writes or reads it.

- `checkpoint`: the training checkpoint (format version checked on load).
- `manifest`: the run manifest (manifest.json): who ran what, where, with which data.
- `rows`: the per-image evaluation rows (eval/rows.csv): columns, key, writer, reader, shard merge.
- `run_folder`: a finished run folder read as one typed record (what the report uses).
"""
