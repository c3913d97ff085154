"""Pathfinder-32 (Long Range Arena) with a 2D Toeplitz neural network.

Hyper-parameters are those of the released TNN LRA sweep (OpenNLPLab/Tnn, script_lra.py).
Model: 6 layers, width 64, e_gtu 3, e_glu 2.5, decay 1.0, RPE width 16, BatchNorm, the last
position as the head, and the 2D mixer, which the task's image_shape (32, 32) switches on.
SKI mixers use 32 inducing points and 17 sparse taps per axis. Training: lr 1e-3, weight
decay 0, dropout 0, warm-up 5000 steps, batch 128, 200 epochs. The data are the 200k "hard"
images (curv_contour_length_14), split 160k / 20k / 20k in metadata order. Published test
accuracy of the baseline TNN: 93.00% (Qin et al., ICLR 2023).

Full run (reads pathfinder32/ of the LRA release under task.data_dir or TNN_LRA_DATA; with
neither set, the 200k images are generated offline into the cache first):
  python -m launch.train --config=configs/pathfinder.py:model=tnn --workdir=runs/pathfinder-tnn
CPU smoke run (minutes on 2 cores: 2,000 generated images, a small model):
  python -m launch.train --config=configs/pathfinder.py:model=tnn,smoke \
    --workdir=runs/pathfinder-demo

Arguments: `model=` one of configs.base.MIXERS, `smoke` to shrink data and model.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the Pathfinder-32 config for `arg`, e.g. "model=tnn,smoke"."""
    args = base.parse_args(arg, {"model": "tnn", "smoke": False})
    config = base.base_config()

    config.task.name = "pathfinder"
    config.task.max_length = 1024  # 32 x 32 pixels.
    config.task.resolution = 32
    config.task.difficulty = "hard"  # easy, intermediate or hard.
    # Generator settings, used only when no data directory is given.
    config.task.num_images = 200_000
    config.task.num_workers = 0  # 0 uses every CPU.
    config.task.max_examples = 0  # 0 keeps every example.

    config.model.num_layers = 6
    config.model.width = 64
    config.model.gtu_expand = 3.0
    config.model.glu_expand = 2.5
    config.model.dropout = 0.0
    config.model.decay = 1.0
    config.model.rpe_dim = 16
    config.model.norm = "batchnorm"
    # SKI and sparse SKI settings per image axis, as in the reference 2D scripts.
    config.model.num_inducing = 32
    config.model.num_taps = 17

    config.optim.learning_rate = 1e-3
    config.optim.weight_decay = 0.0
    config.optim.warmup_steps = 5000
    config.batch_size = 128
    config.eval_batch_size = 128
    config.num_epochs = 200
    config.checkpoint_every_steps = 2000

    base.set_mixer(config, args["model"])
    if args["smoke"]:
        _shrink(config)
    return config


def _shrink(config: ml_collections.ConfigDict) -> None:
    """Shrinks data and model for a CPU run of minutes; the image size stays."""
    config.smoke = True
    config.task.num_images = 2_000
    config.model.num_layers = 2
    config.model.width = 32
    config.model.gtu_expand = 1.0
    config.model.glu_expand = 1.0
    config.model.rpe_layers = 1
    config.optim.learning_rate = 3e-3
    config.optim.warmup_steps = 30
    config.batch_size = 32
    config.eval_batch_size = 100
    config.num_epochs = 2
    config.log_every_steps = 10
    config.checkpoint_every_steps = 200
