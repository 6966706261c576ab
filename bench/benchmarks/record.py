"""What a benchmark measured, kept as data: every figure it prints also goes into one JSON record
and one CSV (a row per measurement, the environment in every row, as timm's benchmark CSVs), so
the README's figures can be regenerated and compared across machines.

Files: `<out>/<benchmark>-<UTC time>.json` (arguments, environment, results, the printed lines)
and `.csv` beside it; `--out` of each benchmark, `results/benchmarks/` by default.
"""

from __future__ import annotations

import csv
import io
import json
import os
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from bench import runs

DEFAULT_DIR = Path("results/benchmarks")


def cpu_model() -> str:
    """The processor's model name (Linux /proc/cpuinfo), else what `platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def environment(device: torch.device | str) -> dict[str, Any]:
    """Where the figures were measured: versions, processor, threads, accelerator, commit."""
    device = torch.device(device)
    sha, dirty = runs.git_state()
    return {
        "time_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "git_sha": sha,
        "git_dirty": dirty,
    }


class Record:
    """Collects a benchmark's printed lines and measurements; `write` stores them."""

    def __init__(self, benchmark: str, arguments: dict[str, Any], device: torch.device | str) -> None:
        self.benchmark = benchmark
        self.arguments = {k: (str(v) if isinstance(v, Path) else v) for k, v in arguments.items()}
        self.environment = environment(device)
        self.results: list[dict[str, Any]] = []
        self.printed: list[str] = []

    def say(self, line: str) -> None:
        print(line)
        self.printed.append(line)

    def add(self, **measurement: Any) -> None:
        self.results.append(measurement)

    def stem(self, folder: Path | str) -> Path:
        """`<folder>/<benchmark>-<UTC start time>`: the record's path without its suffix."""
        stamp = self.environment["time_utc"].replace(":", "").replace("+0000", "Z")
        return Path(folder) / f"{self.benchmark}-{stamp}"

    def write(self, folder: Path | str, announce: bool = True) -> Path:
        """Write the JSON record and its CSV (each atomically; a later call rewrites both with
        what was added since); return the JSON's path (printed to stderr when `announce`)."""
        Path(folder).mkdir(parents=True, exist_ok=True)
        stem = self.stem(folder)
        record = {"benchmark": self.benchmark, "arguments": self.arguments,
                  "environment": self.environment, "results": self.results, "printed": self.printed}
        runs.write_text(stem.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
        rows = [{"benchmark": self.benchmark, **r, **{f"arg_{k}": v for k, v in self.arguments.items()},
                 **self.environment} for r in self.results]
        columns = list(dict.fromkeys(key for row in rows for key in row))
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        runs.write_text(stem.with_suffix(".csv"), text.getvalue())
        if announce:
            print(f"figures written to {stem.with_suffix('.json')} and .csv", file=sys.stderr)
        return stem.with_suffix(".json")
