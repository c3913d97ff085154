"""Demo sweep: ListOps at smoke size with four mixers, a CPU run of minutes per mixer.

The smoke config keeps the LRA sequence lengths (500 < length < 2000 tokens) and shrinks the
data and the model, so the accuracies are far below the paper's and only the relative speed
of the mixers is meaningful. Run it and build the table:
  python -m launch.sweep --sweep=configs/sweeps/demo.py --root=runs/demo
  python -m results.table runs/demo
"""

from configs.sweeps import make_run

MIXERS = ("tnn", "ski", "sparse_ski", "fd")


def get_sweep() -> dict[str, object]:
  """Returns the demo sweep: one smoke ListOps run per mixer."""
  runs = [make_run("listops", mixer, smoke=True) for mixer in MIXERS]
  return dict(name="demo", runs=runs)
