"""Turns a ConfigDict into the objects the trainer needs: task options and tnn/ dataclasses.

`tnn/` never receives a ConfigDict: this module maps `config.model` onto `tnn.MixerConfig` and
`tnn.ModelConfig` field by field, and fails on any key that neither dataclass takes, so a
config key can never be accepted and silently ignored.
"""

import dataclasses
from typing import Any

import ml_collections

import tnn
from tasks import spec as task_spec

# config.model keys that are named differently in the tnn/ dataclasses.
_RENAMED = {"mixer": "kind"}


def task_options(task_config: ml_collections.ConfigDict) -> dict[str, Any]:
    """Returns the task-specific options passed to tasks.load_task.

    Everything under `config.task` except the name and the directories is an option, under the
    same name; tasks.load_task rejects names the task does not know.
    """
    return {
        key: value
        for key, value in task_config.items()
        if key not in ("name", "data_dir", "cache_dir")
    }


def model_config(model: ml_collections.ConfigDict, spec: task_spec.TaskSpec) -> "tnn.ModelConfig":
    """Builds tnn.ModelConfig (with its MixerConfig) from `config.model` and the task spec."""
    values = {_RENAMED.get(key, key): value for key, value in model.items()}
    mixer_fields = {field.name for field in dataclasses.fields(tnn.MixerConfig)}
    model_fields = {field.name for field in dataclasses.fields(tnn.ModelConfig)}
    unknown = sorted(set(values) - mixer_fields - model_fields)
    if unknown:
        raise ValueError(
            f"config.model has keys that no model option takes: {', '.join(unknown)}. "
            "Remove them or add the option to tnn.MixerConfig or tnn.ModelConfig."
        )

    mixer_values = {key: values[key] for key in mixer_fields if key in values}
    if "max_length" in mixer_fields and "max_length" not in mixer_values:
        mixer_values["max_length"] = spec.max_length
    mixer = tnn.MixerConfig(**mixer_values)

    model_values = {key: values[key] for key in model_fields if key in values and key != "mixer"}
    model_values.update(
        vocab_size=spec.vocab_size,
        num_classes=spec.num_classes,
        max_length=spec.max_length,
        num_inputs=spec.num_inputs,
        image_shape=spec.image_shape,
        pool=spec.pool,
        mixer=mixer,
    )
    return tnn.ModelConfig(**model_values)
