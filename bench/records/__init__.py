"""The run folder's records, each defined once: what a file in a run folder holds, and the only
code that writes or reads it. The folder's layout (its file names) is `bench.runs.RunFolder`.

- `checkpoint`: the training checkpoint (format version checked on load).
- `rows`: the per-image evaluation rows (eval/rows.csv): columns, key, writer, reader, shard merge.
- `run_folder`: a finished run folder read as one typed record (what the report collects).

The manifest (manifest.json) is still written and read by `bench.runs` (new_manifest,
finish_run, fail_run, run_status).
"""
