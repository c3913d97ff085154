"""Figures for the results table: accuracy against throughput, step time against length.

Both functions take the rows of results.table (dicts with task, mixer, status, seq_len and the
summary.json values), use only completed runs with the values they plot, and return False
without writing a file when there is nothing to plot. They draw on a matplotlib Figure
directly, without pyplot, so no display or global backend is involved.
"""

import math
import statistics
from collections.abc import Mapping, Sequence

from matplotlib.figure import Figure

_MIXER_ORDER = ("tnn", "ski", "sparse_ski", "interp", "fd")
_TASK_MARKERS = {
    "listops": "o",
    "text": "s",
    "retrieval": "D",
    "image": "^",
    "pathfinder": "v",
    "pathx": "P",
}


def _value(row: Mapping[str, object], key: str) -> float | None:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _color(mixer: object) -> str:
    index = _MIXER_ORDER.index(mixer) if mixer in _MIXER_ORDER else len(_MIXER_ORDER)
    return f"C{index % 10}"


def plot_accuracy_vs_throughput(rows: Sequence[Mapping[str, object]], path: str) -> bool:
    """Plots test accuracy (%) against training examples/s, one point per completed run."""
    points = []
    for row in rows:
        accuracy = _value(row, "test_accuracy")
        speed = _value(row, "train_examples_per_sec")
        if row.get("status") == "completed" and accuracy is not None and speed:
            points.append((speed, 100 * accuracy, row))
    if not points:
        return False

    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.add_subplot()
    labelled = set()
    for speed, accuracy, row in points:
        mixer, task = row.get("mixer"), row.get("task")
        label = f"{mixer} / {task}"
        axes.scatter(
            speed,
            accuracy,
            color=_color(mixer),
            marker=_TASK_MARKERS.get(task, "X"),
            s=50,
            label=None if label in labelled else label,
        )
        labelled.add(label)
    speeds = [speed for speed, _, _ in points]
    if max(speeds) > 10 * min(speeds):
        axes.set_xscale("log")
    axes.set_xlabel("training throughput (examples/s)")
    axes.set_ylabel("test accuracy (%)")
    axes.set_title("Test accuracy against training throughput")
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small", title="mixer / task")
    figure.savefig(path, dpi=120)
    return True


def plot_step_time_vs_length(rows: Sequence[Mapping[str, object]], path: str) -> bool:
    """Plots the median training step time against seq_len, one line per task and mixer.

    Writes the figure only when some task and mixer have completed runs at two or more lengths.
    """
    times = {}
    for row in rows:
        seq_len = _value(row, "seq_len")
        seconds = _value(row, "train_step_seconds")
        if row.get("status") == "completed" and seq_len and seconds is not None:
            times.setdefault((row.get("task"), row.get("mixer")), {}).setdefault(
                seq_len, []
            ).append(seconds)
    lines = {key: by_length for key, by_length in times.items() if len(by_length) >= 2}
    if not lines:
        return False

    figure = Figure(figsize=(7, 5), layout="constrained")
    axes = figure.add_subplot()
    all_lengths = set()
    for (task, mixer), by_length in sorted(lines.items(), key=lambda item: str(item[0])):
        lengths = sorted(by_length)
        all_lengths.update(lengths)
        milliseconds = [1000 * statistics.median(by_length[length]) for length in lengths]
        axes.plot(
            lengths,
            milliseconds,
            color=_color(mixer),
            marker=_TASK_MARKERS.get(task, "X"),
            label=f"{mixer} / {task}",
        )
    axes.set_xscale("log", base=2)
    axes.set_xticks(sorted(all_lengths), [f"{length:.0f}" for length in sorted(all_lengths)])
    axes.minorticks_off()
    axes.set_yscale("log")
    axes.set_xlabel("sequence length N (padded)")
    axes.set_ylabel("median training step time (ms)")
    axes.set_title("Training step time against sequence length")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize="small", title="mixer / task")
    figure.savefig(path, dpi=120)
    return True
