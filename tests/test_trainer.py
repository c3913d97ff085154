"""The trainer: loss goes down, resume is exact, the step compiles once, eval counts each
example once, and bad workdirs or W&B failures are handled."""

import json
import os

import jax
import numpy as np
import pytest

from configs import listops
from launch import checkpointing, trainer as trainer_lib, tracker as tracker_lib
from tasks import pipeline
from tiny import tiny_config


def _trainer(config):
    loaded = trainer_lib._load_task(config)
    schedule = trainer_lib.schedule_steps(config, len(loaded.splits["train"]))
    return trainer_lib.Trainer(config, loaded.spec, schedule), loaded


def test_schedule_derived_from_epochs(tmp_path):
    config = tiny_config(tmp_path)
    schedule = trainer_lib.schedule_steps(config, 64)
    assert schedule.steps_per_epoch == 8
    assert schedule.total_steps == 16
    assert schedule.eval_every_steps == 8


def test_schedule_rejects_batch_larger_than_split(tmp_path):
    config = tiny_config(tmp_path, batch_size=128)
    with pytest.raises(ValueError, match="batch_size 128"):
        trainer_lib.schedule_steps(config, 64)


def test_train_steps_lower_loss(tmp_path):
    # A long schedule keeps the learning rate near its peak for the steps below.
    config = tiny_config(tmp_path, num_epochs=50, **{"model.input_dropout": 0.0})
    trainer, loaded = _trainer(config)
    batches = pipeline.train_iterator(loaded.splits["train"], loaded.spec, batch_size=8, seed=0)
    batch = trainer.shard_batch(next(batches))
    eval_batch = trainer.shard_batch(
        next(iter(pipeline.eval_batches(loaded.splits["val"], loaded.spec, batch_size=10)))
    )
    trainer.compile(batch, eval_batch)
    first = float(trainer.train_step(batch)["loss"])
    for _ in range(15):
        last = float(trainer.train_step(batch)["loss"])
    assert last < first * 0.8


def test_train_step_compiles_once(tmp_path):
    config = tiny_config(tmp_path)
    trainer, loaded = _trainer(config)
    batches = pipeline.train_iterator(loaded.splits["train"], loaded.spec, batch_size=8, seed=0)
    eval_batch = trainer.shard_batch(
        next(iter(pipeline.eval_batches(loaded.splits["val"], loaded.spec, batch_size=10)))
    )
    trainer.compile(trainer.shard_batch(next(batches)), eval_batch)
    for _ in range(4):
        trainer.train_step(trainer.shard_batch(next(batches)))
    assert trainer.train_traces == 1

    wrong_shape = {key: value[:4] for key, value in next(batches).items()}
    with pytest.raises(Exception):
        trainer.train_step(trainer.shard_batch(wrong_shape))
    assert trainer.train_traces == 1


def test_eval_counts_each_example_once(tmp_path):
    config = tiny_config(tmp_path)
    trainer, loaded = _trainer(config)
    val = loaded.splits["val"]
    assert len(val) % config.eval_batch_size != 0
    batches = list(pipeline.eval_batches(val, loaded.spec, batch_size=config.eval_batch_size))
    train_batch = trainer.shard_batch(
        next(pipeline.train_iterator(loaded.splits["train"], loaded.spec, batch_size=8, seed=0))
    )
    trainer.compile(train_batch, trainer.shard_batch(batches[0]))
    result = trainer.evaluate(iter(batches))
    assert result["count"] == len(val)

    # The same accuracy from a per-example loop, one example per row of a batch.
    from flax import nnx

    model = nnx.merge(trainer.eval_graphdef, trainer.state["model"])
    correct = 0
    for i in range(len(val)):
        example = val[i]
        row = next(iter(pipeline.eval_batches([example], loaded.spec, batch_size=1)))
        logits = model(row["inputs"], row["mask"])
        correct += int(np.argmax(np.asarray(logits)[0]) == int(example["label"]))
    assert result["accuracy"] == pytest.approx(correct / len(val), abs=1e-6)


