"""Figures for the HTML report, each returned as PNG bytes or a base64 data URI.

- `bucket_figure`: metric versus irregular-mask bucket for one dataset (ours solid, paper dashed).
- `loss_figure`: a run's training losses from losses.csv (one panel per loss name).
- `learning_curve_figure`: validation PSNR against step for a dataset's trained runs, with the
  training-free references (and the paper's number) as horizontal lines.
- `sample_grids`: qualitative grids like the paper's Figures 5, 6 and A1: ground truth, masked
  input and each run's output on the same image and mask, read from eval/samples.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from bench.data.masks import BUCKET_LABELS, EVAL_SETTINGS  # noqa: E402
from bench import methods  # noqa: E402
from bench.tables import METHOD_ORDER, METRICS, SOURCE_SAMPLE  # noqa: E402

OTHER_COLOUR = "#555555"
SAMPLE_FOLDERS = {s.folder: s for s in EVAL_SETTINGS}  # sample folder → its evaluation setting
LOSS_PANELS_MAX = 12


def png_bytes(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    plt.close(figure)
    return buffer.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _colour(method: str) -> str:
    return methods.REGISTRY[method].colour if method in methods.REGISTRY else OTHER_COLOUR


def bucket_figure(table: pd.DataFrame, title: str) -> bytes:
    """Three panels (L1, PSNR, MS-SSIM) against bucket for one per-bucket table's rows:
    each of our runs a solid line, each paper method a dashed line in the same colour."""
    buckets = [b for b in BUCKET_LABELS if b in set(table["bucket"])]
    x = np.arange(len(buckets))
    position = {b: i for i, b in enumerate(buckets)}
    figure, axes = plt.subplots(1, len(METRICS), figsize=(4.2 * len(METRICS), 3.6), layout="constrained")
    variant = table["l1_variant"].iloc[0] if len(table) else ""
    def line(ax, rows: pd.DataFrame, column: str, style: str, **kwargs) -> None:
        rows = rows.sort_values("bucket", key=lambda col: col.map(position))
        ax.plot(rows["bucket"].map(position), rows[column], style, **kwargs)

    for ax, (metric, (_, higher, label)) in zip(axes, METRICS.items()):
        paper = table.dropna(subset=[f"{metric}_paper"]).drop_duplicates(["method", "bucket"])
        for method, rows in paper.groupby("method", sort=False):
            line(ax, rows, f"{metric}_paper", "--", color=_colour(method), alpha=0.75,
                 label=f"{method} (paper)")
        ours = table.dropna(subset=[f"{metric}_ours"])
        for (method, run_id, source), rows in ours.groupby(["method", "run_id", "source"], sort=False):
            suffix = " sample proxy" if source == SOURCE_SAMPLE else ""
            line(ax, rows, f"{metric}_ours", "-o", color=_colour(method), markersize=3.5,
                 label=f"{method} [{run_id}]{suffix}")
        ax.set_xticks(x, buckets, rotation=30, fontsize=7)
        ax.set_title(f"{label} {'↑' if higher else '↓'}" + (f" ({variant})" if metric == "l1" else ""),
                     fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.suptitle(title, fontsize=10)
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), fontsize=7)
    return png_bytes(figure)


def loss_figure(losses: pd.DataFrame, title: str) -> bytes:
    """One small panel per loss name (the first 12 by name): raw values and a moving mean."""
    names = sorted(losses["name"].unique())[:LOSS_PANELS_MAX]
    columns = min(4, len(names))
    rows = -(-len(names) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.7 * columns, 2.1 * rows), squeeze=False,
                                layout="constrained")
    for ax, name in zip(axes.flat, names):
        series = losses[losses["name"] == name].sort_values("step")
        ax.plot(series["step"], series["value"], color="#9ab", linewidth=0.8)
        window = max(1, len(series) // 25)
        if window > 1:
            ax.plot(series["step"], series["value"].rolling(window, min_periods=1).mean(),
                    color="#123", linewidth=1.4)
        ax.set_title(name, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names):]:
        ax.axis("off")
    figure.suptitle(title, fontsize=10)
    return png_bytes(figure)


@dataclass(frozen=True)
class Level:
    """A horizontal line of a learning-curve figure: a mean PSNR per validation setting name."""

    label: str
    method: str | None  # its colour; None: black (the paper's number)
    values: dict[str, float]
    style: str = ":"


def learning_curve_figure(curves: list[tuple[str, str, pd.DataFrame]], levels: list[Level],
                          title: str) -> bytes:
    """Validation PSNR against step, one panel per validation setting: each trained run's
    validation.csv a line (`curves`: label, method, its rows), each `levels` entry (the
    training-free references, the paper's number) a horizontal line across the panel."""
    names = {name for _, _, frame in curves for name in frame["setting"]}
    settings = [s for s in EVAL_SETTINGS if s.name in names]
    figure, axes = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 3.6), squeeze=False,
                                layout="constrained")
    for ax, setting in zip(axes[0], settings):
        for label, method, frame in curves:
            rows = frame[frame["setting"] == setting.name].sort_values("step")
            ax.plot(rows["step"], rows["psnr"], "-o", color=_colour(method), markersize=3, label=label)
        for level in levels:
            if setting.name in level.values:
                ax.axhline(level.values[setting.name], linestyle=level.style,
                           color=_colour(level.method) if level.method else "#000000",
                           linewidth=1.3, label=level.label)
        ax.set_title(f"{setting.label}: PSNR ↑ (dB)", fontsize=9)
        ax.set_xlabel("training step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.suptitle(title, fontsize=10)
    if handles:
        figure.legend(handles, labels, loc="outside lower center", ncol=min(4, len(labels)), fontsize=7)
    return png_bytes(figure)


@dataclass(frozen=True)
class SampleSource:
    """One column of a qualitative grid: a run's eval/samples folder."""

    label: str
    method: str
    samples_dir: Path


@dataclass
class GridRow:
    label: str
    cells: list[str | None]  # data URIs: truth, input, then one per source (None: missing)
    note: str = ""


@dataclass
class SampleGrid:
    title: str
    headers: list[str]
    rows: list[GridRow] = field(default_factory=list)


def folder_label(folder: str) -> str:
    return SAMPLE_FOLDERS[folder].label


def _image_ids(folder: Path) -> list[str]:
    suffix = "_truth.png"
    return sorted(str(p.relative_to(folder))[: -len(suffix)] for p in folder.rglob(f"*{suffix}"))


def _read(path: Path) -> tuple[bytes, np.ndarray] | None:
    if not path.is_file():
        return None
    data = path.read_bytes()
    with Image.open(io.BytesIO(data)) as image:
        return data, np.asarray(image.convert("RGB"))


def _grid_row(label: str, folder: str, image_id: str, sources: list[SampleSource]) -> GridRow | None:
    reference = None
    for source in sources:
        truth = _read(source.samples_dir / folder / f"{image_id}_truth.png")
        given = _read(source.samples_dir / folder / f"{image_id}_input.png")
        if truth and given:
            reference = (truth, given)
            break
    if reference is None:
        return None
    (truth_png, _), (input_png, input_pixels) = reference
    cells: list[str | None] = [data_uri(truth_png), data_uri(input_png)]
    mismatched = []
    for source in sources:
        output = _read(source.samples_dir / folder / f"{image_id}_output.png")
        given = _read(source.samples_dir / folder / f"{image_id}_input.png")
        if given is not None and not np.array_equal(given[1], input_pixels):
            mismatched.append(source.label)
        cells.append(data_uri(output[0]) if output else None)
    note = f"different input (mask) in: {', '.join(mismatched)}" if mismatched else ""
    return GridRow(label, cells, note)


def sample_grids(sources: list[SampleSource], title: str, *, centre_images: int = 2,
                 only: set[str] | None = None) -> list[SampleGrid]:
    """Grids for one dataset: the first `centre_images` centre-mask images (Figures 5 and 6),
    then the first image of each irregular bucket (Figure A1), among the image ids in `only`
    when given. Columns follow METHOD_ORDER."""
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    sources = sorted(sources, key=lambda s: (rank.get(s.method, len(rank)), s.label))
    headers = ["ground truth", "input", *(s.label for s in sources)]

    def ids(folder: str) -> list[str]:
        found = set()
        for source in sources:
            if (source.samples_dir / folder).is_dir():
                found |= set(_image_ids(source.samples_dir / folder))
        return sorted(found if only is None else found & only)

    centre = SampleGrid(f"{title}: centre square mask", headers)
    centre_folder, *irregular_folders = SAMPLE_FOLDERS
    for image_id in ids(centre_folder)[:centre_images]:
        row = _grid_row(image_id, centre_folder, image_id, sources)
        if row:
            centre.rows.append(row)
    irregular = SampleGrid(f"{title}: irregular masks, one image per bucket", headers)
    for folder in irregular_folders:
        found = ids(folder)
        row = _grid_row(f"{folder_label(folder)}: {found[0]}", folder, found[0], sources) if found else None
        if row:
            irregular.rows.append(row)
    return [grid for grid in (centre, irregular) if grid.rows]
