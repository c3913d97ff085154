"""The one trainer for every task: a jitted, pure train step on a data-parallel device mesh.

`train_and_evaluate(config, workdir)` loads the task, builds the model from `config.model`,
trains with AdamW (linear warm-up, cosine decay), evaluates on the whole validation split,
checkpoints with orbax, and finally reports the test accuracy of the checkpoint that was best on
validation. The workdir receives `config.json`, `metrics.jsonl`, `summary.json` and
`checkpoints/`; a workdir that already contains a checkpoint is resumed from it.

The batch is sharded on the `data` axis of a mesh over all devices, and one device is a mesh
of size 1. The train state is replicated. Throughput is measured over logging windows after
`block_until_ready`, and compilation is done ahead of time and timed on its own.
"""

import contextlib
import dataclasses
import fcntl
import hashlib
import math
import os
import resource
import statistics
import time
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import tqdm
from absl import logging
from flax import nnx
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding, PartitionSpec

import tasks
import tnn
from launch import builders, checkpointing, tracker as tracker_lib
from tasks import pipeline

DATA_AXIS = "data"


@dataclasses.dataclass(frozen=True)
class Schedule:
    """The run length, derived once from epochs, the train split size and the batch size."""

    steps_per_epoch: int
    total_steps: int
    warmup_steps: int
    eval_every_steps: int


def schedule_steps(config: ml_collections.ConfigDict, num_train_examples: int) -> Schedule:
    """Computes the run length: num_epochs x (train examples // global batch), nothing else."""
    steps_per_epoch = num_train_examples // config.batch_size
    if steps_per_epoch < 1:
        raise ValueError(
            f"batch_size {config.batch_size} is larger than the train split "
            f"({num_train_examples} examples). Lower --config.batch_size."
        )
    if config.num_epochs < 1:
        raise ValueError(f"Invalid num_epochs {config.num_epochs}: train for at least one epoch.")
    total_steps = config.num_epochs * steps_per_epoch
    eval_every = config.eval_every_steps or steps_per_epoch
    return Schedule(
        steps_per_epoch=steps_per_epoch,
        total_steps=total_steps,
        # A warm-up longer than the run would never reach the peak rate.
        warmup_steps=min(config.optim.warmup_steps, total_steps // 2),
        eval_every_steps=eval_every,
    )


def make_optimizer(optim: ml_collections.ConfigDict, schedule: Schedule):
    """AdamW with linear warm-up to the peak rate, then cosine decay to zero at the last step."""
    learning_rate = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=optim.learning_rate,
        warmup_steps=schedule.warmup_steps,
        decay_steps=schedule.total_steps,
        end_value=0.0,
    )
    tx = optax.adamw(
        learning_rate, b1=optim.b1, b2=optim.b2, eps=optim.eps, weight_decay=optim.weight_decay
    )
    return tx, learning_rate


def check_workdir(workdir: str) -> str:
    """Creates the workdir and checks that it can be written, before any expensive work."""
    workdir = os.path.abspath(workdir)
    try:
        os.makedirs(workdir, exist_ok=True)
        # One probe file per process, because every host of a multi-host run checks the workdir.
        probe = os.path.join(workdir, f".write_test.{os.getpid()}")
        with open(probe, "w") as f:
            f.write("ok")
        os.remove(probe)
    except OSError as error:
        raise PermissionError(
            f"Cannot write to workdir {workdir!r} ({error.strerror}). "
            "Pass a writable directory with --workdir."
        ) from error
    return workdir


def peak_memory() -> tuple[int | None, str]:
    """Returns the peak memory in bytes and where it was read.

    Accelerators report the device's peak bytes in use. The CPU backend reports none, so the
    process's peak resident set size is used instead, which includes the Python process itself.
    """
    stats = jax.local_devices()[0].memory_stats()
    if stats and "peak_bytes_in_use" in stats:
        return int(stats["peak_bytes_in_use"]), "device"
    # ru_maxrss is in KiB on Linux.
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "host_rss"


def _cross_entropy(logits_BK, label_B):
    return optax.softmax_cross_entropy_with_integer_labels(logits_BK.astype(jnp.float32), label_B)


