"""The `train` benchmark: train-step throughput of every task x mixer at the task's real length.

  python -m launch.bench train                         # results/bench/train-<platform>.*
  python -m launch.bench train --tasks listops,image --mixers tnn,fd --repeats 3

Each task's config is built with `smoke` (the smoke width and depth) and its real padded length.
The trainer's own jitted train step (forward, backward, AdamW update) runs on random tokens of
that shape, so the input pipeline is not part of the measurement.

For each task x mixer the page gives the compile time and the median step time over --repeats
rounds after one warm-up step, each step timed up to `block_until_ready`. A round steps every
mixer of the task once in turn, so that load from other processes falls on all mixers alike. It also gives examples/s,
tokens/s, the compiled step's memory from XLA's memory analysis, and examples/s as a ratio to
`tnn` on the same task, measured in the same run.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import json
import os
import shlex
import statistics
import time

import jax
import numpy as np

import tasks
from launch import trainer as trainer_lib

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
MIXERS = ("tnn", "ski", "sparse_ski", "interp", "fd")
BASELINE = "tnn"


@dataclasses.dataclass
class TrainMeasurement:
    """One task x mixer: seconds, examples/s and bytes."""

    task: str
    mixer: str
    seq_len: int
    num_inputs: int
    batch_size: int
    compile_s: float
    step_s: float
    memory_bytes: int | None

    @property
    def examples_per_sec(self) -> float:
        return self.batch_size / self.step_s

    @property
    def tokens_per_sec(self) -> float:
        return self.examples_per_sec * self.seq_len * self.num_inputs


def _names(text: str, known: tuple[str, ...], what: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown {what} {', '.join(unknown)}; known: {', '.join(known)}"
        )
    return names


def random_batch(spec, batch_size: int, seed: int) -> dict[str, np.ndarray]:
    """Returns a full-length batch of random tokens in the task's vocabulary."""
    rng = np.random.default_rng(seed)
    shape = (
        (batch_size, spec.max_length)
        if spec.num_inputs == 1
        else (batch_size, spec.num_inputs, spec.max_length)
    )
    return {
        "inputs": rng.integers(0, spec.vocab_size, shape, dtype=np.int32),
        "mask": np.ones(shape, bool),
        "label": rng.integers(0, spec.num_classes, (batch_size,), dtype=np.int32),
        "valid": np.ones((batch_size,), bool),
    }


@dataclasses.dataclass
class _PreparedStep:
    """A compiled train step of one task x mixer, with its batch."""

    mixer: str
    spec: object
    trainer: object
    batch: dict


def _prepare(task: str, mixer: str, batch_size: int) -> _PreparedStep:
    """Builds the smoke model of `task` with `mixer` and compiles its train step."""
    module = importlib.import_module(f"configs.{task}")
    config = module.get_config(f"model={mixer},smoke")
    config.batch_size = batch_size
    config.eval_batch_size = batch_size
    spec = tasks.task_spec(
        task,
        {
            key: value
            for key, value in config.task.items()
            if key not in ("name", "data_dir", "cache_dir")
        },
    )
    # The schedule only shapes the learning rate here; a long one keeps it away from zero.
    schedule = trainer_lib.schedule_steps(config, batch_size * 1000)
    trainer = trainer_lib.Trainer(config, spec, schedule)
    batch = random_batch(spec, batch_size, seed=0)
    train_batch = trainer.shard_batch({k: v for k, v in batch.items() if k != "valid"})
    trainer.compile(train_batch, trainer.shard_batch(batch))
    return _PreparedStep(mixer=mixer, spec=spec, trainer=trainer, batch=train_batch)


def _time_step(prepared: _PreparedStep) -> float:
    start = time.perf_counter()
    metrics = prepared.trainer.train_step(prepared.batch)
    jax.block_until_ready((prepared.trainer.state, metrics))
    return time.perf_counter() - start


def measure_task(
    task: str, mixers: list[str], *, batch_size: int, repeats: int
) -> list[TrainMeasurement]:
    """Times the train step of `task` with every mixer, interleaving their steps.

    All mixers are compiled and stepped once first. Then each of the `repeats` rounds times
    one step of every mixer in turn, so that load from other processes slows all mixers of a
    round alike. Each step time is the median over the rounds.
    """
    from launch import bench  # Imported here: launch.bench imports this module for its parser.

    prepared = [_prepare(task, mixer, batch_size) for mixer in mixers]
    for step in prepared:
        _time_step(step)
    times = {step.mixer: [] for step in prepared}
    for _ in range(repeats):
        for step in prepared:
            times[step.mixer].append(_time_step(step))
    return [
        TrainMeasurement(
            task=task,
            mixer=step.mixer,
            seq_len=step.spec.max_length,
            num_inputs=step.spec.num_inputs,
            batch_size=batch_size,
            compile_s=step.trainer.compile_seconds["train_step"],
            step_s=statistics.median(times[step.mixer]),
            memory_bytes=bench._memory_bytes(step.trainer._train_step),
        )
        for step in prepared
    ]


