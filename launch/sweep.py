"""Runs a sweep of training runs, or prints its commands for a TPU pod or a Slurm cluster.

  python -m launch.sweep --sweep=configs/sweeps/demo.py --root=runs/demo [--parallel=N]
  python -m launch.sweep --sweep=configs/sweeps/lra_paper.py --root=/mnt/shared/lra --print=tpu

A sweep file defines `get_sweep()` (see configs/sweeps/__init__.py). Each run trains in its own
workdir ROOT/<run name> through

  python -m launch.train --config=<config> --workdir=ROOT/<run> --config.wandb.group=<sweep>
      [--config.KEY=VALUE for each override]

as a subprocess of this program, with its stdout and stderr appended to ROOT/<run>/train.log.
A run whose summary.json has status "completed" is skipped, so a stopped sweep resumes where
it left off. A failed run leaves ROOT/<run>/failed.json (command, exit code, tail of stderr)
and the other runs go on; a later successful run of the same name removes that file. The
program exits with status 1 when any run failed.

NOTE: if this process is killed with SIGKILL, a trainer it started keeps running. Wait for it
to finish, or stop it, before starting the sweep again, or two trainers share one workdir.
"""

import collections
import concurrent.futures
import dataclasses
import datetime
import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence

from absl import app
from absl import flags
from absl import logging

_SWEEP = flags.DEFINE_string("sweep", None, "Path of the sweep file, e.g. configs/sweeps/demo.py.")
_ROOT = flags.DEFINE_string(
    "root",
    None,
    "Sweep root directory: run NAME trains in ROOT/NAME. With --print it may be a "
    "path on the remote machines: a file system that every worker mounts, e.g. a gcsfuse or NFS mount.",
)
_PARALLEL = flags.DEFINE_integer(
    "parallel",
    1,
    "Number of runs to train at the same time on this machine. Above 1, "
    "XLA_PYTHON_CLIENT_PREALLOCATE=false is set unless already set, so that JAX processes "
    "sharing one accelerator do not each reserve most of its memory.",
    lower_bound=1,
)
_PRINT = flags.DEFINE_enum(
    "print",
    None,
    ["tpu", "slurm"],
    "Print the commands instead of running them: 'tpu' prints "
    "one `gcloud compute tpus tpu-vm ssh` line per run, 'slurm' prints one sbatch array script.",
)
_ONLY = flags.DEFINE_list(
    "only", None, "Comma-separated run names to keep; the others are left out."
)
_TRAIN_MODULE = flags.DEFINE_string(
    "train_module",
    "launch.train",
    "Python module run with `python -m` for each run. Change it "
    "only to use an alternative trainer that takes the same --config and --workdir flags and "
    "writes summary.json.",
)
_WANDB_MODE = flags.DEFINE_enum(
    "wandb_mode",
    None,
    ["online", "offline", "disabled"],
    "If set, adds --config.wandb.mode=MODE to every run, after the sweep's own overrides.",
)
_TPU_NAME = flags.DEFINE_string("tpu_name", "YOUR_TPU_NAME", "TPU VM name for --print=tpu.")
_ZONE = flags.DEFINE_string("zone", "YOUR_ZONE", "TPU zone for --print=tpu, e.g. us-central2-b.")
_REPO_DIR = flags.DEFINE_string(
    "repo_dir",
    "/path/to/tnn-lra",
    "Checkout of this repository on the remote machines, for --print=tpu and --print=slurm.",
)
_REMOTE_PYTHON = flags.DEFINE_string(
    "remote_python", "python3", "Python interpreter named in printed commands."
)
_PARTITION = flags.DEFINE_string(
    "partition", "YOUR_PARTITION", "Slurm partition for --print=slurm."
)

