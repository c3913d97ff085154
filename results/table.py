"""Builds the side-by-side table of a sweep from its workdirs, with the papers' numbers beside it.

  python -m results.table ROOT [--out PATH] [--wandb_mode=offline]

ROOT is searched recursively for summary.json (written by the trainer) and failed.json (written
by launch.sweep for a run that failed). The program writes PATH.md and PATH.csv (PATH defaults
to ROOT/table), a PNG of test accuracy against training throughput, a PNG of step time against
sequence length when the runs cover several lengths, and prints the markdown table. Each row
is one run: task, mixer, sequence length, accuracies, majority-class rate, training throughput,
speed-up against the `tnn` run of the same task and length, compile time, peak memory and
parameter count. A failed run stays in the table as a row with status "failed" and its error.
A value missing from a summary shows as "n/a". The .md adds the published test accuracies of
results/reference/papers.csv for the same task and model.

This module reads files only (json, csv, matplotlib), so a table can be rebuilt without an
accelerator or network. W&B is imported only when --wandb_mode is online or offline.
"""

import argparse
import csv
import json
import math
import os
import statistics
import sys
from collections.abc import Iterable, Mapping, Sequence

from results import plots

TASK_ORDER = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
MIXER_ORDER = ("tnn", "ski", "sparse_ski", "interp", "fd")
# The model name under which papers.csv lists each of our mixers. SKI-TNN (Moreno et al.,
# arXiv 2305.09028) is the sparse plus low-rank mixer, so the low-rank-only `ski` and the
# causal `interp` have no published counterpart.
PAPER_MODEL_BY_MIXER = {"tnn": "TNN", "sparse_ski": "SKI-TNN", "fd": "FD-TNN"}
BASELINE_MODELS = ("Transformer", "S4", "TNN", "S5", "Mega")
PAPERS_CSV = os.path.join(os.path.dirname(os.path.abspath(__file__)), "reference", "papers.csv")
MISSING = "n/a"
REFERENCE_MIXER = "tnn"

# Keys copied from summary.json into a row, in CSV column order after the identifying ones.
SUMMARY_KEYS = (
    "test_accuracy",
    "val_accuracy",
    "majority_rate",
    "train_examples_per_sec",
    "train_tokens_per_sec",
    "train_step_seconds",
    "compile_seconds",
    "peak_memory_bytes",
    "num_params",
    "steps",
    "selected_split",
    "smoke",
    "git_commit",
)
CSV_COLUMNS = (
    "task",
    "mixer",
    "seq_len",
    "status",
    *SUMMARY_KEYS[:5],
    "speedup_vs_tnn",
    *SUMMARY_KEYS[5:],
    "run",
    "error",
)


