"""Every shipped config loads, and bad config arguments or keys fail with clear messages."""

import glob
import importlib.util
import os
import subprocess
import sys

import pytest

from configs import base
from launch import builders
from tasks import spec as task_spec

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG_FILES = sorted(
    path
    for path in glob.glob(os.path.join(REPO, "configs", "*.py"))
    if os.path.basename(path) not in ("__init__.py", "base.py")
)


def _load(path):
    module_spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module


def test_config_files_exist():
    names = {os.path.basename(path) for path in CONFIG_FILES}
    assert "listops.py" in names


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
@pytest.mark.parametrize("arg", [None, "smoke", "model=tnn", "model=tnn,smoke"])
def test_config_loads(path, arg):
    config = _load(path).get_config(arg)
    assert config.task.name
    assert config.model.mixer in base.MIXERS
    assert config.task.max_length > 0
    expect_smoke = arg is not None and "smoke" in arg
    assert config.smoke == expect_smoke


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
def test_config_model_keys_all_used(path):
    """Every config.model key maps onto a tnn dataclass field (none is silently ignored)."""
    config = _load(path).get_config("smoke")
    spec = task_spec.TaskSpec(
        name=config.task.name, vocab_size=20, max_length=config.task.max_length, num_classes=10
    )
    model_config = builders.model_config(config.model, spec)
    assert model_config.mixer.kind == config.model.mixer


def test_unknown_config_argument_raises():
    with pytest.raises(ValueError, match="modle"):
        base.parse_args("modle=ski", {"model": "tnn", "smoke": False})


def test_unknown_mixer_raises():
    config = base.base_config()
    with pytest.raises(ValueError, match="Known mixers"):
        base.set_mixer(config, "transformer")


def test_unknown_model_key_raises():
    config = base.base_config()
    config.model.variant = "ski"
    spec = task_spec.TaskSpec(name="listops", vocab_size=20, max_length=16, num_classes=10)
    with pytest.raises(ValueError, match="variant"):
        builders.model_config(config.model, spec)


def _run_train(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "launch.train", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_unknown_override_names_key(tmp_path):
    workdir = tmp_path / "run"
    result = _run_train(
        "--config=configs/listops.py:model=tnn,smoke",
        f"--workdir={workdir}",
        "--config.variant=ski",
    )
    assert result.returncode != 0
    assert "Unknown config key 'variant'" in result.stderr
    assert "--config.variant" in result.stderr
    assert not (workdir / "metrics.jsonl").exists()


def test_cli_unknown_nested_override_lists_keys(tmp_path):
    result = _run_train(
        "--config=configs/listops.py:model=tnn,smoke",
        f"--workdir={tmp_path}",
        "--config.model.mixr=ski",
    )
    assert result.returncode != 0
    assert "Unknown config key 'mixr'" in result.stderr
    assert "mixer" in result.stderr


def test_cli_wrong_type_override_fails(tmp_path):
    result = _run_train(
        "--config=configs/listops.py:model=tnn,smoke",
        f"--workdir={tmp_path}",
        "--config.batch_size=abc",
    )
    assert result.returncode != 0
    assert "batch_size" in result.stderr


@pytest.mark.parametrize("path", CONFIG_FILES, ids=os.path.basename)
def test_config_task_options_match_task(path):
    """Every config.task key is an option of its task, with a spec built from it."""
    import tasks

    config = _load(path).get_config("smoke")
    options = builders.task_options(config.task)
    spec = tasks.task_spec(config.task.name, options)
    assert spec.max_length == config.task.max_length


def test_cli_missing_data_dir_prints_message_only(tmp_path):
    result = _run_train(
        "--config=configs/listops.py:model=tnn,smoke",
        f"--workdir={tmp_path / 'run'}",
        f"--config.task.data_dir={tmp_path / 'nowhere'}",
        "--config.wandb.mode=disabled",
    )
    assert result.returncode == 1
    assert "Error: " in result.stderr
    assert "basic_train.tsv" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_unwritable_workdir_fails_fast(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = _run_train(
        "--config=configs/listops.py:model=tnn,smoke", f"--workdir={blocker / 'run'}"
    )
    assert result.returncode == 1
    assert "Cannot write to workdir" in result.stderr
    assert "Traceback" not in result.stderr
