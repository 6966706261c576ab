"""The HTML report: `build_report(run_dirs, out_dir)` writes one self-contained report.html
(tables beside the paper's numbers, plots, qualitative samples and the protocol)."""

from bench.report.build import build_report

__all__ = ["build_report"]
