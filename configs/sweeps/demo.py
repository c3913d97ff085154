"""Demo sweep: ListOps at smoke size with four mixers, about two minutes per mixer on 2 CPU cores.

The runs use the LRA ListOps generator (same operators, depth rule and leaf probability) but
shorter trees, 30 < length < 250 tokens padded to 256, instead of the LRA bounds 500 < length <
2000. Measured on 2 CPU cores: at the LRA bounds a smoke-size TNN stays at the majority-class
rate for the ~400 steps that a few minutes allow (test 0.166 against a majority of 0.184 after
372 steps). With the shorter trees it passes the majority rate within the same budget. The
accuracies are therefore far below the paper's, and at 256 tokens the throughput ratios show
little about long sequences: `python -m launch.bench mixers` and the lengths sweep measure those.

Run it and build the table:
  python -m launch.sweep --sweep=configs/sweeps/demo.py --root=runs/demo
  python -m results.table runs/demo
"""

from configs.sweeps import make_run

MIXERS = ("tnn", "ski", "sparse_ski", "fd")
SHORT_TREES = {
    "task.min_length": 30,
    "task.max_length_bound": 250,
    "task.max_length": 256,
    "num_epochs": 8,
}


def get_sweep() -> dict[str, object]:
    """Returns the demo sweep: one smoke ListOps run per mixer, on shorter trees."""
    runs = [make_run("listops", mixer, smoke=True, overrides=SHORT_TREES) for mixer in MIXERS]
    return dict(name="demo", runs=runs)
