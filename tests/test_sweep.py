"""Tests for launch.sweep and the sweep files in configs/sweeps/.

The sweeps run `python -m launch.sweep` as a user would, with tests/fake_train.py as the
trainer, so no test trains a model. Set UPDATE_GOLDEN=1 to rewrite the golden files of the
printed TPU and Slurm commands after an intended change.
"""

import glob
import importlib.util
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from configs import sweeps as sweep_defs
from launch import sweep as sweep_lib

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GOLDEN_DIR = os.path.join(REPO_ROOT, "tests", "golden")
SWEEP_FILES = sorted(
    path
    for path in glob.glob(os.path.join(REPO_ROOT, "configs", "sweeps", "*.py"))
    if not path.endswith("__init__.py")
)
RUN_NAMES = ("alpha", "beta", "gamma")


def write_sweep_file(tmp_path, names=RUN_NAMES, overrides=None) -> str:
    """Writes a sweep file with one smoke ListOps run per name and returns its path."""
    runs = [
        dict(
            name=name,
            config="configs/listops.py:model=tnn,smoke",
            overrides=overrides or {"seed": 1},
        )
        for name in names
    ]
    path = tmp_path / "sweep_test.py"
    path.write_text(
        textwrap.dedent(f"""\
      def get_sweep():
        return dict(name="unit", runs={runs!r})
      """)
    )
    return str(path)


def run_sweep_cli(args, env_extra=None) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env.pop("XLA_PYTHON_CLIENT_PREALLOCATE", None)
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "launch.sweep", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def read_invocations(log_path) -> list[str]:
    if not os.path.exists(log_path):
        return []
    with open(log_path) as f:
        return [json.loads(line)["run"] for line in f]


def read_json(path):
    with open(path) as f:
        return json.load(f)


# Sweep files.


@pytest.mark.parametrize("path", SWEEP_FILES, ids=os.path.basename)
def test_sweep_file_runs_name_known_configs(path):
    sweep = sweep_lib.load_sweep(path)
    assert sweep.runs
    for run in sweep.runs:
        config_path, args = sweep_lib.parse_config_spec(run.config)
        task, model = sweep_lib.run_task_and_model(run)
        assert task in sweep_defs.TASKS, run
        assert config_path == f"configs/{task}.py", run
        assert model in sweep_defs.MIXERS, run
        assert set(args) <= {"model", "smoke"}, run
        for key, _ in run.overrides:
            assert key in sweep_defs.OVERRIDE_KEYS, (run.name, key)


