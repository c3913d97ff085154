"""ListOps (Long Range Arena) with a Toeplitz neural network.

Hyper-parameters are those of the released TNN LRA sweep (OpenNLPLab/Tnn, script_lra.py):
4 layers, width 128, e_gtu 1, e_glu 1, decay 1.0, RPE width 32, lr 5e-4, weight decay 0.1,
warm-up 1000 steps, batch 128, 40 epochs, BatchNorm, mean pooling. The reference pads to 2000
tokens. Published test accuracy of the baseline TNN: 61.04% (Qin et al., ICLR 2023).

Full run (ListOps is regenerated offline with the seed unless task.data_dir or TNN_LRA_DATA
points at the official `listops-1000` files):
  python -m launch.train --config=configs/listops.py:model=tnn --workdir=runs/listops-tnn
CPU smoke run (minutes on 2 cores, a few thousand generated examples at the LRA lengths):
  python -m launch.train --config=configs/listops.py:model=tnn,smoke --workdir=runs/demo

Arguments: `model=` one of configs.base.MIXERS, `smoke` to shrink data and model.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the ListOps config for `arg`, e.g. "model=tnn,smoke"."""
    args = base.parse_args(arg, {"model": "tnn", "smoke": False})
    config = base.base_config()

    config.task.name = "listops"
    config.task.max_length = 2000
    config.task.max_examples = 0  # 0 keeps every example.
    # Generator settings, used only when no data directory is given: the LRA sizes and the
    # exclusive tree length bounds (500 < length < 2000, 96k / 2k / 2k examples).
    config.task.num_train = 96_000
    config.task.num_val = 2_000
    config.task.num_test = 2_000
    config.task.min_length = 500
    config.task.max_length_bound = 2000

    config.model.num_layers = 4
    config.model.width = 128
    config.model.gtu_expand = 1.0
    config.model.glu_expand = 1.0
    config.model.dropout = 0.0
    config.model.decay = 1.0
    config.model.rpe_dim = 32
    config.model.norm = "batchnorm"

    config.optim.learning_rate = 5e-4
    config.optim.weight_decay = 0.1
    config.optim.warmup_steps = 1000
    config.batch_size = 128
    config.eval_batch_size = 128
    config.num_epochs = 40
    config.checkpoint_every_steps = 1000

    base.set_mixer(config, args["model"])
    if args["smoke"]:
        _shrink(config)
    return config


def _shrink(config: ml_collections.ConfigDict) -> None:
    """Shrinks data and model for a CPU run of minutes; the sequence length bounds stay."""
    config.smoke = True
    config.task.num_train = 3_000
    config.task.num_val = 500
    config.task.num_test = 500
    # The same cap when the official files are read instead of generated.
    config.task.max_examples = 3_000
    config.model.num_layers = 2
    config.model.width = 32
    config.model.rpe_dim = 16
    config.model.rpe_layers = 1
    config.optim.learning_rate = 3e-3
    config.optim.weight_decay = 0.01
    config.optim.warmup_steps = 50
    config.batch_size = 32
    config.eval_batch_size = 100
    config.num_epochs = 4
    config.log_every_steps = 10
    config.checkpoint_every_steps = 200