# Run names become directory names.
_RUN_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_CONFIG_KEY_RE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")
STDERR_TAIL_LINES = 40


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run of a sweep."""

    name: str
    config: str  # The --config value, e.g. "configs/listops.py:model=tnn,smoke".
    overrides: tuple[tuple[str, object], ...]  # (config key, value) in the sweep file's order.


@dataclasses.dataclass(frozen=True)
class Sweep:
    """A named list of runs, as loaded from a sweep file."""

    name: str
    runs: tuple[Run, ...]
    path: str


@dataclasses.dataclass(frozen=True)
class RunOutcome:
    """Outcome of one run, with status "completed", "skipped" or "failed"."""

    run: Run
    status: str
    seconds: float = 0.0
    error: str = ""


def parse_config_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Splits "configs/listops.py:model=tnn,smoke" into the path and {"model": "tnn", "smoke": ""}."""
    path, _, arg = spec.partition(":")
    args = {}
    for item in arg.split(","):
        item = item.strip()
        if item:
            key, _, value = item.partition("=")
            args[key] = value
    return path, args


def run_task_and_model(run: Run) -> tuple[str, str]:
    """Returns the task (the config file's stem) and the mixer named by `model=`, or ""."""
    path, args = parse_config_spec(run.config)
    task = os.path.splitext(os.path.basename(path))[0]
    return task, args.get("model", "")


def _check_override(where: str, key: object, value: object) -> None:
    if not isinstance(key, str) or not _CONFIG_KEY_RE.match(key):
        raise ValueError(
            f"{where}: override key {key!r} is not a dotted config key like 'task.max_length'."
        )
    if not isinstance(value, (bool, int, float, str)):
        raise ValueError(
            f"{where}: override {key}={value!r} has type {type(value).__name__}; use a "
            "bool, int, float or str."
        )


def _parse_run(where: str, entry: object) -> Run:
    if not isinstance(entry, Mapping):
        raise ValueError(
            f"{where} is a {type(entry).__name__}; expected dict(name=..., config=..., "
            "overrides=...)."
        )
    unknown = set(entry) - {"name", "config", "overrides"}
    if unknown:
        raise ValueError(
            f"{where} has unknown keys {sorted(unknown)}; allowed: name, config, overrides."
        )
    name = entry.get("name")
    if not isinstance(name, str) or not _RUN_NAME_RE.match(name):
        raise ValueError(
            f"{where}: run name {name!r} must be a non-empty string of letters, digits, "
            "'_', '.' and '-' (it becomes a directory name)."
        )
    config = entry.get("config")
    if not isinstance(config, str) or not parse_config_spec(config)[0].endswith(".py"):
        raise ValueError(
            f"{where} (run {name!r}): config {config!r} must be a string like "
            "'configs/listops.py:model=tnn'."
        )
    overrides = entry.get("overrides", {})
    if not isinstance(overrides, Mapping):
        raise ValueError(
            f"{where} (run {name!r}): overrides must be a dict, got {type(overrides).__name__}."
        )
    for key, value in overrides.items():
        _check_override(f"{where} (run {name!r})", key, value)
    return Run(name=name, config=config, overrides=tuple(overrides.items()))


