"""Every mixer kind trains through the normal trainer: the ListOps smoke config, tiny sizes."""

import pytest

from launch import trainer as trainer_lib
from tasks import pipeline
from tiny import tiny_config

# Small inducing grids and few taps keep the compiled step small. The trainer sets
# max_length to the task's padded length (48).
MIXER_OPTIONS = {"model.num_inducing": 8, "model.num_taps": 5}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    """One generated ListOps cache shared by every mixer's run."""
    return tmp_path_factory.mktemp("listops")


# tnn is covered by tests/test_trainer.py.
@pytest.mark.parametrize("mixer", ["ski", "sparse_ski", "interp", "fd"])
def test_mixer_train_steps_lower_loss(cache_dir, mixer):
    # A long schedule keeps the learning rate near its peak for the steps below.
    config = tiny_config(
        cache_dir, mixer=mixer, num_epochs=50, **{"model.input_dropout": 0.0}, **MIXER_OPTIONS
    )
    loaded = trainer_lib._load_task(config)
    schedule = trainer_lib.schedule_steps(config, len(loaded.splits["train"]))
    trainer = trainer_lib.Trainer(config, loaded.spec, schedule)
    assert trainer.model_config.mixer.kind == mixer
    assert trainer.model_config.mixer.max_length == config.task.max_length

    batches = pipeline.train_iterator(loaded.splits["train"], loaded.spec, batch_size=8, seed=0)
    batch = trainer.shard_batch(next(batches))
    eval_batch = trainer.shard_batch(
        next(iter(pipeline.eval_batches(loaded.splits["val"], loaded.spec, batch_size=10)))
    )
    trainer.compile(batch, eval_batch)
    first = float(trainer.train_step(batch)["loss"])
    for _ in range(15):
        last = float(trainer.train_step(batch)["loss"])
    assert last < first * 0.8, (first, last)