def _final_state(workdir):
    manager = checkpointing.Checkpointer(os.path.join(workdir, "checkpoints"), keep=2)
    step = manager.latest_step()
    arrays = manager.restore_arrays(step)
    manager.close()
    return step, checkpointing.host_copy(arrays)


def test_resume_matches_uninterrupted_run(tmp_path):
    config = tiny_config(tmp_path)
    straight = tmp_path / "straight"
    resumed = tmp_path / "resumed"
    summary = trainer_lib.train_and_evaluate(config, str(straight))
    assert trainer_lib.train_and_evaluate(config, str(resumed), stop_at_step=7) is None
    assert not (resumed / "summary.json").exists()
    resumed_summary = trainer_lib.train_and_evaluate(config, str(resumed))

    step_a, state_a = _final_state(straight)
    step_b, state_b = _final_state(resumed)
    assert step_a == step_b == summary["steps"] == resumed_summary["steps"]
    leaves_a = jax.tree.leaves(state_a)
    leaves_b = jax.tree.leaves(state_b)
    assert len(leaves_a) == len(leaves_b)
    for a, b in zip(leaves_a, leaves_b):
        np.testing.assert_array_equal(a, b)
    assert summary["test_accuracy"] == resumed_summary["test_accuracy"]


def test_run_writes_workdir_contract(tmp_path):
    config = tiny_config(tmp_path)
    workdir = tmp_path / "run"
    summary = trainer_lib.train_and_evaluate(config, str(workdir))
    for name in ("config.json", "metrics.jsonl", "summary.json"):
        assert (workdir / name).exists(), name
    on_disk = json.loads((workdir / "summary.json").read_text())
    required = [
        "task",
        "model",
        "val_accuracy",
        "test_accuracy",
        "majority_rate",
        "train_examples_per_sec",
        "train_tokens_per_sec",
        "compile_seconds",
        "peak_memory_bytes",
        "num_params",
        "steps",
        "git_commit",
    ]
    for key in required:
        assert key in on_disk, key
    assert on_disk == json.loads(json.dumps(summary))
    assert on_disk["task"] == "listops"
    assert on_disk["steps"] == 16
    assert on_disk["test_examples"] == 29
    assert 0.0 < on_disk["majority_rate"] <= 1.0
    assert on_disk["train_examples_per_sec"] > 0
    assert on_disk["num_params"] > 0

    records = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert any("train/loss" in r for r in records)
    assert any("val/accuracy" in r for r in records)
    config_record = json.loads((workdir / "config.json").read_text())
    assert config_record["config"]["model"]["mixer"] == "tnn"
    assert config_record["git_commit"] == on_disk["git_commit"]


def test_checkpoints_keep_last_and_best(tmp_path):
    config = tiny_config(tmp_path, checkpoint_every_steps=2, keep_checkpoints=1)
    workdir = tmp_path / "run"
    summary = trainer_lib.train_and_evaluate(config, str(workdir))
    manager = checkpointing.Checkpointer(str(workdir / "checkpoints"), keep=1)
    steps = manager.all_steps()
    manager.close()
    assert summary["steps"] in steps
    assert summary["best_step"] in steps
    assert len(steps) <= 2