def load_sweep(path: str) -> Sweep:
    """Imports a sweep file, calls its get_sweep() and checks the result.

    Raises ValueError naming the file and the entry when the sweep is malformed (missing keys,
    duplicate or unusable run names, overrides that are not scalars).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(
            f"Sweep file {path} not found; pass e.g. --sweep=configs/sweeps/demo.py."
        )
    module_name = "_sweep_" + re.sub(r"\W", "_", os.path.splitext(os.path.basename(path))[0])
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "get_sweep", None)):
        raise ValueError(f"{path} defines no get_sweep() function.")
    sweep = module.get_sweep()

    if not isinstance(sweep, Mapping) or set(sweep) != {"name", "runs"}:
        raise ValueError(
            f"{path}: get_sweep() must return dict(name=str, runs=list), got {sweep!r:.200}."
        )
    name = sweep["name"]
    if not isinstance(name, str) or not _RUN_NAME_RE.match(name):
        raise ValueError(
            f"{path}: sweep name {name!r} must be a non-empty string of letters, "
            "digits, '_', '.' and '-'."
        )
    if not isinstance(sweep["runs"], Sequence) or not sweep["runs"]:
        raise ValueError(f"{path}: 'runs' must be a non-empty list.")
    runs = tuple(_parse_run(f"{path}: runs[{i}]", entry) for i, entry in enumerate(sweep["runs"]))
    counts = collections.Counter(run.name for run in runs)
    duplicates = sorted(run_name for run_name, count in counts.items() if count > 1)
    if duplicates:
        raise ValueError(f"{path}: run names must be unique; repeated: {', '.join(duplicates)}.")
    return Sweep(name=name, runs=runs, path=path)


def select_runs(sweep: Sweep, only: Sequence[str] | None) -> Sweep:
    """Keeps the runs named in `only`, in sweep order; raises ValueError on an unknown name."""
    if not only:
        return sweep
    known = {run.name for run in sweep.runs}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise ValueError(
            f"--only names runs not in {sweep.path}: {', '.join(unknown)}. Runs: "
            f"{', '.join(run.name for run in sweep.runs)}."
        )
    return dataclasses.replace(sweep, runs=tuple(run for run in sweep.runs if run.name in only))


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def train_args(
    run: Run, sweep_name: str, workdir: str, extra_overrides: Sequence[tuple[str, object]] = ()
) -> list[str]:
    """Returns the trainer's flags for one run; later --config.KEY flags win over earlier ones."""
    args = [f"--config={run.config}", f"--workdir={workdir}", f"--config.wandb.group={sweep_name}"]
    for key, value in (*run.overrides, *extra_overrides):
        args.append(f"--config.{key}={_format_value(value)}")
    return args


def read_summary(workdir: str) -> dict | None:
    """Returns the parsed summary.json of a workdir, or None if it is missing or unreadable."""
    path = os.path.join(workdir, "summary.json")
    try:
        with open(path) as f:
            summary = json.load(f)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        logging.warning("Cannot read %s (%s); treating the run as not completed.", path, e)
        return None
    return summary if isinstance(summary, dict) else None


def is_completed(workdir: str) -> bool:
    summary = read_summary(workdir)
    return summary is not None and summary.get("status") == "completed"


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _write_failure(workdir: str, record: dict) -> None:
    path = os.path.join(workdir, "failed.json")
    tmp_path = path + ".tmp"
    with open(tmp_path, "w") as f:
        json.dump(record, f, indent=2)
        f.write("\n")
    os.replace(tmp_path, path)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def run_one(
    run: Run,
    sweep_name: str,
    root: str,
    command_prefix: Sequence[str],
    extra_overrides: Sequence[tuple[str, object]] = (),
    env: Mapping[str, str] | None = None,
) -> RunOutcome:
    """Trains one run in ROOT/<run name> unless it already completed, and records a failure.

    `command_prefix` is the interpreter and module, e.g. [sys.executable, "-m", "launch.train"].
    """
    workdir = os.path.join(root, run.name)
    if is_completed(workdir):
        return RunOutcome(run, "skipped")
    os.makedirs(workdir, exist_ok=True)
    command = [*command_prefix, *train_args(run, sweep_name, workdir, extra_overrides)]
    log_path = os.path.join(workdir, "train.log")
    tail = collections.deque(maxlen=STDERR_TAIL_LINES)
    start = time.monotonic()
    exit_code = None
    with open(log_path, "a", encoding="utf-8") as log:
        log.write(f"=== {_now()} sweep {sweep_name} starts: {shlex.join(command)}\n")
        log.flush()
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.PIPE,
                text=True,
                errors="replace",
                env=None if env is None else dict(env),
            )
        except OSError as e:
            tail.append(f"Could not start the trainer: {e}\n")
        else:
            # stderr passes through here so that failed.json can quote its tail.
            for line in process.stderr:
                log.write(line)
                log.flush()
                tail.append(line)
            exit_code = process.wait()
        seconds = time.monotonic() - start
        log.write(f"=== {_now()} exit code {exit_code} after {seconds:.1f} s\n")

    failed_path = os.path.join(workdir, "failed.json")
    if exit_code == 0 and is_completed(workdir):
        if os.path.exists(failed_path):
            os.remove(failed_path)
        return RunOutcome(run, "completed", seconds)

    stderr_tail = "".join(tail)
    if exit_code == 0:
        error = "exit code 0, but summary.json is missing or its status is not 'completed'"
    elif exit_code is None:
        error = _last_line(stderr_tail)
    else:
        error = f"exit code {exit_code}: {_last_line(stderr_tail) or 'no stderr output'}"
    task, model = run_task_and_model(run)
    _write_failure(
        workdir,
        {
            "sweep": sweep_name,
            "run": run.name,
            "task": task,
            "model": model,
            "config": run.config,
            "overrides": dict(run.overrides),
            "command": command,
            "command_line": shlex.join(command),
            "exit_code": exit_code,
            "error": error,
            "stderr_tail": stderr_tail,
            "finished_at": _now(),
            "seconds": round(seconds, 3),
        },
    )
    return RunOutcome(run, "failed", seconds, error)


