"""Figures for the HTML report, each returned as PNG bytes or a base64 data URI.

- `headline_figure`: each run's PSNR with its 95% CI per dataset and mask setting, and the
  paper's value where it is comparable (the report's first picture).
- `bucket_figure`: metric versus irregular-mask bucket for one dataset (ours solid, paper dashed).
- `loss_figure`: a run's training losses from losses.csv (one panel per logged name that
  changes; constant ones, such as a fixed learning rate, become one line of text), its first
  sign of divergence (bench.divergence) a vertical line.
- `sample_grid`: a qualitative grid like the paper's Figures 5, 6 and A1 for one dataset (or
  sample-set domain): ground truth, masked input and each run's output on the same image and
  mask, one row per mask setting (centre, the smallest and the largest bucket), from eval/samples.
- `learning_curve_figure`: validation PSNR against step for a dataset's trained runs, with the
  training-free references (and the paper's number) as horizontal lines and each run's first
  sign of divergence as a labelled vertical line.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (after choosing the non-interactive backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from bench.data.masks import BUCKET_LABELS, EVAL_SETTINGS  # noqa: E402
from bench import methods  # noqa: E402
from bench.records.manifest import supplied  # noqa: E402
from bench.tables import METHOD_ORDER, METRICS, SOURCE_SAMPLE  # noqa: E402

OTHER_COLOUR = "#555555"
SUPPLIED_COLOUR = "#d4a017"  # runs of supplied outputs: no built-in's nor a plugin's colour
SAMPLE_FOLDERS = {s.folder: s for s in EVAL_SETTINGS}  # sample folder → its evaluation setting
LOSS_PANELS_MAX = 12
DIVERGED_COLOUR = "#c62828"


def png_bytes(figure: plt.Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96)
    plt.close(figure)
    return buffer.getvalue()


def legend_below(figure: plt.Figure, handles: list, labels: list[str], columns: int = 4) -> None:
    """The figure's legend under its panels in as many columns (at most `columns`) as fit the
    figure's width (a wider one is cut at both edges when saved, its outer entries lost), the
    figure made taller by the legend's height so that the panels keep theirs."""
    renderer = figure.canvas.get_renderer()
    for ncol in range(min(columns, len(labels)), 0, -1):
        legend = figure.legend(handles, labels, loc="outside lower center", ncol=ncol, fontsize=7)
        box = legend.get_window_extent(renderer)
        if ncol == 1 or box.width <= figure.bbox.width:
            break
        legend.remove()
    figure.set_figheight(figure.get_figheight() + box.height / figure.dpi)
    if box.width > figure.bbox.width:  # one label wider than the figure: widen it
        figure.set_figwidth(box.width / figure.dpi + 0.2)


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _training_free(method: str) -> bool:
    """A registered training-free reference (supplied outputs and unknown names are not)."""
    entry = methods.REGISTRY.get(method)
    return bool(entry and entry.training_free)


def _colour(method: str) -> str:
    """A registered method's colour; supplied outputs' own (even if a plugin of their NAME is
    installed later); OTHER_COLOUR for any other name."""
    if supplied(method):
        return SUPPLIED_COLOUR
    return methods.REGISTRY[method].colour if method in methods.REGISTRY else OTHER_COLOUR


