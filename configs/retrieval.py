"""Retrieval (Long Range Arena, AAN citation pairs at byte level) with a Toeplitz network.

Hyper-parameters are those of the released TNN LRA sweep (OpenNLPLab/Tnn, script_lra.py).
Model: 2 layers, width 64, e_gtu 1, e_glu 1.5, decay 0.6, RPE width 16, BatchNorm, two towers
with shared weights and the [u, v, u * v, u - v] head, 4000 bytes per document. Training:
lr 1e-2, weight decay 1e-2, dropout 0, warm-up 25000 steps, batch 64, 20 epochs. Published
test accuracy of the baseline TNN: 90.97% (Qin et al., ICLR 2023).

Full run (needs the tsv_data files of the LRA release under task.data_dir or TNN_LRA_DATA):
  python -m launch.train --config=configs/retrieval.py:model=tnn --workdir=runs/retrieval-tnn \
    --config.task.data_dir=/data/lra_release
CPU smoke run (minutes on 2 cores: 1,000 pairs per split, a small model):
  python -m launch.train --config=configs/retrieval.py:model=tnn,smoke \
    --workdir=runs/retrieval-demo --config.task.data_dir=/data/lra_release

Arguments: `model=` one of configs.base.MIXERS, `smoke` to shrink data and model.
"""

import ml_collections

from configs import base


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
    """Returns the Retrieval config for `arg`, e.g. "model=tnn,smoke"."""
    args = base.parse_args(arg, {"model": "tnn", "smoke": False})
    config = base.base_config()

    config.task.name = "retrieval"
    config.task.max_length = 4000  # Bytes per document. Each example has two documents.
    config.task.max_examples = 0  # 0 keeps every example.

    config.model.num_layers = 2
    config.model.width = 64
    config.model.gtu_expand = 1.0
    config.model.glu_expand = 1.5
    config.model.dropout = 0.0
    config.model.decay = 0.6
    config.model.rpe_dim = 16
    config.model.norm = "batchnorm"

    config.optim.learning_rate = 1e-2
    config.optim.weight_decay = 1e-2
    config.optim.warmup_steps = 25_000
    config.batch_size = 64
    config.eval_batch_size = 64
    config.num_epochs = 20
    config.checkpoint_every_steps = 2000

    base.set_mixer(config, args["model"])
    if args["smoke"]:
        _shrink(config)
    return config


def _shrink(config: ml_collections.ConfigDict) -> None:
    """Shrinks data and model for a CPU run of minutes; the document length stays."""
    config.smoke = True
    config.task.max_examples = 1_000
    config.model.width = 32
    config.model.rpe_dim = 16
    config.model.rpe_layers = 1
    config.optim.learning_rate = 3e-3
    config.optim.weight_decay = 0.01
    config.optim.warmup_steps = 30
    config.batch_size = 16
    config.eval_batch_size = 50
    config.num_epochs = 2
    config.log_every_steps = 10
    config.checkpoint_every_steps = 200