def run_sweep(
    sweep: Sweep,
    root: str,
    *,
    parallel: int = 1,
    train_module: str = "launch.train",
    python: str = sys.executable,
    extra_overrides: Sequence[tuple[str, object]] = (),
) -> list[RunOutcome]:
    """Runs every run of the sweep that has not completed, `parallel` at a time.

    Returns one outcome per run, in sweep order. Progress goes to the log.
    """
    if parallel < 1:
        raise ValueError(f"--parallel must be at least 1, got {parallel}.")
    env = dict(os.environ)
    if parallel > 1 and "XLA_PYTHON_CLIENT_PREALLOCATE" not in env:
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        logging.info("Set XLA_PYTHON_CLIENT_PREALLOCATE=false for %d parallel runs.", parallel)
    os.makedirs(root, exist_ok=True)
    prefix = [python, "-m", train_module]
    total = len(sweep.runs)
    lock = threading.Lock()
    done = [0]

    def start_and_wait(run: Run) -> RunOutcome:
        if is_completed(os.path.join(root, run.name)):
            outcome = RunOutcome(run, "skipped")
        else:
            logging.info(
                "Starting %s (log: %s).", run.name, os.path.join(root, run.name, "train.log")
            )
            outcome = run_one(run, sweep.name, root, prefix, extra_overrides, env)
        with lock:
            done[0] += 1
            position = f"[{done[0]}/{total}]"
        if outcome.status == "skipped":
            logging.info("%s %s skipped: summary.json says completed.", position, run.name)
        elif outcome.status == "completed":
            logging.info("%s %s completed in %.1f s.", position, run.name, outcome.seconds)
        else:
            logging.error(
                "%s %s failed after %.1f s: %s (details in %s).",
                position,
                run.name,
                outcome.seconds,
                outcome.error,
                os.path.join(root, run.name, "failed.json"),
            )
        return outcome

    logging.info("Sweep %s from %s: %d runs under %s.", sweep.name, sweep.path, total, root)
    with concurrent.futures.ThreadPoolExecutor(max_workers=parallel) as pool:
        outcomes = list(pool.map(start_and_wait, sweep.runs))
    return outcomes


def format_tpu_commands(
    sweep: Sweep,
    root: str,
    *,
    tpu_name: str,
    zone: str,
    repo_dir: str,
    python: str = "python3",
    train_module: str = "launch.train",
    extra_overrides: Sequence[tuple[str, object]] = (),
) -> str:
    """Returns one `gcloud compute tpus tpu-vm ssh` command per run, to run one after another."""
    lines = [
        f"# Sweep {sweep.name}: {len(sweep.runs)} runs. Each command uses every worker of the TPU "
        "VM, so run them one after another.",
        "# ROOT must be a file system that every worker mounts and can write (gcsfuse, NFS).",
        "# --distributed makes the workers one JAX job (jax.distributed.initialize).",
    ]
    for run in sweep.runs:
        workdir = f"{root.rstrip('/')}/{run.name}"
        train = shlex.join(
            [
                python,
                "-m",
                train_module,
                "--distributed",
                *train_args(run, sweep.name, workdir, extra_overrides),
            ]
        )
        remote = f"cd {shlex.quote(repo_dir)} && {train}"
        lines.append(
            f"gcloud compute tpus tpu-vm ssh {shlex.quote(tpu_name)} "
            f"--zone={shlex.quote(zone)} --worker=all --command={shlex.quote(remote)}"
        )
    return "\n".join(lines) + "\n"


