"""Orbax checkpoints of the train state, the data iterator position and run metadata.

The last `keep` checkpoints are kept, plus the one with the best validation accuracy. Each
checkpoint contains three items: `state` (model and optimizer arrays, with PRNG keys stored as
raw key data), `data` (the grain iterator state, JSON) and `meta` (step, best validation
accuracy and step, JSON). Saving is synchronous, so a checkpoint on disk is always complete.
"""

import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx
from orbax.checkpoint import checkpoint_managers

_ITEMS = ("state", "data", "meta")


def _is_key(leaf: Any) -> bool:
    return isinstance(leaf, jax.Array) and jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key)


TrainState = dict[str, nnx.State]  # e.g. {"model": ..., "optimizer": ...}


def _to_saveable(state: TrainState) -> dict:
    """Converts each nnx.State into a plain dict of arrays, PRNG keys as their key data."""
    pure = {name: nnx.to_pure_dict(part) for name, part in state.items()}
    return jax.tree.map(lambda x: jax.random.key_data(x) if _is_key(x) else x, pure)


def _from_saved(template: TrainState, saved: dict) -> TrainState:
    """Puts saved arrays back into a copy of `template`, re-wrapping PRNG key data."""

    def restore_leaf(like, value):
        if _is_key(like):
            return jax.random.wrap_key_data(value, impl=jax.random.key_impl(like))
        return value

    restored = {}
    for name, part in template.items():
        pure = jax.tree.map(restore_leaf, nnx.to_pure_dict(part), saved[name])
        copy = jax.tree.map(lambda x: x, part)
        nnx.replace_by_pure_dict(copy, pure)
        restored[name] = copy
    return restored


def _abstract(tree: Any) -> Any:
    return jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)),
        tree,
    )


class Checkpointer:
    """Saves and restores train checkpoints under `directory`."""

    def __init__(self, directory: str, *, keep: int):
        if keep < 1:
            raise ValueError(f"Invalid keep_checkpoints {keep}: keep at least 1 checkpoint.")
        policy = checkpoint_managers.AnyPreservationPolicy(
            [
                checkpoint_managers.LatestN(n=keep),
                checkpoint_managers.BestN(
                    # Ties go to the earlier step, as in the trainer's own record of the best step.
                    get_metric_fn=lambda metrics: (metrics["val_accuracy"], -metrics["step"]),
                    n=1,
                    keep_checkpoints_without_metrics=False,
                ),
            ]
        )
        options = ocp.CheckpointManagerOptions(
            preservation_policy=policy, enable_async_checkpointing=False, create=True
        )
        self.directory = os.path.abspath(directory)
        self.manager = ocp.CheckpointManager(self.directory, item_names=_ITEMS, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def all_steps(self) -> list[int]:
        return list(self.manager.all_steps())

    def save(
        self,
        step: int,
        state: TrainState,
        data_state: dict,
        meta: dict,
        val_accuracy: float | None = None,
    ) -> None:
        """Writes one checkpoint; `val_accuracy` marks it as a candidate for the best one."""
        metrics = None
        if val_accuracy is not None:
            metrics = {"val_accuracy": float(val_accuracy), "step": int(step)}
        self.manager.save(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardSave(_to_saveable(state)),
                data=ocp.args.JsonSave(data_state),
                meta=ocp.args.JsonSave(meta),
            ),
            metrics=metrics,
            force=True,
        )
        self.manager.wait_until_finished()

    def restore(self, step: int, template: TrainState) -> tuple[TrainState, dict, dict]:
        """Restores checkpoint `step` into the structure and shardings of `template`."""
        saved_template = _abstract(_to_saveable(template))
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(saved_template),
                data=ocp.args.JsonRestore(),
                meta=ocp.args.JsonRestore(),
            ),
        )
        state = _from_saved(template, restored["state"])
        return state, restored["data"], restored["meta"]

    def restore_arrays(self, step: int) -> dict:
        """Restores checkpoint `step`'s state as saved (plain arrays), with no model to fill."""
        restored = self.manager.restore(
            step, args=ocp.args.Composite(state=ocp.args.StandardRestore())
        )
        return restored["state"]

    def close(self) -> None:
        self.manager.close()


def host_copy(tree: Any) -> Any:
    """Copies a pytree to host numpy arrays (for comparisons in tests)."""
    return jax.tree.map(lambda x: np.asarray(jax.random.key_data(x) if _is_key(x) else x), tree)