@pytest.mark.parametrize("path", SWEEP_FILES, ids=os.path.basename)
def test_sweep_file_overrides_exist_in_config(path):
    """Where configs/<task>.py exists already, every override names a key of its config."""
    sweep = sweep_lib.load_sweep(path)
    checked = 0
    for run in sweep.runs:
        config_path, _ = sweep_lib.parse_config_spec(run.config)
        full_path = os.path.join(REPO_ROOT, config_path)
        if not os.path.exists(full_path):
            continue  # Planned config, written by another change.
        spec = importlib.util.spec_from_file_location("config_under_test", full_path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        config = module.get_config(run.config.partition(":")[2])
        for key, value in run.overrides:
            node = config
            for part in key.split("."):
                assert part in node, f"{run.name}: {key} is not a key of {config_path}"
                node = node[part]
            assert type(node) is type(value), f"{run.name}: {key}={value!r} vs config {node!r}"
        checked += 1
    if checked == 0:
        pytest.skip("none of this sweep's config files exist yet")


def test_demo_sweep_contents():
    sweep = sweep_lib.load_sweep(os.path.join(REPO_ROOT, "configs", "sweeps", "demo.py"))
    pairs = [sweep_lib.run_task_and_model(run) for run in sweep.runs]
    assert pairs == [("listops", mixer) for mixer in ("tnn", "ski", "sparse_ski", "fd")]
    assert all(run.config.endswith(",smoke") for run in sweep.runs)


def test_lra_paper_sweep_covers_tasks_and_mixers():
    sweep = sweep_lib.load_sweep(os.path.join(REPO_ROOT, "configs", "sweeps", "lra_paper.py"))
    pairs = {sweep_lib.run_task_and_model(run) for run in sweep.runs}
    assert pairs == {
        (task, mixer) for task in sweep_defs.TASKS for mixer in ("tnn", "sparse_ski", "fd")
    }
    assert not any("smoke" in run.config for run in sweep.runs)


def test_lengths_sweep_bounds_match_length():
    sweep = sweep_lib.load_sweep(os.path.join(REPO_ROOT, "configs", "sweeps", "lengths.py"))
    lengths = set()
    for run in sweep.runs:
        overrides = dict(run.overrides)
        length = overrides["task.max_length"]
        lengths.add(length)
        assert overrides["task.max_length_bound"] == length
        assert 0 < overrides["task.min_length"] < length
    assert len(lengths) >= 3


# Loading and command construction.


@pytest.mark.parametrize(
    "body, message",
    [
        (
            "def get_sweep():\n  return dict(name='s', runs=[dict(name='a', config='configs/listops.py',"
            " overrides={}), dict(name='a', config='configs/listops.py', overrides={})])\n",
            "repeated: a",
        ),
        (
            "def get_sweep():\n  return dict(name='s', runs=[dict(name='a/b', config='configs/listops.py',"
            " overrides={})])\n",
            "run name 'a/b'",
        ),
        (
            "def get_sweep():\n  return dict(name='s', runs=[dict(name='a', config='configs/listops.py',"
            " overrides={'seed': [1, 2]})])\n",
            "has type list",
        ),
        (
            "def get_sweep():\n  return dict(name='s', runs=[dict(name='a', config='listops',"
            " overrides={})])\n",
            "config 'listops'",
        ),
        ("def get_sweep():\n  return dict(name='s', runs=[])\n", "non-empty list"),
        ("SWEEP = {}\n", "defines no get_sweep()"),
    ],
)
def test_load_sweep_rejects_malformed(tmp_path, body, message):
    path = tmp_path / "bad_sweep.py"
    path.write_text(body)
    with pytest.raises(ValueError, match=message) as info:
        sweep_lib.load_sweep(str(path))
    assert str(path) in str(info.value)


def test_cli_reports_invalid_sweep(tmp_path):
    path = tmp_path / "bad_sweep.py"
    path.write_text("def get_sweep():\n  return dict(name='s', runs=[])\n")
    result = run_sweep_cli([f"--sweep={path}", f"--root={tmp_path / 'runs'}"])
    assert result.returncode == 2
    assert "Invalid sweep" in result.stderr
    assert "non-empty list" in result.stderr
    assert "Traceback" not in result.stderr
    unknown = run_sweep_cli(
        [
            f"--sweep={write_sweep_file(tmp_path)}",
            f"--root={tmp_path}",
            "--only=delta",
            "--print=tpu",
        ]
    )
    assert unknown.returncode == 2
    assert "delta" in unknown.stderr


def test_select_runs_keeps_order_and_rejects_unknown(tmp_path):
    sweep = sweep_lib.load_sweep(write_sweep_file(tmp_path))
    selected = sweep_lib.select_runs(sweep, ["gamma", "alpha"])
    assert [run.name for run in selected.runs] == ["alpha", "gamma"]
    with pytest.raises(ValueError, match="delta"):
        sweep_lib.select_runs(sweep, ["delta"])


def test_train_args_order_and_formatting():
    overrides = (("seed", 3), ("wandb.mode", "offline"), ("model.learn_decay", True))
    run = sweep_lib.Run(name="r", config="configs/text.py:model=fd", overrides=overrides)
    args = sweep_lib.train_args(run, "sw", "out/r", extra_overrides=[("wandb.mode", "disabled")])
    assert args == [
        "--config=configs/text.py:model=fd",
        "--workdir=out/r",
        "--config.wandb.group=sw",
        "--config.seed=3",
        "--config.wandb.mode=offline",
        "--config.model.learn_decay=true",
        "--config.wandb.mode=disabled",
    ]


# Running with the fake trainer.


def test_sweep_resumes_after_kill(tmp_path):
    root = tmp_path / "runs"
    log = tmp_path / "invocations.jsonl"
    sweep_file = write_sweep_file(tmp_path)
    env = {"FAKE_TRAIN_LOG": str(log), "FAKE_TRAIN_KILL_SWEEP_AFTER": "alpha"}
    args = [f"--sweep={sweep_file}", f"--root={root}", "--train_module=tests.fake_train"]

    first = run_sweep_cli(args, env)
    assert first.returncode == -signal.SIGKILL, first.stderr
    assert read_invocations(log) == ["alpha"]
    assert read_json(root / "alpha" / "summary.json")["status"] == "completed"

    env.pop("FAKE_TRAIN_KILL_SWEEP_AFTER")
    second = run_sweep_cli(args, env)
    assert second.returncode == 0, second.stderr
    assert read_invocations(log) == ["alpha", "beta", "gamma"]
    assert "alpha skipped" in second.stderr
    for name in RUN_NAMES:
        assert read_json(root / name / "summary.json")["status"] == "completed"

    third = run_sweep_cli(args, env)
    assert third.returncode == 0, third.stderr
    assert read_invocations(log) == ["alpha", "beta", "gamma"]


def test_failed_run_recorded_and_others_run(tmp_path):
    root = tmp_path / "runs"
    log = tmp_path / "invocations.jsonl"
    sweep_file = write_sweep_file(tmp_path)
    args = [
        f"--sweep={sweep_file}",
        f"--root={root}",
        "--train_module=tests.fake_train",
        "--parallel=2",
    ]

    first = run_sweep_cli(args, {"FAKE_TRAIN_LOG": str(log), "FAKE_TRAIN_FAIL": "beta"})
    assert first.returncode == 1
    assert sorted(read_invocations(log)) == ["alpha", "beta", "gamma"]
    assert "Failed run beta" in first.stderr
    failure = read_json(root / "beta" / "failed.json")
    assert failure["exit_code"] == 3
    assert failure["run"] == "beta"
    assert (failure["task"], failure["model"]) == ("listops", "tnn")
    assert f"--workdir={root / 'beta'}" in failure["command"]
    assert "--config.wandb.group=unit" in failure["command"]
    assert "fake failure of beta" in failure["stderr_tail"]
    assert "fake failure of beta" in failure["error"]
    assert "fake failure of beta" in (root / "beta" / "train.log").read_text()
    assert "starting beta" in (root / "beta" / "train.log").read_text()
    for name in ("alpha", "gamma"):
        assert read_json(root / name / "summary.json")["status"] == "completed"
        assert not (root / name / "failed.json").exists()

    second = run_sweep_cli(args, {"FAKE_TRAIN_LOG": str(log)})
    assert second.returncode == 0, second.stderr
    assert read_invocations(log).count("beta") == 2
    assert len(read_invocations(log)) == 4
    assert not (root / "beta" / "failed.json").exists()
    assert read_json(root / "beta" / "summary.json")["status"] == "completed"


def test_exit_zero_without_summary_is_failure(tmp_path):
    root = tmp_path / "runs"
    sweep_file = write_sweep_file(tmp_path, names=("alpha",))
    result = run_sweep_cli(
        [f"--sweep={sweep_file}", f"--root={root}", "--train_module=tests.fake_train"],
        {"FAKE_TRAIN_NO_SUMMARY": "alpha"},
    )
    assert result.returncode == 1
    failure = read_json(root / "alpha" / "failed.json")
    assert failure["exit_code"] == 0
    assert "summary.json is missing" in failure["error"]


def test_only_and_wandb_mode_reach_trainer(tmp_path):
    root = tmp_path / "runs"
    log = tmp_path / "invocations.jsonl"
    sweep_file = write_sweep_file(tmp_path)
    result = run_sweep_cli(
        [
            f"--sweep={sweep_file}",
            f"--root={root}",
            "--train_module=tests.fake_train",
            "--only=beta",
            "--wandb_mode=disabled",
        ],
        {"FAKE_TRAIN_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr
    with open(log) as f:
        [invocation] = [json.loads(line) for line in f]
    assert invocation["run"] == "beta"
    assert invocation["argv"][-1] == "--config.wandb.mode=disabled"
    assert not (root / "alpha").exists()


def test_missing_trainer_module_is_recorded(tmp_path):
    root = tmp_path / "runs"
    sweep_file = write_sweep_file(tmp_path, names=("alpha",))
    result = run_sweep_cli(
        [f"--sweep={sweep_file}", f"--root={root}", "--train_module=tests.no_such_trainer"]
    )
    assert result.returncode == 1
    failure = read_json(root / "alpha" / "failed.json")
    assert failure["exit_code"] == 1
    assert "No module named tests.no_such_trainer" in failure["error"]


# Printed commands.


@pytest.mark.parametrize(
    "mode, golden", [("tpu", "sweep_demo_tpu.txt"), ("slurm", "sweep_demo_slurm.sh")]
)
def test_printed_commands_match_golden(mode, golden):
    result = run_sweep_cli(
        ["--sweep=configs/sweeps/demo.py", "--root=/mnt/shared/demo", f"--print={mode}"]
    )
    assert result.returncode == 0, result.stderr
    golden_path = os.path.join(GOLDEN_DIR, golden)
    if os.environ.get("UPDATE_GOLDEN"):
        with open(golden_path, "w") as f:
            f.write(result.stdout)
    with open(golden_path) as f:
        assert result.stdout == f.read()


@pytest.mark.parametrize("mode", ["tpu", "slurm"])
def test_printing_runs_nothing(tmp_path, mode):
    root = tmp_path / "runs"
    log = tmp_path / "invocations.jsonl"
    result = run_sweep_cli(
        [
            "--sweep=configs/sweeps/demo.py",
            f"--root={root}",
            f"--print={mode}",
            "--train_module=tests.fake_train",
        ],
        {"FAKE_TRAIN_LOG": str(log)},
    )
    assert result.returncode == 0, result.stderr
    assert "tests.fake_train" in result.stdout
    assert not root.exists()
    assert not log.exists()


def test_slurm_script_runs_each_command(tmp_path):
    """The printed script, run by bash for each array index, runs that index's command."""
    sweep = sweep_lib.load_sweep(write_sweep_file(tmp_path))
    script = sweep_lib.format_slurm_script(
        sweep, str(tmp_path / "runs"), repo_dir=str(tmp_path), partition="p", python="echo"
    )
    assert "#SBATCH --array=0-2" in script
    for index, name in enumerate(RUN_NAMES):
        result = subprocess.run(
            ["bash", "-c", script],
            env={"SLURM_ARRAY_TASK_ID": str(index)},
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 0, result.stderr
        printed = result.stdout.splitlines()[-1]
        assert f"--workdir={tmp_path / 'runs' / name}" in printed
