"""Text (Long Range Arena, IMDb at byte level) with a Toeplitz neural network.

Hyper-parameters are those of the released TNN LRA sweep (OpenNLPLab/Tnn, script_lra.py).
Model: 4 layers, width 128, e_gtu 1, e_glu 2, decay 0.9, RPE width 32, BatchNorm, mean
pooling, 4096 bytes. Training: lr 1.05e-3, weight decay 1e-3, dropout 0.1, warm-up 3000
steps, batch 32, 32 epochs. IMDb has no validation split, so 2,500 training reviews are held
out by a seeded permutation to select the checkpoint. The reference runs selected on test.
Published test accuracy of the baseline TNN: 87.90% (Qin et al., ICLR 2023).

Full run (needs aclImdb_v1.tar.gz or its aclImdb/ folder under task.data_dir or TNN_LRA_DATA):
  python -m launch.train --config=configs/text.py:model=tnn --workdir=runs/text-tnn \
    --config.task.data_dir=/data/lra
CPU smoke run (minutes on 2 cores: 1,000 reviews per split, a small model):
  python -m launch.train --config=configs/text.py:model=tnn,smoke --workdir=runs/text-demo \
    --config.task.data_dir=/data/lra

Arguments: `model=` one of configs.base.MIXERS, `smoke` to shrink data and model.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the Text config for `arg`, e.g. "model=tnn,smoke"."""
    args = base.parse_args(arg, {"model": "tnn", "smoke": False})
    config = base.base_config()

    config.task.name = "text"
    config.task.max_length = 4096
    # Training reviews held out (by a permutation seeded with config.seed) for validation.
    config.task.val_size = 2_500
    config.task.max_examples = 0  # 0 keeps every example.

    config.model.num_layers = 4
    config.model.width = 128
    config.model.gtu_expand = 1.0
    config.model.glu_expand = 2.0
    config.model.dropout = 0.1
    config.model.decay = 0.9
    config.model.rpe_dim = 32
    config.model.norm = "batchnorm"

    config.optim.learning_rate = 1.05e-3
    config.optim.weight_decay = 1e-3
    config.optim.warmup_steps = 3000
    config.batch_size = 32
    config.eval_batch_size = 32
    config.num_epochs = 32
    config.checkpoint_every_steps = 1000

    base.set_mixer(config, args["model"])
    if args["smoke"]:
        _shrink(config)
    return config


def _shrink(config: ml_collections.ConfigDict) -> None:
    """Shrinks data and model for a CPU run of minutes; the sequence length stays."""
    config.smoke = True
    config.task.val_size = 500
    config.task.max_examples = 1_000
    config.model.num_layers = 2
    config.model.width = 32
    config.model.rpe_dim = 16
    config.model.rpe_layers = 1
    config.optim.learning_rate = 3e-3
    config.optim.warmup_steps = 30
    config.batch_size = 16
    config.eval_batch_size = 50
    config.num_epochs = 2
    config.log_every_steps = 10
    config.checkpoint_every_steps = 200
