"""Toeplitz neural network (TNN) model library: configs, mixers, blocks and the classifier.

Imports only jax, flax and numpy. `launch/` turns its ConfigDict into the frozen dataclasses
`MixerConfig` and `ModelConfig` and builds `Classifier(cfg, rngs=...)`.
"""

from tnn.config import MixerConfig, ModelConfig
from tnn.fd import FDTNO
from tnn.interp import InterpTNO
from tnn.mixer2d import Mixer2D
from tnn.mixers import MIXERS, make_mixer, register_mixer
from tnn.model import Classifier, Encoder, count_params
from tnn.norms import make_norm
from tnn.ski import SKI, interpolation_matrix
from tnn.sparse import SparseSKI, banded_conv
from tnn.tno import TNO
from tnn.toeplitz import (
    apply_spectrum,
    circulant_embedding,
    dense_toeplitz,
    fft_length,
    kernel_spectrum,
    mask_inputs,
    toeplitz_fft,
)

__all__ = [
    "FDTNO",
    "MIXERS",
    "SKI",
    "TNO",
    "Classifier",
    "Encoder",
    "InterpTNO",
    "Mixer2D",
    "MixerConfig",
    "ModelConfig",
    "SparseSKI",
    "apply_spectrum",
    "banded_conv",
    "circulant_embedding",
    "count_params",
    "dense_toeplitz",
    "fft_length",
    "interpolation_matrix",
    "kernel_spectrum",
    "make_mixer",
    "make_norm",
    "mask_inputs",
    "register_mixer",
    "toeplitz_fft",
]
