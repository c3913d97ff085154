"""Experiment tracking: a small interface with a local-files back-end and a W&B back-end.

The local back-end always runs and is the contract with `results/`: `config.json`,
`metrics.jsonl` (one JSON object per logged step) and `summary.json` in the workdir. W&B is
optional: any failure to start or to log turns it off with a warning, and training goes on
with the local files only.
"""

import json
import os
import subprocess
from collections.abc import Mapping
from typing import Any, Protocol

from absl import logging


class Tracker(Protocol):
    """Destination of a run's config, metrics and final summary."""

    def log_config(self, config: Mapping[str, Any]) -> None: ...

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None: ...

    def log_summary(self, summary: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


def git_commit(repo_dir: str | None = None) -> str:
    """Returns the current git commit, with "-dirty" when tracked files have changes."""
    repo_dir = repo_dir or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo_dir, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo_dir,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def _write_json_atomic(path: str, data: Any) -> None:
    tmp_path = path + ".tmp"
    with open(tmp_path, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, default=_to_jsonable)
        f.write("\n")
    os.replace(tmp_path, path)


def _to_jsonable(value: Any) -> Any:
    """Converts numpy and jax scalars for json.dump."""
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Cannot write {type(value).__name__} to JSON: {value!r}")


class LocalTracker:
    """Writes config.json, metrics.jsonl and summary.json into the workdir.

    metrics.jsonl is appended to, so a resumed run continues the same file. Records after
    `resume_step` are dropped first, because the resumed run computes and logs those steps again.
    """

    def __init__(self, workdir: str, resume_step: int | None = None):
        self.workdir = workdir
        path = os.path.join(workdir, "metrics.jsonl")
        if resume_step is not None and os.path.exists(path):
            with open(path) as f:
                kept_lines = [
                    line for line in f if line.strip() and json.loads(line)["step"] <= resume_step
                ]
            with open(path + ".tmp", "w") as f:
                f.writelines(kept_lines)
            os.replace(path + ".tmp", path)
        self._metrics_file = open(path, "a")

    def log_config(self, config: Mapping[str, Any]) -> None:
        _write_json_atomic(os.path.join(self.workdir, "config.json"), dict(config))

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        record = {"step": int(step), **metrics}
        self._metrics_file.write(json.dumps(record, sort_keys=True, default=_to_jsonable) + "\n")
        self._metrics_file.flush()

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        _write_json_atomic(os.path.join(self.workdir, "summary.json"), dict(summary))

    def close(self) -> None:
        self._metrics_file.close()


class WandbTracker:
    """Sends the same records to Weights & Biases; turns itself off on the first error."""

    def __init__(
        self,
        workdir: str,
        *,
        mode: str,
        project: str,
        entity: str,
        group: str,
        name: str,
        run_id: str,
        config: Mapping[str, Any],
    ):
        if mode not in ("online", "offline"):
            raise ValueError(f"WandbTracker needs mode online or offline, got {mode!r}.")
        self._run = None
        try:
            import wandb  # Imported here so that a broken W&B install cannot stop a run.

            self._wandb = wandb
            self._run = wandb.init(
                dir=workdir,
                mode=mode,
                project=project or None,
                entity=entity or None,
                group=group or None,
                name=name or None,
                id=run_id,
                resume="allow",
                config=dict(config),
                settings=wandb.Settings(init_timeout=60, silent=True),
            )
        except Exception as error:  # W&B raises many types; none of them may stop training.
            logging.warning(
                "W&B failed to start (%s: %s); logging to the workdir only.",
                type(error).__name__,
                error,
            )
            self._run = None

    @property
    def active(self) -> bool:
        return self._run is not None

    def _guard(self, action: str, fn) -> None:
        if self._run is None:
            return
        try:
            fn()
        except Exception as error:  # Same reason as in __init__.
            logging.warning(
                "W&B failed to %s (%s: %s); logging to the workdir only from now on.",
                action,
                type(error).__name__,
                error,
            )
            self._run = None

    def log_config(self, config: Mapping[str, Any]) -> None:
        self._guard(
            "log the config", lambda: self._run.config.update(dict(config), allow_val_change=True)
        )

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        self._guard("log metrics", lambda: self._run.log(dict(metrics), step=int(step)))

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        self._guard("log the summary", lambda: self._run.summary.update(dict(summary)))

    def close(self) -> None:
        self._guard("finish the run", lambda: self._run.finish())
        self._run = None


class MultiTracker:
    """Fans every call out to several trackers."""

    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    def log_config(self, config: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log_config(config)

    def log_metrics(self, step: int, metrics: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log_metrics(step, metrics)

    def log_summary(self, summary: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.log_summary(summary)

    def close(self) -> None:
        for tracker in self.trackers:
            tracker.close()


def check_wandb_mode(mode: str) -> None:
    """Raises ValueError unless `mode` is a W&B mode that the tracker supports."""
    if mode not in ("online", "offline", "disabled"):
        raise ValueError(
            f"Invalid wandb.mode {mode!r}: use online, offline or disabled (--config.wandb.mode=...)."
        )


def make_tracker(
    workdir: str,
    wandb_config: Mapping[str, Any],
    *,
    run_id: str,
    config: Mapping[str, Any],
    is_main_process: bool = True,
    resume_step: int | None = None,
) -> MultiTracker:
    """Builds the local tracker plus W&B unless its mode is "disabled".

    In a multi-host run only the main process (process 0) writes; the others get no trackers.
    `resume_step` is the step of the restored checkpoint, when the run resumes.
    """
    mode = wandb_config["mode"]
    check_wandb_mode(mode)
    if not is_main_process:
        return MultiTracker([])
    trackers: list[Tracker] = [LocalTracker(workdir, resume_step)]
    if mode != "disabled":
        wandb_tracker = WandbTracker(
            workdir,
            mode=mode,
            project=wandb_config["project"],
            entity=wandb_config["entity"],
            group=wandb_config["group"],
            name=wandb_config["name"],
            run_id=run_id,
            config=config,
        )
        if wandb_tracker.active:
            trackers.append(wandb_tracker)
    return MultiTracker(trackers)