def write_page(
    path: str, results: list[TrainMeasurement], info: dict[str, str], command: str
) -> None:
    """Writes the markdown page: one table row per task x mixer, with ratios to tnn."""
    base = {m.task: m for m in results if m.mixer == BASELINE}
    lines = [
        "# Train-step throughput per task and mixer",
        "",
        "Written by `python -m launch.bench train`; rerun it to refresh this page. Smoke width and depth,",
        "each task at its real padded length, random tokens (no input pipeline). Step time is the",
        "median over the timed rounds after one warm-up step; a round steps every mixer of the task",
        "once in turn, each step ended by `block_until_ready`;",
        "compile time is measured apart. Memory is XLA's memory analysis of the compiled step",
        "(arguments, outputs and temporaries). `vs tnn` is examples/s divided by `tnn`'s on the",
        "same task, measured in this run.",
        "",
        f"Command: `{command}`",
        "",
        "Machine: " + ", ".join(f"{key} {value}" for key, value in info.items()) + ".",
        "",
        "| task | N | mixer | batch | compile (s) | step (ms) | examples/s | tokens/s | vs tnn | memory (MiB) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for m in results:
        baseline = base.get(m.task)
        ratio = (
            "n/a" if baseline is None else f"{m.examples_per_sec / baseline.examples_per_sec:.2f}x"
        )
        memory = "n/a" if m.memory_bytes is None else f"{m.memory_bytes / 2**20:.1f}"
        length = m.seq_len if m.num_inputs == 1 else f"{m.num_inputs} x {m.seq_len}"
        lines.append(
            f"| {m.task} | {length} | {m.mixer} | {m.batch_size} | {m.compile_s:.1f} | "
            f"{m.step_s * 1e3:.1f} | {m.examples_per_sec:.1f} | {m.tokens_per_sec:,.0f} | {ratio} | "
            f"{memory} |"
        )
    with open(path, "w") as page:
        page.write("\n".join(lines) + "\n")


def run_train(args: argparse.Namespace) -> list[TrainMeasurement]:
    from launch import bench  # Imported here: launch.bench imports this module for its parser.

    mixers = list(dict.fromkeys([BASELINE, *args.mixers]))
    results = []
    for task in args.tasks:
        for result in measure_task(task, mixers, batch_size=args.batch, repeats=args.repeats):
            mixer = result.mixer
            print(
                f"{task:>10} {mixer:>10}: compile {result.compile_s:5.1f} s, step "
                f"{result.step_s * 1e3:8.1f} ms, {result.examples_per_sec:7.1f} examples/s",
                flush=True,
            )
            results.append(result)

    os.makedirs(args.out, exist_ok=True)
    stem = os.path.join(args.out, f"train-{jax.default_backend()}")
    command = "python -m launch.bench " + shlex.join(args.argv)
    write_page(stem + ".md", results, bench.machine_info(), command)
    with open(stem + ".json", "w") as raw:
        json.dump(
            [
                {
                    **dataclasses.asdict(m),
                    "examples_per_sec": m.examples_per_sec,
                    "tokens_per_sec": m.tokens_per_sec,
                }
                for m in results
            ],
            raw,
            indent=2,
        )
    print(f"Wrote {stem}.md and {stem}.json")
    return results


def add_parser(commands) -> None:
    """Registers the `train` subcommand on the benchmark's argument parser."""
    parser = commands.add_parser("train", help="time the train step of every task x mixer")
    parser.add_argument(
        "--tasks",
        type=lambda text: _names(text, TASKS, "task"),
        default=list(TASKS),
        help="tasks, comma-separated (default: all six)",
    )
    parser.add_argument(
        "--mixers",
        type=lambda text: _names(text, MIXERS, "mixer"),
        default=list(MIXERS),
        help="mixers, comma-separated; tnn is always added (default: all)",
    )
    parser.add_argument("--batch", type=int, default=4, help="batch size (default: 4)")
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed rounds (one step of every mixer each), after one warm-up step (default: 5)",
    )
    parser.add_argument(
        "--out",
        default=os.path.join("results", "bench"),
        help="output folder (default: %(default)s)",
    )
    parser.set_defaults(run=run_train)
