"""A ListOps config small enough that a whole train-and-evaluate run takes seconds on CPU."""

from configs import listops


def tiny_config(tmp_path, mixer: str = "tnn", **overrides):
    """Returns the ListOps smoke config shrunk further; `overrides` maps dotted keys to values."""
    config = listops.get_config(f"model={mixer},smoke")
    config.task.cache_dir = str(tmp_path / "cache")
    config.task.max_length = 48
    config.task.num_train = 64
    config.task.num_val = 37
    config.task.num_test = 29
    config.task.min_length = 4
    config.task.max_length_bound = 40
    config.model.num_layers = 1
    config.model.width = 16
    config.model.rpe_dim = 8
    config.model.input_dropout = 0.1
    config.batch_size = 8
    config.eval_batch_size = 10
    config.num_epochs = 2
    config.optim.warmup_steps = 2
    config.optim.learning_rate = 3e-3
    config.log_every_steps = 3
    config.checkpoint_every_steps = 5
    config.keep_checkpoints = 2
    config.wandb.mode = "disabled"
    for key, value in overrides.items():
        node = config
        *parents, leaf = key.split(".")
        for parent in parents:
            node = node[parent]
        node[leaf] = value
    return config
