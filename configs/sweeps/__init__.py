"""Sweeps as data: each file here defines `get_sweep()` and nothing runs at import.

A sweep is `dict(name=str, runs=[dict(name=str, config=str, overrides=dict), ...])`.
`config` is the `--config` value of `launch.train` (for example
`configs/listops.py:model=tnn,smoke`) and `overrides` maps config keys to values that become
`--config.KEY=VALUE` flags. `python -m launch.sweep --sweep=configs/sweeps/<file>.py` runs a
sweep or prints its commands for a TPU pod or a Slurm cluster.
"""

from configs import base

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
MIXERS = base.MIXERS

# Config keys that sweeps may override; the trainer's config contract names these.
OVERRIDE_KEYS = (
    "seed",
    "wandb.group",
    "wandb.mode",
    "wandb.project",
    "task.max_length",
    "task.min_length",
    "task.max_length_bound",
    "batch_size",
    "num_epochs",
)


def make_run(
    task: str,
    mixer: str,
    *,
    smoke: bool = False,
    name: str | None = None,
    overrides: dict[str, object] | None = None,
) -> dict[str, object]:
    """Builds one run entry for `configs/<task>.py` with the given mixer.

    The default name is `<task>_<mixer>`. Raises ValueError for an unknown task or mixer, so a
    typo in a sweep file fails when the sweep loads rather than when its run starts.
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}. Known tasks: {', '.join(TASKS)}.")
    if mixer not in MIXERS:
        raise ValueError(f"Unknown mixer {mixer!r}. Known mixers: {', '.join(MIXERS)}.")
    config = f"configs/{task}.py:model={mixer}" + (",smoke" if smoke else "")
    return dict(name=name or f"{task}_{mixer}", config=config, overrides=dict(overrides or {}))