class Trainer:
    """Holds the model, the optimizer state and the compiled steps for one run."""

    def __init__(self, config: ml_collections.ConfigDict, spec, schedule: Schedule):
        self.config = config
        self.spec = spec
        self.schedule = schedule
        # Auto axes let XLA propagate the batch sharding through the model, so tnn/ needs no
        # sharding annotations.
        self.mesh = jax.make_mesh(
            (jax.device_count(),), (DATA_AXIS,), axis_types=(jax.sharding.AxisType.Auto,)
        )
        num_devices = jax.device_count()
        for name in ("batch_size", "eval_batch_size"):
            if config[name] % num_devices:
                raise ValueError(
                    f"{name} {config[name]} is not divisible by the {num_devices} devices of the "
                    f"mesh. Set --config.{name} to a multiple of {num_devices}."
                )
        self.replicated = NamedSharding(self.mesh, PartitionSpec())
        self.batch_sharding = NamedSharding(self.mesh, PartitionSpec(DATA_AXIS))

        self.model_config = builders.model_config(config.model, spec)
        self.tx, self.learning_rate = make_optimizer(config.optim, schedule)

        def create():
            rngs = nnx.Rngs(params=config.seed, dropout=config.seed + 1)
            model = tnn.Classifier(self.model_config, rngs=rngs)
            return model, nnx.Optimizer(model, self.tx, wrt=nnx.Param)

        # Shapes first, then the arrays themselves inside jit, placed replicated on the mesh: this
        # also works when the mesh spans devices of other processes.
        model, optimizer = nnx.eval_shape(create)
        self.num_params = tnn.count_params(model)
        model.train()
        self.train_graphdef, _ = nnx.split(model)
        model.eval()
        self.eval_graphdef, _ = nnx.split(model)
        self.optimizer_graphdef, _ = nnx.split(optimizer)

        def init_state():
            model, optimizer = create()
            return {"model": nnx.state(model), "optimizer": nnx.state(optimizer)}

        self.state = jax.jit(init_state, out_shardings=self.replicated)()

        self.train_traces = 0  # Incremented at every trace, so tests can check it compiles once.
        self._train_step = None
        self._eval_step = None
        self.compile_seconds: dict[str, float] = {}

    # Pure step functions: (state, batch) -> (state, metrics). They close over graph
    # definitions only, never over arrays.
    def _train_step_fn(self, state, batch):
        self.train_traces += 1
        model = nnx.merge(self.train_graphdef, state["model"])
        optimizer = nnx.merge(self.optimizer_graphdef, state["optimizer"])

        def loss_fn(model):
            logits_BK = model(batch["inputs"], batch["mask"])
            loss = _cross_entropy(logits_BK, batch["label"]).mean()
            return loss, logits_BK

        (loss, logits_BK), grads = nnx.value_and_grad(loss_fn, has_aux=True)(model)
        optimizer.update(model, grads)
        correct = jnp.sum(jnp.argmax(logits_BK, axis=-1) == batch["label"])
        metrics = {
            "loss": loss,
            "correct": correct,
            "grad_norm": optax.global_norm(grads),
        }
        new_state = {"model": nnx.state(model), "optimizer": nnx.state(optimizer)}
        return new_state, metrics

    def _eval_step_fn(self, model_state, batch):
        model = nnx.merge(self.eval_graphdef, model_state)
        logits_BK = model(batch["inputs"], batch["mask"])
        valid_B = batch["valid"]
        losses_B = _cross_entropy(logits_BK, batch["label"])
        correct_B = jnp.argmax(logits_BK, axis=-1) == batch["label"]
        return {
            "loss_sum": jnp.sum(jnp.where(valid_B, losses_B, 0.0)),
            "correct": jnp.sum(correct_B & valid_B),
            "count": jnp.sum(valid_B),
        }

    def shard_batch(self, batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
        """Places a process-local batch on the mesh, split along the data axis."""
        return {
            key: jax.make_array_from_process_local_data(self.batch_sharding, np.asarray(value))
            for key, value in batch.items()
        }

    def compile(self, train_batch: dict[str, jax.Array], eval_batch: dict[str, jax.Array]) -> None:
        """Compiles both steps ahead of time and records how long each took.

        Later calls with another shape or sharding raise instead of compiling again, so the train
        step compiles exactly once per run.
        """
        start = time.perf_counter()
        train_jit = jax.jit(
            self._train_step_fn,
            donate_argnums=0,
            out_shardings=(self.replicated, self.replicated),
        )
        self._train_step = train_jit.lower(self.state, train_batch).compile()
        self.compile_seconds["train_step"] = time.perf_counter() - start

        start = time.perf_counter()
        eval_jit = jax.jit(self._eval_step_fn, out_shardings=self.replicated)
        self._eval_step = eval_jit.lower(self.state["model"], eval_batch).compile()
        self.compile_seconds["eval_step"] = time.perf_counter() - start

    def train_step(self, batch: dict[str, jax.Array]) -> dict[str, jax.Array]:
        self.state, metrics = self._train_step(self.state, batch)
        return metrics

    def evaluate(self, batches: Iterator[dict[str, np.ndarray]]) -> dict[str, float]:
        """Evaluates on a whole split: sums over every valid example, then divides once."""
        totals = {"loss_sum": 0.0, "correct": 0, "count": 0}
        for batch in batches:
            sums = jax.device_get(self._eval_step(self.state["model"], self.shard_batch(batch)))
            for key in totals:
                totals[key] += sums[key].item()
        count = totals["count"]
        if count == 0:
            raise ValueError("Evaluation split is empty: there is nothing to evaluate.")
        return {
            "loss": totals["loss_sum"] / count,
            "accuracy": totals["correct"] / count,
            "count": count,
        }


def _load_task(config: ml_collections.ConfigDict):
    """Loads the task; in a multi-host run process 0 generates and prepares the data first."""

    def load():
        return tasks.load_task(
            config.task.name,
            data_dir=config.task.data_dir or None,
            cache_dir=config.task.cache_dir or None,
            seed=config.seed,
            options=builders.task_options(config.task),
        )

    if jax.process_count() == 1:
        return load()
    # The cache is shared, so only one process may write it; the others then read it.
    loaded = load() if jax.process_index() == 0 else None
    multihost_utils.sync_global_devices("tnn_lra: task data prepared")
    return loaded if loaded is not None else load()


def _majority_rate(source) -> float:
    labels = pipeline.labels(source)
    if len(labels) == 0:
        return float("nan")
    return float(np.bincount(labels).max() / len(labels))


@contextlib.contextmanager
def workdir_lock(workdir: str):
    """Holds an exclusive lock on the workdir, so two trainers never write one run directory.

    Only process 0 locks, because file locks are unreliable on the network file systems that
    multi-host runs share.
    """
    if jax.process_index() != 0:
        yield
        return
    with open(os.path.join(workdir, ".lock"), "w") as lock_file:
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            raise RuntimeError(
                f"Another trainer is already running in workdir {workdir!r}. Wait for it to finish or "
                "stop it, or pass another --workdir."
            ) from error
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, *, stop_at_step: int | None = None
) -> dict[str, Any] | None:
    """Trains and evaluates one run, writing everything into `workdir`.

    Args:
      config: a config from `configs/<task>.py`.
      workdir: the run directory; a checkpoint found there is resumed.
      stop_at_step: save a checkpoint and return None once this step is reached, as a preempted
        run would. The learning-rate schedule still follows the full run length.

    Returns:
      The summary written to `summary.json`, or None when stopped early.
    """
    tracker_lib.check_wandb_mode(config.wandb.mode)
    workdir = check_workdir(workdir)
    with workdir_lock(workdir):
        return _train_and_evaluate(config, workdir, stop_at_step)


