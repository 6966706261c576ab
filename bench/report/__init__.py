"""The HTML report in two steps: `collect(run_dirs, out_dir)` writes the report folder
(results.json, tables/*.csv, copied samples and losses); `render(out_dir)` writes one
self-contained report.html from that folder alone. `build_report` does both."""

from bench.report.build import build_report, render
from bench.report.results import collect

__all__ = ["build_report", "collect", "render"]