def _number(value: object) -> float | None:
    """Returns value as a finite float, or None for missing, non-numeric and bool values."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _read_json(path: str) -> tuple[dict | None, str]:
    """Returns (parsed object, "") or (None, reason) for a file that is unreadable or not a dict."""
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError) as e:
        return None, f"cannot read {os.path.basename(path)}: {e}"
    if not isinstance(data, dict):
        return None, f"{os.path.basename(path)} contains a {type(data).__name__}, not a JSON object"
    return data, ""


def find_runs(root: str) -> list[dict]:
    """Returns one row per directory under root that contains summary.json or failed.json.

    A completed summary wins over a failed.json left from an earlier attempt. Rows carry raw
    values (fractions, bytes); missing values are None. speedup_vs_tnn is filled in later.
    """
    if not os.path.isdir(root):
        raise FileNotFoundError(f"Sweep root {root} is not a directory.")
    rows = []
    for directory, _, files in os.walk(root):
        if "summary.json" not in files and "failed.json" not in files:
            continue
        run = os.path.relpath(directory, root)
        summary, summary_error = (
            _read_json(os.path.join(directory, "summary.json"))
            if "summary.json" in files
            else (None, "")
        )
        failure, failure_error = (
            _read_json(os.path.join(directory, "failed.json"))
            if "failed.json" in files
            else (None, "")
        )
        completed = summary is not None and summary.get("status") == "completed"

        row = {key: None for key in CSV_COLUMNS}
        row["run"] = run
        source = summary if summary is not None else (failure or {})
        row["task"] = source.get("task")
        row["mixer"] = source.get("model")
        if summary is not None:
            for key in (*SUMMARY_KEYS, "seq_len"):
                row[key] = summary.get(key)
            row["status"] = summary.get("status") or MISSING
        if completed:
            row["error"] = ""
        elif "failed.json" in files:
            row["status"] = "failed"
            row["error"] = (
                (failure or {}).get("error") or failure_error or "failed.json has no error field"
            )
            if row["seq_len"] is None:
                # A run that failed before writing a summary is placed by its length override.
                row["seq_len"] = ((failure or {}).get("overrides") or {}).get("task.max_length")
        elif summary is None:
            row["status"] = "unreadable"
            row["error"] = summary_error
        else:
            row["error"] = ""
        rows.append(row)
    return rows


def _order(value: object, known: Sequence[str]) -> tuple[int, str]:
    return (known.index(value), "") if value in known else (len(known), str(value))


def sort_rows(rows: list[dict]) -> list[dict]:
    """Sorts by task and mixer in the usual LRA order, then sequence length and run name."""

    def key(row):
        seq_len = _number(row["seq_len"])
        return (
            _order(row["task"], TASK_ORDER),
            _order(row["mixer"], MIXER_ORDER),
            seq_len if seq_len is not None else math.inf,
            row["run"],
        )

    return sorted(rows, key=key)


def add_speedups(rows: list[dict]) -> None:
    """Sets speedup_vs_tnn: examples/s over the median examples/s of the completed tnn runs with
    the same task, sequence length and smoke setting. None where no such tnn run exists."""

    def group(row):
        return (row["task"], row["seq_len"], bool(row["smoke"]))

    reference = {}
    for row in rows:
        speed = _number(row["train_examples_per_sec"])
        if row["mixer"] == REFERENCE_MIXER and row["status"] == "completed" and speed:
            reference.setdefault(group(row), []).append(speed)
    for row in rows:
        speed = _number(row["train_examples_per_sec"])
        speeds = reference.get(group(row))
        row["speedup_vs_tnn"] = (
            speed / statistics.median(speeds)
            if speeds and speed is not None and row["status"] == "completed"
            else None
        )


def build_rows(root: str) -> list[dict]:
    """Finds the runs under root and returns their sorted rows with speed-ups."""
    rows = sort_rows(find_runs(root))
    add_speedups(rows)
    return rows


# Formatting for the markdown table: (row key, header, formatter of a present value).
def _percent(value: float) -> str:
    return f"{100 * value:.2f}"


_MD_COLUMNS = (
    ("task", "task", str),
    ("mixer", "mixer", str),
    ("seq_len", "N", lambda v: f"{v:.0f}"),
    ("status", "status", str),
    ("test_accuracy", "test acc (%)", _percent),
    ("val_accuracy", "val acc (%)", _percent),
    ("majority_rate", "majority (%)", _percent),
    ("train_examples_per_sec", "train examples/s", lambda v: f"{v:,.1f}"),
    ("train_tokens_per_sec", "train tokens/s", lambda v: f"{v:,.0f}"),
    ("speedup_vs_tnn", "speed-up vs tnn", lambda v: f"{v:.2f}x"),
    ("compile_seconds", "compile (s)", lambda v: f"{v:.1f}"),
    ("peak_memory_bytes", "peak memory (MiB)", lambda v: f"{v / 2**20:,.0f}"),
    ("num_params", "params", lambda v: f"{v:,.0f}"),
    ("run", "run", str),
    ("error", "error", str),
)
_INTEGER_KEYS = {"seq_len", "peak_memory_bytes", "num_params", "steps"}
_NUMERIC_KEYS = {*SUMMARY_KEYS[:8], *_INTEGER_KEYS, "speedup_vs_tnn"}
_MAX_ERROR_CHARS = 160


def _md_cell(text: str) -> str:
    text = " ".join(text.split()).replace("|", "\\|")
    return text if len(text) <= _MAX_ERROR_CHARS else text[: _MAX_ERROR_CHARS - 3] + "..."


def format_cell(row: Mapping[str, object], key: str, formatter=str) -> str:
    """Formats one value for the markdown table, "n/a" when missing or not a number."""
    value = row.get(key)
    if key in _NUMERIC_KEYS:
        number = _number(value)
        return MISSING if number is None else formatter(number)
    if value is None:
        return MISSING
    return _md_cell(formatter(value))


def markdown_table(headers: Sequence[str], body: Iterable[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def format_runs_markdown(rows: Sequence[Mapping[str, object]]) -> str:
    """Returns the markdown table of runs, one line per row."""
    body = [[format_cell(row, key, formatter) for key, _, formatter in _MD_COLUMNS] for row in rows]
    return markdown_table([header for _, header, _ in _MD_COLUMNS], body)


def csv_value(row: Mapping[str, object], key: str) -> str:
    """Returns the raw value for the CSV: fractions and bytes unformatted, "n/a" when missing."""
    value = row.get(key)
    if key in _NUMERIC_KEYS:
        number = _number(value)
        if number is None:
            return MISSING
        return str(int(number)) if key in _INTEGER_KEYS else repr(number)
    if value is None:
        return MISSING
    return str(value).lower() if isinstance(value, bool) else str(value)


def write_csv(rows: Sequence[Mapping[str, object]], path: str) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            writer.writerow([csv_value(row, key) for key in CSV_COLUMNS])


def load_papers(path: str = PAPERS_CSV) -> dict[tuple[str, str], dict[str, str]]:
    """Reads papers.csv into {(model, task): row}; raises ValueError on a malformed row."""
    expected = {"model", "task", "test_accuracy", "source", "verified", "note"}
    papers = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if set(reader.fieldnames or ()) != expected:
            raise ValueError(
                f"{path}: columns must be {sorted(expected)}, got {reader.fieldnames}."
            )
        for line, row in enumerate(reader, start=2):
            value = row["test_accuracy"]
            if value != "FAIL":
                try:
                    float(value)
                except ValueError:
                    raise ValueError(
                        f"{path}:{line}: test_accuracy {value!r} is neither a percentage nor FAIL."
                    ) from None
            if row["verified"] not in ("yes", "no"):
                raise ValueError(
                    f"{path}:{line}: verified must be yes or no, got {row['verified']!r}."
                )
            papers[(row["model"], row["task"])] = row
    return papers


def _paper_cell(entry: Mapping[str, str] | None) -> str:
    if entry is None:
        return MISSING
    value = "fail" if entry["test_accuracy"] == "FAIL" else entry["test_accuracy"]
    return value if entry["verified"] == "yes" else value + " †"


def format_papers_markdown(
    rows: Sequence[Mapping[str, object]], papers: Mapping[tuple[str, str], Mapping[str, str]]
) -> str:
    """Returns the markdown comparing our test accuracy with the published one for the same
    model, then the published baselines for the same tasks.

    Runs with the same task, mixer and length (several seeds) are averaged. "(smoke)" marks
    results of shrunken smoke configs, because those are not comparable with the papers.
    """
    groups = {}
    for row in rows:
        if row["task"] is None or row["mixer"] is None:
            continue
        group = groups.setdefault(
            (row["task"], row["mixer"], row["seq_len"]), {"accuracies": [], "smoke": True}
        )
        accuracy = _number(row["test_accuracy"])
        if row["status"] == "completed" and accuracy is not None:
            group["accuracies"].append(accuracy)
        group["smoke"] = group["smoke"] and row["smoke"] is True
    keys = sorted(
        groups,
        key=lambda key: (
            _order(key[0], TASK_ORDER),
            _order(key[1], MIXER_ORDER),
            _number(key[2]) if _number(key[2]) is not None else math.inf,
        ),
    )
    body = []
    for task, mixer, seq_len in keys:
        values = groups[(task, mixer, seq_len)]["accuracies"]
        if not values:
            ours = MISSING
        elif len(values) == 1:
            ours = _percent(values[0])
        else:
            ours = f"{_percent(statistics.mean(values))} (mean of {len(values)})"
        if values and groups[(task, mixer, seq_len)]["smoke"]:
            ours += " (smoke)"
        model = PAPER_MODEL_BY_MIXER.get(mixer)
        entry = papers.get((model, task)) if model else None
        body.append(
            [
                task,
                mixer,
                format_cell({"seq_len": seq_len}, "seq_len", lambda v: f"{v:.0f}"),
                ours,
                model or MISSING,
                _paper_cell(entry),
                _md_cell(entry["source"]) if entry else MISSING,
            ]
        )
    parts = [
        "## Published test accuracy for the same model (%)",
        "",
        markdown_table(["task", "mixer", "N", "ours", "paper model", "published", "source"], body),
    ]

    tasks = sorted({key[0] for key in keys}, key=lambda task: _order(task, TASK_ORDER))
    baseline_body = [
        [task, *(_paper_cell(papers.get((model, task))) for model in BASELINE_MODELS)]
        for task in tasks
    ]
    parts += [
        "",
        "## Published baselines on the same tasks (test accuracy, %)",
        "",
        markdown_table(["task", *BASELINE_MODELS], baseline_body),
        "",
        "† not checked against the paper itself; results/reference/papers.csv says what was "
        "checked. n/a: no published number in papers.csv.",
    ]
    return "\n".join(parts)


def log_to_wandb(
    rows: Sequence[Mapping[str, object]], mode: str, project: str, name: str, directory: str
) -> None:
    """Logs the rows as a wandb.Table named "results" in a new W&B run."""
    import wandb  # Imported here so that tables build without W&B installed or configured.

    columns = list(CSV_COLUMNS)
    data = []
    for row in rows:
        values = []
        for key in columns:
            value = row.get(key)
            if key in _NUMERIC_KEYS:
                value = _number(value)
            elif value is not None:
                value = str(value)
            values.append(value)
        data.append(values)
    run = wandb.init(project=project, name=name, mode=mode, job_type="results-table", dir=directory)
    try:
        run.log({"results": wandb.Table(columns=columns, data=data)})
    finally:
        run.finish()


def build_table(
    root: str,
    out: str | None = None,
    *,
    papers_path: str = PAPERS_CSV,
    wandb_mode: str = "disabled",
    wandb_project: str = "tnn-lra",
) -> str:
    """Writes OUT.md, OUT.csv and the plots for the runs under root; returns the markdown."""
    rows = build_rows(root)
    if not rows:
        raise FileNotFoundError(
            f"No summary.json or failed.json found under {root}; run a sweep "
            "first, e.g. python -m launch.sweep --sweep=configs/sweeps/demo.py "
            f"--root={root}."
        )
    out = out or os.path.join(root, "table")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    papers = load_papers(papers_path)

    write_csv(rows, out + ".csv")
    base = os.path.basename(out)
    parts = [
        f"# Results under {root}",
        "",
        format_runs_markdown(rows),
        "",
        format_papers_markdown(rows, papers),
    ]
    figure_path = out + "_accuracy_vs_throughput.png"
    if plots.plot_accuracy_vs_throughput(rows, figure_path):
        parts += [
            "",
            f"![Test accuracy against training throughput]({os.path.basename(figure_path)})",
        ]
    figure_path = out + "_step_time_vs_length.png"
    if plots.plot_step_time_vs_length(rows, figure_path):
        parts += [
            "",
            f"![Training step time against sequence length]({os.path.basename(figure_path)})",
        ]
    markdown = "\n".join(parts) + "\n"
    with open(out + ".md", "w", encoding="utf-8") as f:
        f.write(markdown)

    if wandb_mode != "disabled":
        log_to_wandb(
            rows,
            wandb_mode,
            wandb_project,
            name=f"table-{base}",
            directory=os.path.dirname(os.path.abspath(out)),
        )
    return markdown


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m results.table", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "root", help="Sweep root, searched recursively for summary.json and failed.json."
    )
    parser.add_argument(
        "--out",
        default=None,
        help="Output path without suffix; writes OUT.md, "
        "OUT.csv and OUT_*.png. Default: ROOT/table.",
    )
    parser.add_argument("--papers", default=PAPERS_CSV, help="CSV of published accuracies.")
    parser.add_argument(
        "--wandb_mode",
        choices=("disabled", "online", "offline"),
        default="disabled",
        help="Also log the rows as a wandb.Table.",
    )
    parser.add_argument("--wandb_project", default="tnn-lra", help="W&B project for the table.")
    args = parser.parse_args(argv)
    try:
        markdown = build_table(
            args.root,
            args.out,
            papers_path=args.papers,
            wandb_mode=args.wandb_mode,
            wandb_project=args.wandb_project,
        )
    except (FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    print(markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
