"""Each new LRA task loads from a tiny fixture and trains 2 steps through the normal trainer."""

import json

import pytest

import lra_fixtures
from configs import image, pathfinder, pathx, retrieval, text
from launch import trainer as trainer_lib
from tasks import cache


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch):
    monkeypatch.delenv(cache.DATA_DIR_ENV, raising=False)
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)


def tiny(config_module, tmp_path, data_dir, *, batch_size, **task_options):
    """Returns the task's smoke config shrunk to a 1-layer model and a 2-step run."""
    config = config_module.get_config("model=tnn,smoke")
    config.task.data_dir = str(data_dir) if data_dir else ""
    config.task.cache_dir = str(tmp_path / "cache")
    for key, value in task_options.items():
        config.task[key] = value
    config.model.num_layers = 1
    config.model.width = 8
    config.model.rpe_dim = 8
    config.model.rpe_layers = 1
    config.batch_size = batch_size
    config.eval_batch_size = 4
    config.num_epochs = 1
    config.log_every_steps = 1
    config.checkpoint_every_steps = 100
    config.wandb.mode = "disabled"
    return config


def run_two_steps(config, tmp_path):
    workdir = tmp_path / "run"
    summary = trainer_lib.train_and_evaluate(config, str(workdir))
    assert summary["status"] == "completed"
    assert summary["steps"] == 2
    assert summary["task"] == config.task.name
    assert summary["seq_len"] == config.task.max_length
    assert json.loads((workdir / "summary.json").read_text())["task_info"]["task"] == config.task.name
    return summary


def test_text_trains_two_steps(tmp_path):
    lra_fixtures.write_imdb_archive(tmp_path / "data", lra_fixtures.imdb_reviews(12))
    config = tiny(text, tmp_path, tmp_path / "data", batch_size=10, max_length=64, val_size=4,
                  max_examples=0)
    summary = run_two_steps(config, tmp_path)
    assert summary["test_examples"] == 24
    assert summary["task_info"]["val_source"] == f"held out from train (4 examples, seed {config.seed})"


def test_retrieval_trains_two_steps(tmp_path):
    lra_fixtures.write_aan_tsvs(tmp_path / "data" / "tsv_data", {
        "train": lra_fixtures.aan_rows(8), "eval": lra_fixtures.aan_rows(3, seed=1),
        "test": lra_fixtures.aan_rows(5, seed=2),
    })
    config = tiny(retrieval, tmp_path, tmp_path / "data", batch_size=4, max_length=32, max_examples=0)
    summary = run_two_steps(config, tmp_path)
    assert summary["test_examples"] == 5


def test_image_trains_two_steps(tmp_path):
    lra_fixtures.write_cifar_folder(tmp_path / "data", lra_fixtures.cifar_batches(4, 6), "binary")
    config = tiny(image, tmp_path, tmp_path / "data", batch_size=8, val_size=4, max_examples=0)
    summary = run_two_steps(config, tmp_path)
    assert summary["test_examples"] == 6


def test_pathfinder_trains_two_steps_on_generated_images(tmp_path):
    config = tiny(pathfinder, tmp_path, None, batch_size=8, difficulty="easy", num_images=20,
                  num_workers=1)
    summary = run_two_steps(config, tmp_path)
    assert summary["test_examples"] == 2
    assert summary["task_info"]["generated"]
    assert summary["task_info"]["num_skipped"] == 0


def test_pathx_trains_two_steps(tmp_path):
    written = lra_fixtures.write_pathfinder(tmp_path / "data", resolution=128, folder="curv_contour_length_14",
                                            labels_by_batch=[[0, 1] * 10, [1]])
    open(written[-1][0], "wb").close()
    config = tiny(pathx, tmp_path, tmp_path / "data", batch_size=8, max_examples=0)
    summary = run_two_steps(config, tmp_path)
    assert summary["test_examples"] == 2
    assert summary["task_info"]["num_skipped"] == 1
