"""The run folder's records, each defined once: what a file in a run folder holds, and the only
code that writes or reads it. The folder's layout (its file names) is `bench.runs.RunFolder`.

- `checkpoint`: the training checkpoint (format version checked on load).
- `rows`: the per-image evaluation rows (eval/rows.csv): columns, key, writer, reader, shard merge.
- `manifest`: the run manifest (manifest.json): every field typed and checked on read; the run's
  life (`bench.runs.open_run`, `finish_run`, `fail_run`, `run_status`) writes it only as this record.
- `validation`, `divergence`: validation during training (validation.csv) and the signs of
  divergence training saw (divergence.csv).
- `run_folder`: a finished run folder read as one typed record (what the report collects).
- `reading`: the one place a record file is read back; any decode, parse, missing-key or type
  error is one line naming the file, what is wrong and what to do.
"""
