"""Tests for results.table and results.plots on synthetic workdirs written by the tests."""

import csv
import json
import os
import subprocess
import sys
import types

import pytest

from results import plots
from results import table

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def full_summary(**values):
    summary = {
        "task": "listops",
        "model": "tnn",
        "status": "completed",
        "val_accuracy": 0.4,
        "test_accuracy": 0.38,
        "majority_rate": 0.17,
        "train_examples_per_sec": 100.0,
        "train_tokens_per_sec": 204800.0,
        "train_step_seconds": 0.32,
        "compile_seconds": 12.5,
        "peak_memory_bytes": 3 * 2**30,
        "num_params": 123456,
        "steps": 3000,
        "seq_len": 2048,
        "git_commit": "abc123",
        "selected_split": "val",
        "smoke": False,
    }
    summary.update(values)
    return summary


def write_json(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(data, f)


@pytest.fixture
def sweep_root(tmp_path):
    """Five runs: three completed ListOps runs, one failed ListOps run and a Text run whose
    summary lacks val_accuracy, peak memory and examples/s."""
    root = tmp_path / "sweep"
    write_json(root / "listops_tnn" / "summary.json", full_summary())
    write_json(
        root / "listops_fd" / "summary.json",
        full_summary(
            model="fd",
            test_accuracy=0.375,
            train_examples_per_sec=250.0,
            train_tokens_per_sec=512000.0,
            num_params=120000,
        ),
    )
    write_json(
        root / "listops_ski" / "summary.json",
        full_summary(model="ski", test_accuracy=0.2, train_examples_per_sec=50.0),
    )
    write_json(
        root / "listops_sparse_ski" / "failed.json",
        {
            "run": "listops_sparse_ski",
            "task": "listops",
            "model": "sparse_ski",
            "exit_code": 1,
            "error": "exit code 1: ValueError: bad | shape",
            "overrides": {"seed": 2222},
        },
    )
    text_summary = full_summary(
        task="text", seq_len=4096, selected_split="none", peak_memory_bytes=None
    )
    del text_summary["val_accuracy"], text_summary["train_examples_per_sec"]
    write_json(root / "text_tnn" / "summary.json", text_summary)
    return root


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_table_csv_rows(sweep_root, tmp_path):
    out = str(tmp_path / "out" / "table")
    table.build_table(str(sweep_root), out)

    rows = read_csv(out + ".csv")
    assert rows[0] == list(table.CSV_COLUMNS)
    assert [row[:4] for row in rows[1:]] == [
        ["listops", "tnn", "2048", "completed"],
        ["listops", "ski", "2048", "completed"],
        ["listops", "sparse_ski", "n/a", "failed"],
        ["listops", "fd", "2048", "completed"],
        ["text", "tnn", "4096", "completed"],
    ]

    by_run = {
        row[table.CSV_COLUMNS.index("run")]: dict(zip(table.CSV_COLUMNS, row)) for row in rows[1:]
    }
    assert by_run["listops_fd"] == {
        "task": "listops",
        "mixer": "fd",
        "seq_len": "2048",
        "status": "completed",
        "test_accuracy": "0.375",
        "val_accuracy": "0.4",
        "majority_rate": "0.17",
        "train_examples_per_sec": "250.0",
        "train_tokens_per_sec": "512000.0",
        "speedup_vs_tnn": "2.5",
        "train_step_seconds": "0.32",
        "compile_seconds": "12.5",
        "peak_memory_bytes": str(3 * 2**30),
        "num_params": "120000",
        "steps": "3000",
        "selected_split": "val",
        "smoke": "false",
        "git_commit": "abc123",
        "run": "listops_fd",
        "error": "",
    }
    assert by_run["listops_ski"]["speedup_vs_tnn"] == "0.5"
    assert by_run["listops_tnn"]["speedup_vs_tnn"] == "1.0"

    failed = by_run["listops_sparse_ski"]
    assert failed["status"] == "failed"
    assert failed["error"] == "exit code 1: ValueError: bad | shape"
    assert failed["test_accuracy"] == "n/a"
    assert failed["speedup_vs_tnn"] == "n/a"

    text = by_run["text_tnn"]
    assert (
        text["val_accuracy"],
        text["peak_memory_bytes"],
        text["train_examples_per_sec"],
        text["speedup_vs_tnn"],
    ) == ("n/a", "n/a", "n/a", "n/a")
    assert text["test_accuracy"] == "0.38"


def test_table_markdown_rows(sweep_root, tmp_path):
    out = str(tmp_path / "table")
    markdown = table.build_table(str(sweep_root), out)
    with open(out + ".md") as f:
        assert f.read() == markdown
    lines = markdown.splitlines()
    assert (
        "| task | mixer | N | status | test acc (%) | val acc (%) | majority (%) | "
        "train examples/s | train tokens/s | speed-up vs tnn | compile (s) | "
        "peak memory (MiB) | params | run | error |"
    ) in lines
    expected_rows = [
        "| listops | tnn | 2048 | completed | 38.00 | 40.00 | 17.00 | 100.0 | 204,800 | 1.00x | "
        "12.5 | 3,072 | 123,456 | listops_tnn |  |",
        "| listops | sparse_ski | n/a | failed | n/a | n/a | n/a | n/a | n/a | n/a | n/a | n/a | "
        "n/a | listops_sparse_ski | exit code 1: ValueError: bad \\| shape |",
        "| listops | fd | 2048 | completed | 37.50 | 40.00 | 17.00 | 250.0 | 512,000 | 2.50x | "
        "12.5 | 3,072 | 120,000 | listops_fd |  |",
        "| text | tnn | 4096 | completed | 38.00 | n/a | 17.00 | n/a | 204,800 | n/a | 12.5 | "
        "n/a | 123,456 | text_tnn |  |",
    ]
    for row in expected_rows:
        assert row in lines
    assert "| listops | tnn | 2048 | 38.00 | TNN | 61.04 † |" in markdown
    assert "| listops | sparse_ski | n/a | n/a | SKI-TNN | n/a | n/a |" in lines
    assert any(
        line.startswith("| text | 64.27 † | 86.82 † | 87.90 † | 89.31 | 90.43 |") for line in lines
    )


def test_cli_prints_markdown_and_writes_files(sweep_root, capsys):
    assert table.main([str(sweep_root)]) == 0
    printed = capsys.readouterr().out
    with open(sweep_root / "table.md") as f:
        assert printed == f.read()
    assert (sweep_root / "table.csv").exists()
    with open(sweep_root / "table_accuracy_vs_throughput.png", "rb") as f:
        assert f.read(8) == PNG_MAGIC
    # All runs are at one length per task, so there is no step-time plot.
    assert not (sweep_root / "table_step_time_vs_length.png").exists()


def test_cli_empty_root_fails(tmp_path, capsys):
    assert table.main([str(tmp_path)]) == 1
    assert "No summary.json or failed.json" in capsys.readouterr().err
    assert table.main([str(tmp_path / "missing")]) == 1
    assert "not a directory" in capsys.readouterr().err


def test_completed_summary_wins_over_stale_failure(tmp_path):
    write_json(tmp_path / "run" / "summary.json", full_summary())
    write_json(tmp_path / "run" / "failed.json", {"error": "old failure"})
    [row] = table.build_rows(str(tmp_path))
    assert row["status"] == "completed"
    assert row["error"] == ""


def test_unreadable_summary_is_shown(tmp_path):
    os.makedirs(tmp_path / "run")
    (tmp_path / "run" / "summary.json").write_text("{not json")
    [row] = table.build_rows(str(tmp_path))
    assert row["status"] == "unreadable"
    assert "cannot read summary.json" in row["error"]
    assert table.format_cell(row, "task") == "n/a"


def test_failed_run_takes_length_from_overrides(tmp_path):
    write_json(
        tmp_path / "run" / "failed.json",
        {
            "task": "listops",
            "model": "fd",
            "error": "exit code 3",
            "overrides": {"task.max_length": 1024},
        },
    )
    [row] = table.build_rows(str(tmp_path))
    assert row["seq_len"] == 1024


def test_speedup_compares_same_length_only(tmp_path):
    for length, tnn_speed, fd_speed in [(512, 400.0, 800.0), (4096, 40.0, 120.0)]:
        write_json(
            tmp_path / f"tnn_{length}" / "summary.json",
            full_summary(seq_len=length, train_examples_per_sec=tnn_speed),
        )
        write_json(
            tmp_path / f"fd_{length}" / "summary.json",
            full_summary(model="fd", seq_len=length, train_examples_per_sec=fd_speed),
        )
    write_json(
        tmp_path / "fd_8192" / "summary.json",
        full_summary(model="fd", seq_len=8192, train_examples_per_sec=10.0),
    )
    speedups = {row["run"]: row["speedup_vs_tnn"] for row in table.build_rows(str(tmp_path))}
    assert speedups["fd_512"] == pytest.approx(2.0)
    assert speedups["fd_4096"] == pytest.approx(3.0)
    assert speedups["fd_8192"] is None


def test_step_time_plot_needs_two_lengths(tmp_path):
    rows = [
        dict(
            task="listops",
            mixer="tnn",
            status="completed",
            seq_len=length,
            train_step_seconds=length / 1e4,
        )
        for length in (512, 1024, 2048)
    ]
    path = str(tmp_path / "steps.png")
    assert plots.plot_step_time_vs_length(rows, path)
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    other = str(tmp_path / "none.png")
    assert not plots.plot_step_time_vs_length(rows[:1], other)
    assert not os.path.exists(other)
    failed = [dict(row, status="failed") for row in rows]
    assert not plots.plot_step_time_vs_length(failed, other)


def test_papers_csv_is_well_formed():
    papers = table.load_papers()
    for model in ("Transformer", "S4", "TNN", "S5", "Mega"):
        for task in table.TASK_ORDER:
            assert (model, task) in papers, (model, task)
    for (model, task), row in papers.items():
        assert task in table.TASK_ORDER, (model, task)
        assert row["source"], (model, task)
        assert row["note"], (model, task)
        if row["test_accuracy"] != "FAIL":
            assert 0 < float(row["test_accuracy"]) <= 100, (model, task)
    assert papers[("TNN", "listops")]["test_accuracy"] == "61.04"


def test_load_papers_rejects_bad_value(tmp_path):
    path = tmp_path / "papers.csv"
    path.write_text("model,task,test_accuracy,source,verified,note\nTNN,text,high,x,no,y\n")
    with pytest.raises(ValueError, match="papers.csv:2"):
        table.load_papers(str(path))


def test_wandb_table_logged_with_rows(sweep_root, tmp_path, monkeypatch):
    calls = {}

    class FakeTable:
        def __init__(self, columns, data):
            calls["columns"], calls["data"] = columns, data

    class FakeRun:
        def log(self, values):
            calls["logged"] = values

        def finish(self):
            calls["finished"] = True

    def fake_init(**kwargs):
        calls["init"] = kwargs
        return FakeRun()

    monkeypatch.setitem(
        sys.modules, "wandb", types.SimpleNamespace(init=fake_init, Table=FakeTable)
    )
    table.build_table(
        str(sweep_root), str(tmp_path / "table"), wandb_mode="offline", wandb_project="unit-project"
    )
    assert calls["init"]["mode"] == "offline"
    assert calls["init"]["project"] == "unit-project"
    assert calls["columns"] == list(table.CSV_COLUMNS)
    assert len(calls["data"]) == 5
    failed = [row for row in calls["data"] if row[table.CSV_COLUMNS.index("status")] == "failed"]
    assert len(failed) == 1
    assert failed[0][table.CSV_COLUMNS.index("test_accuracy")] is None
    assert isinstance(calls["logged"]["results"], FakeTable)
    assert calls["finished"]


def test_wandb_offline_writes_table(sweep_root, tmp_path):
    """Real W&B in offline mode: no network, the table lands in the local run directory."""
    out = tmp_path / "out" / "table"
    env = dict(os.environ, WANDB_SILENT="true", WANDB_DISABLE_GIT="true")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "results.table",
            str(sweep_root),
            f"--out={out}",
            "--wandb_mode=offline",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    [table_file] = list((tmp_path / "out" / "wandb").glob("offline-run-*/files/media/table/*.json"))
    with open(table_file) as f:
        logged = json.load(f)
    assert logged["columns"] == list(table.CSV_COLUMNS)
    assert len(logged["data"]) == 5


def test_results_package_does_not_import_jax():
    code = "import sys, results.table, results.plots; print('jax' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
