"""Toeplitz neural network (TNN) model library: configs, mixers, blocks and the classifier.

Imports only jax, flax and numpy. `launch/` turns its ConfigDict into the frozen dataclasses
`MixerConfig` and `ModelConfig` and builds `Classifier(cfg, rngs=...)`.
"""

from tnn.config import MixerConfig, ModelConfig
from tnn.mixers import MIXERS, make_mixer, register_mixer
from tnn.model import Classifier, Encoder, count_params
from tnn.norms import make_norm
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
    "MIXERS",
    "TNO",
    "Classifier",
    "Encoder",
    "MixerConfig",
    "ModelConfig",
    "apply_spectrum",
    "circulant_embedding",
    "count_params",
    "dense_toeplitz",
    "fft_length",
    "kernel_spectrum",
    "make_mixer",
    "make_norm",
    "mask_inputs",
    "register_mixer",
    "toeplitz_fft",
]
