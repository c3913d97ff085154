"""Stand-in for launch.train in the sweep tests: writes the workdir files without training.

Run as `python -m tests.fake_train --config=configs/<task>.py:model=<mixer> --workdir=DIR
[--config.KEY=VALUE ...]`. It writes config.json, metrics.jsonl and a summary.json with status
"completed", like the real trainer. Environment variables set by a test steer it:
  FAKE_TRAIN_LOG: append one JSON line per invocation (run name and arguments) to this file.
  FAKE_TRAIN_FAIL: comma-separated run names that print an error to stderr and exit with 3.
  FAKE_TRAIN_NO_SUMMARY: comma-separated run names that exit with 0 without a summary.json.
  FAKE_TRAIN_KILL_SWEEP_AFTER: run name after which the parent process (the sweep) is killed
      with SIGKILL, as if the machine running the sweep went away.
The run name is the workdir's base name.
"""

import argparse
import json
import os
import signal
import sys

FAIL_EXIT_CODE = 3


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--workdir", required=True)
    args, rest = parser.parse_known_args(argv)
    overrides = {}
    for item in rest:
        if not item.startswith("--config."):
            print(f"fake_train: unexpected argument {item!r}", file=sys.stderr)
            return 2
        key, _, value = item[len("--config.") :].partition("=")
        overrides[key] = value

    run_name = os.path.basename(os.path.normpath(args.workdir))
    log_path = os.environ.get("FAKE_TRAIN_LOG")
    if log_path:
        with open(log_path, "a") as f:
            f.write(json.dumps({"run": run_name, "argv": argv}) + "\n")

    print(f"fake_train: starting {run_name}", flush=True)
    if run_name in os.environ.get("FAKE_TRAIN_FAIL", "").split(","):
        print("Traceback (most recent call last):", file=sys.stderr)
        print(f"RuntimeError: fake failure of {run_name}", file=sys.stderr)
        return FAIL_EXIT_CODE

    path, _, arg = args.config.partition(":")
    task = os.path.splitext(os.path.basename(path))[0]
    model = dict(item.partition("=")[::2] for item in arg.split(",") if item).get("model", "")
    seq_len = int(overrides.get("task.max_length", 2000))
    os.makedirs(args.workdir, exist_ok=True)
    with open(os.path.join(args.workdir, "config.json"), "w") as f:
        json.dump({"config": args.config, "overrides": overrides}, f)
    with open(os.path.join(args.workdir, "metrics.jsonl"), "w") as f:
        f.write(json.dumps({"step": 1, "train_loss": 2.3}) + "\n")
    summary = {
        "task": task,
        "model": model,
        "status": "completed",
        "val_accuracy": 0.5,
        "test_accuracy": 0.5,
        "majority_rate": 0.2,
        "train_examples_per_sec": 100.0,
        "train_tokens_per_sec": 100.0 * seq_len,
        "train_step_seconds": 0.01,
        "compile_seconds": 1.0,
        "peak_memory_bytes": None,
        "num_params": 1000,
        "steps": 1,
        "seq_len": seq_len,
        "git_commit": "fake",
        "selected_split": "val",
        "smoke": True,
    }
    if run_name not in os.environ.get("FAKE_TRAIN_NO_SUMMARY", "").split(","):
        with open(os.path.join(args.workdir, "summary.json"), "w") as f:
            json.dump(summary, f)

    if run_name == os.environ.get("FAKE_TRAIN_KILL_SWEEP_AFTER"):
        os.kill(os.getppid(), signal.SIGKILL)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