def format_slurm_script(
    sweep: Sweep,
    root: str,
    *,
    repo_dir: str,
    partition: str,
    python: str = "python3",
    train_module: str = "launch.train",
    extra_overrides: Sequence[tuple[str, object]] = (),
) -> str:
    """Returns an sbatch script whose array task i runs the sweep's run i."""
    commands = []
    for run in sweep.runs:
        workdir = f"{root.rstrip('/')}/{run.name}"
        commands.append(
            shlex.join(
                [python, "-m", train_module, *train_args(run, sweep.name, workdir, extra_overrides)]
            )
        )
    lines = [
        "#!/bin/bash",
        f"#SBATCH --job-name={sweep.name}",
        f"#SBATCH --array=0-{len(commands) - 1}",
        f"#SBATCH --partition={partition}",
        "#SBATCH --gres=gpu:1",
        "#SBATCH --output=%x-%A_%a.out",
        "# Edit the partition and GPU lines, and add a time limit, for your cluster.",
        "set -euo pipefail",
        f"cd {shlex.quote(repo_dir)}",
        "COMMANDS=(",
        *(f"  {shlex.quote(command)}" for command in commands),
        ")",
        'echo "Array task ${SLURM_ARRAY_TASK_ID}: ${COMMANDS[$SLURM_ARRAY_TASK_ID]}"',
        'eval "${COMMANDS[$SLURM_ARRAY_TASK_ID]}"',
    ]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str]) -> int:
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    if not _SWEEP.value or not _ROOT.value:
        raise app.UsageError(
            "Both --sweep and --root are required, e.g. "
            "--sweep=configs/sweeps/demo.py --root=runs/demo."
        )
    try:
        sweep = select_runs(load_sweep(_SWEEP.value), _ONLY.value)
    except (FileNotFoundError, ValueError) as e:
        logging.error("Invalid sweep: %s", e)
        return 2
    extra = [("wandb.mode", _WANDB_MODE.value)] if _WANDB_MODE.value else []

    if _PRINT.value == "tpu":
        print(
            format_tpu_commands(
                sweep,
                _ROOT.value,
                tpu_name=_TPU_NAME.value,
                zone=_ZONE.value,
                repo_dir=_REPO_DIR.value,
                python=_REMOTE_PYTHON.value,
                train_module=_TRAIN_MODULE.value,
                extra_overrides=extra,
            ),
            end="",
        )
        return 0
    if _PRINT.value == "slurm":
        print(
            format_slurm_script(
                sweep,
                _ROOT.value,
                repo_dir=_REPO_DIR.value,
                partition=_PARTITION.value,
                python=_REMOTE_PYTHON.value,
                train_module=_TRAIN_MODULE.value,
                extra_overrides=extra,
            ),
            end="",
        )
        return 0

    outcomes = run_sweep(
        sweep,
        _ROOT.value,
        parallel=_PARALLEL.value,
        train_module=_TRAIN_MODULE.value,
        extra_overrides=extra,
    )
    counts = collections.Counter(outcome.status for outcome in outcomes)
    logging.info(
        "Sweep %s done: %d completed, %d skipped as already completed, %d failed.",
        sweep.name,
        counts["completed"],
        counts["skipped"],
        counts["failed"],
    )
    failed = [outcome for outcome in outcomes if outcome.status == "failed"]
    for outcome in failed:
        logging.error("Failed run %s: %s", outcome.run.name, outcome.error)
    logging.info("Build the table with: python -m results.table %s", _ROOT.value)
    return 1 if failed else 0


if __name__ == "__main__":
    app.run(main)