def test_unwritable_workdir_fails_fast(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(PermissionError, match="Cannot write to workdir"):
        trainer_lib.train_and_evaluate(tiny_config(tmp_path), str(blocker / "run"))


def test_wandb_failure_falls_back_to_local_files(tmp_path, monkeypatch):
    import wandb

    def broken_init(*args, **kwargs):
        raise RuntimeError("network unreachable")

    monkeypatch.setattr(wandb, "init", broken_init)
    tracker = tracker_lib.make_tracker(
        str(tmp_path),
        {"mode": "online", "project": "p", "entity": "", "group": "", "name": ""},
        run_id="test",
        config={},
    )
    assert len(tracker.trackers) == 1
    tracker.log_metrics(1, {"loss": 1.0})
    tracker.close()
    assert (tmp_path / "metrics.jsonl").read_text().strip() == '{"loss": 1.0, "step": 1}'


def test_wandb_error_while_logging_disables_it(tmp_path, monkeypatch):
    import wandb

    class BrokenRun:
        config = None

        def log(self, *args, **kwargs):
            raise OSError("disk full")

        def finish(self):
            pass

    monkeypatch.setattr(wandb, "init", lambda *args, **kwargs: BrokenRun())
    tracker = tracker_lib.make_tracker(
        str(tmp_path),
        {"mode": "offline", "project": "p", "entity": "", "group": "", "name": ""},
        run_id="test",
        config={},
    )
    assert len(tracker.trackers) == 2
    tracker.log_metrics(1, {"loss": 1.0})
    tracker.log_metrics(2, {"loss": 0.5})
    tracker.close()
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 2


def test_invalid_wandb_mode_raises(tmp_path):
    with pytest.raises(ValueError, match="wandb.mode"):
        tracker_lib.make_tracker(str(tmp_path), {"mode": "onlin"}, run_id="x", config={})


_SHARDED_RUN = """
import json, sys
sys.path.insert(0, {tests_dir!r})
import pathlib
from tiny import tiny_config
from launch import trainer
config = tiny_config(pathlib.Path({tmp!r}), eval_batch_size=12)
summary = trainer.train_and_evaluate(config, {workdir!r})
print("SUMMARY" + json.dumps(summary))
"""


def test_trainer_on_four_fake_devices_matches_one(tmp_path):
    """The batch is split over a 4-device mesh; the result matches the 1-device run."""
    import subprocess
    import sys

    single = trainer_lib.train_and_evaluate(
        tiny_config(tmp_path, eval_batch_size=12), str(tmp_path / "single")
    )
    script = _SHARDED_RUN.format(
        tests_dir=os.path.dirname(__file__), tmp=str(tmp_path), workdir=str(tmp_path / "sharded")
    )
    env = dict(
        os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(l for l in result.stdout.splitlines() if l.startswith("SUMMARY"))
    sharded = json.loads(line[len("SUMMARY") :])
    assert sharded["num_devices"] == 4
    assert single["num_devices"] == 1
    assert sharded["steps"] == single["steps"]
    # Sums over a sharded batch run in another order, so allow float32 round-off.
    assert sharded["test_loss"] == pytest.approx(single["test_loss"], rel=1e-3)


def test_second_trainer_on_same_workdir_fails(tmp_path):
    workdir = trainer_lib.check_workdir(str(tmp_path / "run"))
    with trainer_lib.workdir_lock(workdir):
        with pytest.raises(RuntimeError, match="Another trainer is already running"):
            trainer_lib.train_and_evaluate(tiny_config(tmp_path), workdir)
    # The lock is released with the first holder, so the run can start now.
    with trainer_lib.workdir_lock(workdir):
        pass


def test_local_tracker_drops_records_after_resume_step(tmp_path):
    tracker = tracker_lib.LocalTracker(str(tmp_path))
    for step in range(1, 11):
        tracker.log_metrics(step, {"loss": float(step)})
    tracker.close()
    resumed = tracker_lib.LocalTracker(str(tmp_path), resume_step=5)
    resumed.log_metrics(6, {"loss": 6.0})
    resumed.close()
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_interrupt_saves_checkpoint_and_resumes(tmp_path, monkeypatch):
    config = tiny_config(tmp_path)
    workdir = tmp_path / "run"
    original_step = trainer_lib.Trainer.train_step
    calls = {"count": 0}

    def interrupted_step(self, batch):
        calls["count"] += 1
        if calls["count"] == 4:
            raise KeyboardInterrupt
        return original_step(self, batch)

    monkeypatch.setattr(trainer_lib.Trainer, "train_step", interrupted_step)
    with pytest.raises(KeyboardInterrupt):
        trainer_lib.train_and_evaluate(config, str(workdir))
    monkeypatch.setattr(trainer_lib.Trainer, "train_step", original_step)

    manager = checkpointing.Checkpointer(str(workdir / "checkpoints"), keep=2)
    assert manager.latest_step() == 3
    manager.close()
    summary = trainer_lib.train_and_evaluate(config, str(workdir))
    assert summary["steps"] == 16
    steps = [json.loads(line)["step"] for line in (workdir / "metrics.jsonl").read_text().splitlines()
             if "train/loss" in line]
    assert len(steps) == len(set(steps))
