"""The six LRA tasks with the baseline TNN, the sparse plus low-rank SKI-TNN and FD-TNN.

Each run uses the reference hyper-parameters of its task config (the released TNN LRA sweep,
OpenNLPLab/Tnn script_lra.py) and its seed 2222. The published test accuracies to compare
with are in results/reference/papers.csv; `python -m results.table ROOT` puts them beside
the measured ones. This sweep needs an accelerator: Path-X alone runs 100 epochs at length
16384. Print the commands for a TPU pod or a Slurm cluster with --print=tpu or --print=slurm.
"""

from configs.sweeps import TASKS, make_run

MIXERS = ("tnn", "sparse_ski", "fd")
SEED = 2222


def get_sweep() -> dict[str, object]:
    """Returns one run per task and mixer, 18 in all."""
    runs = [make_run(task, mixer, overrides={"seed": SEED}) for task in TASKS for mixer in MIXERS]
    return dict(name="lra_paper", runs=runs)
