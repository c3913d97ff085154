"""Image (Long Range Arena, grayscale CIFAR-10 as 1024 pixel tokens) with a 2D Toeplitz network.

Hyper-parameters are those of the released TNN LRA sweep (OpenNLPLab/Tnn, script_lra.py).
Model: 12 layers, width 128, e_gtu 2, e_glu 3, decay 0.7, RPE width 16, BatchNorm, mean
pooling, and the 2D mixer, which the task's image_shape (32, 32) switches on. SKI mixers use
32 inducing points and 17 sparse taps per axis. Training: lr 7e-3, weight decay 1e-3,
dropout 0.1, warm-up 30000 steps, batch 200, 200 epochs. The last 5,000 training images are
the validation split, which leaves 45,000 for training. Published test accuracy of the
baseline TNN: 88.24% (Qin et al., ICLR 2023).

Full run (needs cifar-10-binary.tar.gz or cifar-10-python.tar.gz, packed or unpacked, under
task.data_dir or TNN_LRA_DATA):
  python -m launch.train --config=configs/image.py:model=tnn --workdir=runs/image-tnn \
    --config.task.data_dir=/data/lra
CPU smoke run (minutes on 2 cores: 1,000 images per split, a small model):
  python -m launch.train --config=configs/image.py:model=tnn,smoke --workdir=runs/image-demo \
    --config.task.data_dir=/data/lra

Arguments: `model=` one of configs.base.MIXERS, `smoke` to shrink data and model.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the Image config for `arg`, e.g. "model=tnn,smoke"."""
    args = base.parse_args(arg, {"model": "tnn", "smoke": False})
    config = base.base_config()

    config.task.name = "image"
    config.task.max_length = 1024  # 32 x 32 pixels.
    # The last val_size training images (in file order) are the validation split.
    config.task.val_size = 5_000
    config.task.max_examples = 0  # 0 keeps every example.

    config.model.num_layers = 12
    config.model.width = 128
    config.model.gtu_expand = 2.0
    config.model.glu_expand = 3.0
    config.model.dropout = 0.1
    config.model.decay = 0.7
    config.model.rpe_dim = 16
    config.model.norm = "batchnorm"
    # SKI and sparse SKI settings per image axis, as in the reference 2D scripts.
    config.model.num_inducing = 32
    config.model.num_taps = 17

    config.optim.learning_rate = 7e-3
    config.optim.weight_decay = 1e-3
    config.optim.warmup_steps = 30_000
    config.batch_size = 200
    config.eval_batch_size = 200
    config.num_epochs = 200
    config.checkpoint_every_steps = 2000

    base.set_mixer(config, args["model"])
    if args["smoke"]:
        _shrink(config)
    return config


def _shrink(config: ml_collections.ConfigDict) -> None:
    """Shrinks data and model for a CPU run of minutes; the image size stays."""
    config.smoke = True
    config.task.val_size = 500
    config.task.max_examples = 1_000
    config.model.num_layers = 2
    config.model.width = 32
    config.model.gtu_expand = 1.0
    config.model.glu_expand = 1.0
    config.model.rpe_dim = 16
    config.model.rpe_layers = 1
    config.optim.learning_rate = 3e-3
    config.optim.warmup_steps = 30
    config.batch_size = 20
    config.eval_batch_size = 100
    config.num_epochs = 2
    config.log_every_steps = 10
    config.checkpoint_every_steps = 200
