"""The demo sweep: all four mixers beat the majority-class rate on real generated ListOps.

The real run takes several minutes, so it is marked slow (`make test-slow`). The fast test
checks the table committed under results/demo/, which was built from such a run.
"""

import csv
import os
import subprocess
import sys

import pytest

from configs.sweeps import demo

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMITTED_TABLE = os.path.join(REPO, "results", "demo", "table.csv")


def _rows_by_mixer(table_csv):
    with open(table_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    return {row["mixer"]: row for row in rows if row["task"] == "listops"}


def _check_table(table_csv):
    rows = _rows_by_mixer(table_csv)
    assert sorted(rows) == sorted(demo.MIXERS)
    for mixer, row in rows.items():
        assert row["status"] == "completed", (mixer, row)
        test_accuracy = float(row["test_accuracy"])
        majority = float(row["majority_rate"])
        assert test_accuracy > majority, (mixer, test_accuracy, majority)


def test_committed_demo_table_beats_majority():
    _check_table(COMMITTED_TABLE)


@pytest.mark.slow
def test_demo_sweep_beats_majority(tmp_path):
    root = tmp_path / "demo"
    env = dict(os.environ, TNN_LRA_CACHE=str(tmp_path / "cache"))
    sweep = subprocess.run(
        [
            sys.executable,
            "-m",
            "launch.sweep",
            "--sweep=configs/sweeps/demo.py",
            f"--root={root}",
            "--wandb_mode=disabled",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert sweep.returncode == 0, sweep.stderr[-3000:]
    table = subprocess.run(
        [sys.executable, "-m", "results.table", str(root)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert table.returncode == 0, table.stderr[-3000:]
    _check_table(root / "table.csv")
