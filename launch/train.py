"""Trains and evaluates one model on one LRA task.

  python -m launch.train --config=configs/listops.py:model=tnn,smoke --workdir=runs/demo
  python -m launch.train --config=configs/listops.py:model=tnn --workdir=DIR \\
      --config.batch_size=64 --config.wandb.mode=disabled

`--config.KEY=VALUE` overrides any key of the config; an unknown key or a value of the wrong
type fails before any data is loaded. Rerunning with the same workdir resumes from its last
checkpoint.
"""

import importlib.util
import logging as logging_std
import re
import sys

import jax
import tensorflow_datasets as tfds
from absl import app, flags, logging
from ml_collections import config_flags

from launch import trainer
from tasks import errors

_CONFIG = config_flags.DEFINE_config_file(
    "config",
    None,
    "Task config file with its arguments, e.g. configs/listops.py:model=tnn,smoke.",
    lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Run directory for config.json, metrics.jsonl, summary.json and checkpoints."
)
_DISTRIBUTED = flags.DEFINE_bool(
    "distributed",
    False,
    "Join a multi-host run with jax.distributed.initialize(): pass it on every host of a TPU "
    "pod slice or Slurm job. The coordinator is auto-detected there, or set by the three flags "
    "below.",
)
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "With --distributed: host:port of process 0, e.g. 10.0.0.2:1234."
)
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "With --distributed: process count.")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "With --distributed: this process's index.")
flags.mark_flags_as_required(["config", "workdir"])


def format_report(summary: dict, workdir: str) -> str:
    """Formats the end-of-run report printed to stdout."""
    memory = summary["peak_memory_bytes"]
    memory_text = (
        "n/a" if memory is None else f"{memory / 2**20:.0f} MiB ({summary['peak_memory_source']})"
    )
    return "\n".join(
        [
            f"task {summary['task']}, model {summary['model']}, {summary['steps']} steps, "
            f"{summary['num_params']:,} parameters",
            f"  val accuracy  {summary['val_accuracy']:.4f}  (best, at step {summary['best_step']})",
            f"  test accuracy {summary['test_accuracy']:.4f}  (majority-class rate "
            f"{summary['majority_rate']:.4f})",
            f"  throughput    {summary['train_examples_per_sec']:.1f} examples/s, "
            f"{summary['train_tokens_per_sec']:.0f} tokens/s (median over logging windows)",
            f"  compile       {summary['compile_seconds']:.1f} s (train step), peak memory "
            f"{memory_text}",
            f"  outputs       {workdir}/summary.json, metrics.jsonl, config.json, checkpoints/",
        ]
    )


def _load_config_file(spec: str):
    """Loads `path.py:args` the way --config does, to list valid keys in error messages."""
    path, _, arg = spec.partition(":")
    module_spec = importlib.util.spec_from_file_location("_config_for_errors", path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.get_config(arg or None)


def unknown_key_message(argv: list[str], error: Exception) -> str | None:
    """Explains which --config.KEY override named a key the config does not have."""
    # ml_collections nests the KeyError text inside an AttributeError, escaping its quotes.
    match = re.search(r"'([A-Za-z0-9_]+)\\?'", str(error))
    if not match:
        return None
    key = match.group(1)
    overrides = [
        a
        for a in argv
        if a.startswith("--config.") and re.search(rf"\.{key}(=|\.|$)", a.split("=")[0])
    ]
    config_arg = next((a.split("=", 1)[1] for a in argv if a.startswith("--config=")), None)
    if not overrides or config_arg is None:
        return None
    flag = overrides[0].split("=")[0]
    parent_path = flag[len("--config.") :].split(".")
    parent_path = parent_path[: parent_path.index(key)]
    try:
        node = _load_config_file(config_arg)
        for part in parent_path:
            node = node[part]
        known = ", ".join(sorted(node.keys()))
    except Exception:  # The key list is only a hint, so the message goes out without it.
        known = "see configs/base.py"
    where = "config." + ".".join(parent_path) if parent_path else "config"
    suggestion = re.search(r'Did you mean "([A-Za-z0-9_]+)"', str(error))
    hint = f" Did you mean {suggestion.group(1)!r}?" if suggestion else ""
    return (
        f"Unknown config key {key!r} in {flag}: {where} has no such key.{hint} "
        f"Valid keys of {where}: {known}."
    )


def parse_flags(argv: list[str]) -> list[str]:
    """Parses flags; a bad flag or config key ends the program with one line that names it."""
    try:
        return flags.FLAGS(argv)
    except (AttributeError, KeyError) as error:
        message = unknown_key_message(argv, error) or str(error)
    except (flags.Error, ValueError, OSError) as error:
        # Config files raise ValueError for bad arguments, and absl wraps it in a flag error
        # whose last line is the message.
        message = str(error).strip().splitlines()[-1]
    print(f"FATAL Flags parsing error: {message}", file=sys.stderr)
    print("Run with --helpshort for the flags; configs/base.py lists the config keys.", file=sys.stderr)
    sys.exit(2)


class _QuietLibraries(logging_std.Filter):
    """Drops INFO records of orbax and tensorflow-datasets, which log every file they write."""

    def filter(self, record: logging_std.LogRecord) -> bool:
        noisy = "/orbax/" in record.pathname or "/tensorflow_datasets/" in record.pathname
        return not noisy or record.levelno >= logging_std.WARNING


def main(argv: list[str]) -> None:
    logging.get_absl_handler().addFilter(_QuietLibraries())
    tfds.disable_progress_bar()
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {' '.join(argv[1:])}")
    if _DISTRIBUTED.value:
        jax.distributed.initialize(
            coordinator_address=_COORDINATOR.value,
            num_processes=_NUM_PROCESSES.value,
            process_id=_PROCESS_ID.value,
        )
        logging.info(
            "Process %d of %d, %d local and %d global devices.",
            jax.process_index(),
            jax.process_count(),
            jax.local_device_count(),
            jax.device_count(),
        )
    try:
        summary = trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except KeyboardInterrupt:
        print("Interrupted. Rerun the same command to resume from the last checkpoint.", file=sys.stderr)
        sys.exit(130)
    except (*errors.DATA_ERRORS, PermissionError) as error:
        # These name the file, line or directory and the fix, so a traceback adds nothing.
        print(f"Error: {error}", file=sys.stderr)
        sys.exit(1)
    if summary is not None and jax.process_index() == 0:
        print(format_report(summary, trainer.check_workdir(_WORKDIR.value)))
        sys.stdout.flush()


if __name__ == "__main__":
    logging.set_verbosity(logging.INFO)
    app.run(main, flags_parser=parse_flags)