def _train_and_evaluate(
    config: ml_collections.ConfigDict, workdir: str, stop_at_step: int | None
) -> dict[str, Any] | None:
    commit = tracker_lib.git_commit()
    loaded = _load_task(config)
    spec = loaded.spec
    schedule = schedule_steps(config, len(loaded.splits["train"]))
    trainer = Trainer(config, spec, schedule)

    process_count = jax.process_count()
    process_index = jax.process_index()
    local_batch = config.batch_size // process_count
    local_eval_batch = config.eval_batch_size // process_count
    train_iter = pipeline.train_iterator(
        loaded.splits["train"],
        spec,
        batch_size=local_batch,
        seed=config.seed,
        shard_index=process_index,
        shard_count=process_count,
    )

    def eval_split(split: str) -> dict[str, float]:
        # eval_batches gives every process the same number of batches, so the jitted eval step
        # runs in lockstep on all hosts.
        batches = pipeline.eval_batches(
            loaded.splits[split],
            spec,
            batch_size=local_eval_batch,
            shard_index=process_index,
            shard_count=process_count,
        )
        return trainer.evaluate(batches)

    checkpointer = checkpointing.Checkpointer(
        os.path.join(workdir, "checkpoints"), keep=config.keep_checkpoints
    )
    step = 0
    best = {"val_accuracy": -1.0, "step": None}
    latest = checkpointer.latest_step()
    if latest is not None:
        trainer.state, data_state, meta = checkpointer.restore(latest, trainer.state)
        train_iter.set_state(data_state)
        step = int(meta["step"])
        best = {"val_accuracy": meta["best_val_accuracy"], "step": meta["best_step"]}
        logging.info("Resumed from the checkpoint at step %d in %s.", step, checkpointer.directory)

    config_record = {
        "config": config.to_dict(),
        "git_commit": commit,
        "task_info": loaded.info,
        "num_params": trainer.num_params,
        "schedule": dataclasses.asdict(schedule),
    }
    # A stable id, so that a resumed run continues the same W&B run.
    run_id = (
        f"{config.task.name}-{config.model.mixer}-{hashlib.sha1(workdir.encode()).hexdigest()[:8]}"
    )
    tracker = tracker_lib.make_tracker(
        workdir,
        config.wandb,
        run_id=run_id,
        config=config_record,
        is_main_process=process_index == 0,
        resume_step=step if latest is not None else None,
    )
    tracker.log_config(config_record)

    first_batch = trainer.shard_batch(next(train_iter))
    eval_example = next(
        iter(
            pipeline.eval_batches(
                loaded.splits["val"],
                spec,
                batch_size=local_eval_batch,
                shard_index=process_index,
                shard_count=process_count,
            )
        )
    )
    trainer.compile(first_batch, trainer.shard_batch(eval_example))
    logging.info(
        "Compiled the train step in %.1f s and the eval step in %.1f s.",
        trainer.compile_seconds["train_step"],
        trainer.compile_seconds["eval_step"],
    )
    tokens_per_example = spec.max_length * spec.num_inputs

    def save(step: int, val_accuracy: float | None = None) -> None:
        meta = {"step": step, "best_val_accuracy": best["val_accuracy"], "best_step": best["step"]}
        checkpointer.save(step, trainer.state, train_iter.get_state(), meta, val_accuracy)

    def run_eval(step: int) -> None:
        val = eval_split("val")
        improved = val["accuracy"] > best["val_accuracy"]
        if improved:
            best.update(val_accuracy=val["accuracy"], step=step)
        tracker.log_metrics(step, {"val/loss": val["loss"], "val/accuracy": val["accuracy"]})
        logging.info(
            "step %d: val accuracy %.4f (loss %.4f, %d examples)%s",
            step,
            val["accuracy"],
            val["loss"],
            val["count"],
            " new best" if improved else "",
        )
        save(step, val["accuracy"])

    window = {"times": [], "sums": [], "steps": 0, "start": time.perf_counter()}

    def flush_window(step: int) -> None:
        """Logs the train metrics of the steps since the last flush and restarts the clock."""
        if not window["steps"]:
            window["start"] = time.perf_counter()
            return

        sums = jax.device_get(jax.block_until_ready(window["sums"]))
        step_seconds = (time.perf_counter() - window["start"]) / window["steps"]
        window["times"].append(step_seconds)
        loss = float(np.mean([m["loss"] for m in sums]))
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"Train loss is {loss} at step {step}; the checkpoints before it are kept in "
                f"{checkpointer.directory}. Lower --config.optim.learning_rate."
            )

        accuracy = float(sum(m["correct"] for m in sums)) / (window["steps"] * config.batch_size)
        examples_per_sec = config.batch_size / step_seconds
        tracker.log_metrics(
            step,
            {
                "train/loss": loss,
                "train/accuracy": accuracy,
                "train/grad_norm": float(np.mean([m["grad_norm"] for m in sums])),
                "train/learning_rate": float(trainer.learning_rate(step - 1)),
                "train/examples_per_sec": examples_per_sec,
                "train/tokens_per_sec": examples_per_sec * tokens_per_example,
                "train/step_seconds": step_seconds,
            },
        )
        progress.set_postfix(
            loss=f"{loss:.3f}", acc=f"{accuracy:.3f}", ex_s=f"{examples_per_sec:.0f}"
        )
        window.update(sums=[], steps=0, start=time.perf_counter())

    progress = tqdm.tqdm(
        total=schedule.total_steps,
        initial=step,
        desc=config.task.name,
        unit="step",
        dynamic_ncols=True,
        disable=process_index != 0,
    )
    try:
        batch = first_batch
        while step < schedule.total_steps:
            if batch is None:
                batch = trainer.shard_batch(next(train_iter))
            window["sums"].append(trainer.train_step(batch))
            batch = None
            step += 1
            window["steps"] += 1
            progress.update(1)

            at_log = step % config.log_every_steps == 0 or step == schedule.total_steps
            at_eval = step % schedule.eval_every_steps == 0 or step == schedule.total_steps
            at_save = step % config.checkpoint_every_steps == 0 or step == stop_at_step
            if at_log or at_eval or at_save:
                flush_window(step)
            if at_eval:
                run_eval(step)
            elif at_save:
                save(step)
            if at_eval or at_save:
                # Evaluation and checkpoint writing are not training time.
                window["start"] = time.perf_counter()
            if stop_at_step is not None and step >= stop_at_step:
                progress.close()
                tracker.close()
                checkpointer.close()
                logging.info("Stopped at step %d as requested; the checkpoint is saved.", step)
                return None
    except KeyboardInterrupt:
        progress.close()
        # The state matches `step` unless the interrupt came while a step was being dispatched,
        # in which case its buffers were donated and the previous checkpoint is the one to use.
        try:
            save(step)
            logging.warning(
                "Interrupted at step %d; saved a checkpoint. Rerun the same command to resume.",
                step,
            )
        except Exception as error:  # Any failure here must not hide the interrupt.
            logging.warning(
                "Interrupted at step %d; could not save a checkpoint (%s). Rerunning resumes "
                "from step %s.",
                step,
                error,
                checkpointer.latest_step(),
            )
        tracker.close()
        checkpointer.close()
        raise
    progress.close()

    if best["step"] is not None and best["step"] != step:
        trainer.state, _, _ = checkpointer.restore(best["step"], trainer.state)
    test = eval_split("test")
    memory_bytes, memory_source = peak_memory()
    median_step = statistics.median(window["times"]) if window["times"] else float("nan")
    examples_per_sec = config.batch_size / median_step
    summary = {
        "status": "completed",
        "task": config.task.name,
        "model": config.model.mixer,
        "smoke": bool(config.smoke),
        "val_accuracy": best["val_accuracy"],
        "best_step": best["step"],
        "selected_split": "val",
        "test_accuracy": test["accuracy"],
        "test_loss": test["loss"],
        "test_examples": test["count"],
        "majority_rate": _majority_rate(loaded.splits["test"]),
        "train_examples_per_sec": examples_per_sec,
        "train_tokens_per_sec": examples_per_sec * tokens_per_example,
        "train_step_seconds": median_step,
        "compile_seconds": trainer.compile_seconds["train_step"],
        "eval_compile_seconds": trainer.compile_seconds["eval_step"],
        "peak_memory_bytes": memory_bytes,
        "peak_memory_source": memory_source,
        "num_params": trainer.num_params,
        "steps": step,
        "seq_len": spec.max_length,
        "batch_size": config.batch_size,
        "num_devices": jax.device_count(),
        "backend": jax.default_backend(),
        "git_commit": commit,
        "task_info": loaded.info,
    }
    tracker.log_metrics(step, {"test/accuracy": test["accuracy"], "test/loss": test["loss"]})
    tracker.log_summary(summary)
    tracker.close()
    checkpointer.close()
    return summary