def headline_figure(found: pd.DataFrame) -> bytes:
    """One panel per dataset: each run's mean PSNR (dot) and 95% CI (bar) per mask setting, the
    training-free references as hollow squares with a dotted line across the setting (the floor
    the trained runs are read against), and the paper's value (hollow diamond) where
    `found["paper"]` holds one (`bench.report.headline`)."""
    datasets = list(dict.fromkeys(found["dataset"]))
    settings = list(dict.fromkeys(found["setting"]))
    runs = found.drop_duplicates(["method", "run_id"])
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    runs = sorted(zip(runs["method"], runs["run_id"]), key=lambda r: (rank.get(r[0], len(rank)), r[1]))
    names = pd.Series([method for method, _ in runs]).value_counts()  # a run id only where a method repeats
    columns = min(4, len(datasets))
    rows = -(-len(datasets) // columns)
    legend_width = 3.2 if columns < 3 else 0.0  # a narrow figure has its legend on the right
    figure, axes = plt.subplots(rows, columns, figsize=(3.1 * columns + legend_width, 2.9 * rows + 0.5),
                                squeeze=False, layout="constrained", sharey=True)
    width = 0.8 / max(1, len(runs))
    for ax, dataset in zip(axes.flat, datasets):
        here = found[found["dataset"] == dataset]
        for k, (method, run_id) in enumerate(runs):
            mine = here[(here["method"] == method) & (here["run_id"] == run_id)]
            slot = mine["setting"].map(settings.index).to_numpy()
            x = slot - 0.4 + (k + 0.5) * width
            free = _training_free(method)
            if free:  # a floor: its level drawn across the whole setting, behind the trained runs
                ax.hlines(mine["psnr"], slot - 0.45, slot + 0.45, colors=_colour(method), linestyles=":",
                          linewidth=1.2, zorder=1)
            ax.errorbar(x, mine["psnr"], yerr=[mine["psnr"] - mine["low"], mine["high"] - mine["psnr"]],
                        fmt="s" if free else "o", markersize=4, capsize=2, color=_colour(method),
                        markerfacecolor="none" if free else _colour(method),
                        label=(method if names[method] == 1 else f"{method} [{run_id}]")
                        + (" (training-free, dotted)" if free else ""))
            paper = mine.dropna(subset=["paper"])
            ax.plot(paper["setting"].map(settings.index).to_numpy() - 0.4 + (k + 0.5) * width, paper["paper"],
                    "D", markersize=6, markerfacecolor="none", color=_colour(method))
        ax.set_xticks(range(len(settings)), [s.replace(", ", "\n", 1) for s in settings], fontsize=7)
        ax.set_xlim(-0.5, len(settings) - 0.5)
        ax.set_title(dataset, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[:, 0]:
        ax.set_ylabel("PSNR (dB) ↑", fontsize=8)
    for ax in list(axes.flat)[len(datasets):]:
        ax.axis("off")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if found["paper"].notna().any():
        handles.append(plt.Line2D([], [], marker="D", linestyle="none", markerfacecolor="none", color="#333"))
        labels.append("paper's value (centre)")
    if legend_width:
        figure.legend(handles, labels, loc="outside right upper", fontsize=7)
    else:
        legend_below(figure, handles, labels)
    return png_bytes(figure)


def bucket_figure(table: pd.DataFrame, title: str, paper_lines: bool = True) -> bytes:
    """Three panels (L1, PSNR, MS-SSIM) against bucket for one per-bucket table's rows:
    each of our runs a solid line, each paper method a dashed line in the same colour (only when
    `paper_lines`: the report leaves them out of a table with no comparable row)."""
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
        paper = paper if paper_lines else paper.iloc[:0]
        for method, rows in paper.groupby("method", sort=False):
            line(ax, rows, f"{metric}_paper", "--", color=_colour(method), alpha=0.75,
                 label=f"{method} (paper)")
        ours = table.dropna(subset=[f"{metric}_ours"])
        for (method, run_id, source), rows in ours.groupby(["method", "run_id", "source"], sort=False):
            suffix = " sample stand-in" if source == SOURCE_SAMPLE else ""
            line(ax, rows, f"{metric}_ours", "-o", color=_colour(method), markersize=3.5,
                 label=f"{method} [{run_id}]{suffix}")
        ax.set_xticks(x, buckets, rotation=30, fontsize=7)
        ax.set_title(f"{label} {'↑' if higher else '↓'}" + (f" ({variant})" if metric == "l1" else ""),
                     fontsize=9)
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    figure.suptitle(title, fontsize=10)
    if handles:
        legend_below(figure, handles, labels)
    return png_bytes(figure)


@dataclass(frozen=True)
class LossFigure:
    """A run's loss panels (None when every logged value is constant) and what they show."""

    png: bytes | None
    caption: str


def loss_figure(losses: pd.DataFrame, title: str, diverged_at: int | None = None) -> LossFigure:
    """One small panel per logged name that changes (the first 12 by name): the values as
    logged and, where there are at least 50 of them, a moving mean over 1/25 of them; names with
    one value throughout (a fixed learning rate, a single log) are given in the caption instead.
    `diverged_at`: the step of the run's first sign of divergence, a red vertical line."""
    constant = {name: series["value"].iloc[0] for name, series in losses.groupby("name")
                if series["value"].nunique() == 1}
    names = sorted(set(losses["name"]) - set(constant))[:LOSS_PANELS_MAX]
    windows = []
    png = None
    if names:
        columns = min(4, len(names))
        rows = -(-len(names) // columns)
        figure, axes = plt.subplots(rows, columns, figsize=(2.7 * columns, 2.1 * rows), squeeze=False,
                                    layout="constrained")
        for ax, name in zip(axes.flat, names):
            series = losses[losses["name"] == name].sort_values("step")
            ax.plot(series["step"], series["value"], color="#9ab", linewidth=0.8)
            window = len(series) // 25
            if window > 1:
                windows.append(window)
                ax.plot(series["step"], series["value"].rolling(window, min_periods=1).mean(),
                        color="#123", linewidth=1.4)
            if diverged_at is not None:
                ax.axvline(diverged_at, color=DIVERGED_COLOUR, linestyle="--", linewidth=1)
            ax.set_title(name, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(names):]:
            ax.axis("off")
        figure.suptitle(title, fontsize=10)
        png = png_bytes(figure)
    if not names:
        drawn = ""
    elif windows:
        span = str(min(windows)) if min(windows) == max(windows) else f"{min(windows)}–{max(windows)}"
        drawn = f"values as logged (light) and a moving mean over {span} logged values (dark)"
    else:
        drawn = "values as logged (too few points for a moving mean)"
    flat = ", ".join(f"{name} = {value:.4g}" for name, value in sorted(constant.items()))
    marked = f"red dashed line: first sign of divergence (step {diverged_at})" if diverged_at else ""
    caption = "; ".join(part for part in (drawn, marked, f"one value throughout, not drawn: {flat}" if flat else "")
                        if part)
    return LossFigure(png, f"{title}: {caption}, from losses.csv.")


@dataclass(frozen=True)
class Level:
    """A horizontal line of a learning-curve figure: a mean PSNR per validation setting name."""

    label: str
    method: str | None  # its colour; None: black (the paper's number)
    values: dict[str, float]
    style: str = ":"


def learning_curve_figure(curves: list[tuple[str, str, pd.DataFrame]], levels: list[Level],
                          title: str, diverged: Mapping[str, int] | None = None) -> bytes:
    """Validation PSNR against step, one panel per validation setting: each trained run's
    validation.csv a line (`curves`: label, method, its rows), each `levels` entry (the
    training-free references, the paper's number) a horizontal line across the panel, and for
    each curve label in `diverged` a dashed vertical line in its colour at the step of its first
    sign of divergence, labelled."""
    diverged = diverged or {}
    names = {name for _, _, frame in curves for name in frame["setting"]}
    settings = [s for s in EVAL_SETTINGS if s.name in names]
    figure, axes = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 3.6), squeeze=False,
                                layout="constrained")
    for ax, setting in zip(axes[0], settings):
        for label, method, frame in curves:
            rows = frame[frame["setting"] == setting.name].sort_values("step")
            ax.plot(rows["step"], rows["psnr"], "-o", color=_colour(method), markersize=3, label=label)
            if label in diverged:
                ax.axvline(diverged[label], color=_colour(method), linestyle="--", linewidth=1.2)
                late = diverged[label] > (rows["step"].min() + rows["step"].max()) / 2  # label left of the line
                ax.annotate(f"diverged (step {diverged[label]})", (diverged[label], 1),
                            xycoords=("data", "axes fraction"), xytext=(-3 if late else 3, -10),
                            textcoords="offset points", ha="right" if late else "left",
                            fontsize=7, color=_colour(method))
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
        legend_below(figure, handles, labels)
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
    key: str  # the dataset, or the sample-set domain, it shows
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


def sample_grid(sources: list[SampleSource], title: str, key: str, *, images: int = 2,
                only: set[str] | None = None) -> SampleGrid | None:
    """One grid for a dataset (or a sample-set domain: `only` its image ids): a row per mask
    setting saved (the centre square, the smallest and the largest irregular bucket) and image,
    up to `images` images spread over those saved; columns follow METHOD_ORDER. None if no
    sample was saved."""
    rank = {m: i for i, m in enumerate(METHOD_ORDER)}
    sources = sorted(sources, key=lambda s: (rank.get(s.method, len(rank)), s.label))
    grid = SampleGrid(title, key, ["ground truth", "input", *(s.label for s in sources)])

    def ids(folder: str) -> list[str]:
        found = set()
        for source in sources:
            if (source.samples_dir / folder).is_dir():
                found |= set(_image_ids(source.samples_dir / folder))
        return sorted(found if only is None else found & only)

    saved = [folder for folder in SAMPLE_FOLDERS if ids(folder)]
    centre = [f for f in saved if SAMPLE_FOLDERS[f].bucket_index is None]
    irregular = [f for f in saved if SAMPLE_FOLDERS[f].bucket_index is not None]
    for folder in centre + list(dict.fromkeys(irregular[:1] + irregular[-1:])):  # smallest, largest
        found = ids(folder)
        count = min(images, len(found))
        for image_id in (found[j * len(found) // count] for j in range(count)):
            row = _grid_row(f"{folder_label(folder)} · {image_id}", folder, image_id, sources)
            if row:
                grid.rows.append(row)
    return grid if grid.rows else None
