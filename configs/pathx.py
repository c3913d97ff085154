"""Path-X (Long Range Arena, Pathfinder at 128 x 128) with a 2D Toeplitz neural network.

Hyper-parameters are those of the released TNN LRA sweep (OpenNLPLab/Tnn, script_lra.py).
Model: 6 layers, width 64, e_gtu 3, e_glu 2.5, decay 0.999, RPE width 16, BatchNorm, the last
position as the head, and the 2D mixer on image_shape (128, 128), 16,384 tokens. SKI mixers
use 32 inducing points and 17 sparse taps per axis. Training: lr 1e-4, weight decay 0,
dropout 0, warm-up 312 steps, batch 64, 100 epochs. The data are the 200k "hard" images
(curv_contour_length_14), split 160k / 20k / 20k in metadata order. Published test accuracy
of the baseline TNN: 96.10% (Qin et al., ICLR 2023).

Full run (reads pathfinder128/ of the LRA release under task.data_dir or TNN_LRA_DATA; with
neither set, the 200k images are generated offline into the cache first):
  python -m launch.train --config=configs/pathx.py:model=tnn --workdir=runs/pathx-tnn
CPU smoke run (minutes on 2 cores: 400 generated images, a tiny model):
  python -m launch.train --config=configs/pathx.py:model=tnn,smoke --workdir=runs/pathx-demo

Arguments: `model=` one of configs.base.MIXERS, `smoke` to shrink data and model.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the Path-X config for `arg`, e.g. "model=tnn,smoke"."""
    args = base.parse_args(arg, {"model": "tnn", "smoke": False})
    config = base.base_config()

    config.task.name = "pathx"
    config.task.max_length = 16_384  # 128 x 128 pixels.
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
    config.model.decay = 0.999
    config.model.rpe_dim = 16
    config.model.norm = "batchnorm"
    # SKI and sparse SKI settings per image axis, as in the reference 2D scripts.
    config.model.num_inducing = 32
    config.model.num_taps = 17

    config.optim.learning_rate = 1e-4
    config.optim.weight_decay = 0.0
    config.optim.warmup_steps = 312
    config.batch_size = 64
    config.eval_batch_size = 64
    config.num_epochs = 100
    config.checkpoint_every_steps = 2000

    base.set_mixer(config, args["model"])
    if args["smoke"]:
        _shrink(config)
    return config


def _shrink(config: ml_collections.ConfigDict) -> None:
    """Shrinks data and model for a CPU run of minutes; the image size stays."""
    config.smoke = True
    config.task.num_images = 400
    config.model.num_layers = 1
    config.model.width = 16
    config.model.gtu_expand = 1.0
    config.model.glu_expand = 1.0
    config.model.rpe_dim = 8
    config.model.rpe_layers = 1
    config.optim.learning_rate = 3e-3
    config.optim.warmup_steps = 10
    config.batch_size = 8
    config.eval_batch_size = 20
    config.num_epochs = 1
    config.log_every_steps = 10
    config.checkpoint_every_steps = 200
