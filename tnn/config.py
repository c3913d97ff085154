"""Frozen, validated configuration dataclasses for the TNN model library.

`launch/` builds these from its ConfigDict. Every field is checked in `__post_init__`, and an
invalid value raises ValueError that names the field, the value and the allowed values, so a
typo in a config file fails at construction instead of deep inside a traced function.
"""

from __future__ import annotations

import dataclasses
import numbers
from typing import Any

from tnn.toeplitz import FFT_SIZE_RULES

NORMS = ("batchnorm", "layernorm", "rmsnorm")
RPE_NORMS = ("layernorm", "rmsnorm", "none")
POOLS = ("mean", "last")
SKI_KERNELS = ("rpe", "warped_linear")
DTYPES = ("float32", "bfloat16")


def _fail(owner: str, name: str, value: Any, allowed: str) -> None:
    raise ValueError(f"{owner}.{name}={value!r} is invalid. Allowed: {allowed}.")


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_int(owner: str, name: str, value: Any, minimum: int) -> None:
    if not _is_int(value) or value < minimum:
        _fail(owner, name, value, f"an integer >= {minimum}")


def _check_bool(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, bool):
        _fail(owner, name, value, "True or False")


def _check_choice(owner: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        _fail(owner, name, value, ", ".join(repr(c) for c in choices))


def _check_rate(owner: str, name: str, value: Any) -> None:
    if not _is_real(value) or not 0.0 <= value < 1.0:
        _fail(owner, name, value, "a number in [0, 1)")


def _check_expand(owner: str, name: str, value: Any, width: int) -> None:
    if not _is_real(value) or value <= 0:
        _fail(owner, name, value, "a number > 0")
    hidden = value * width
    if abs(hidden - round(hidden)) > 1e-9:
        _fail(owner, name, value, f"a factor whose product with width={width} is an integer")


@dataclasses.dataclass(frozen=True)
class MixerConfig:
    """Settings of one Toeplitz token mixer (shared by every mixer kind).

    Attributes:
      kind: registered mixer name, a key of `tnn.mixers.MIXERS`.
      causal: if True, the kernel has a(k) = 0 for negative lags k.
      rpe_dim: hidden width E of the relative position encoder (RPE) MLP.
      rpe_layers: number of hidden [norm, ReLU, Linear(E -> E)] blocks of the RPE.
      rpe_norm: norm inside the RPE: "layernorm", "rmsnorm" (SimpleRMSNorm) or "none".
      decay: the decay base lambda in a(k) = lambda^|k| RPE(k), in (0, 1].
      learn_decay: learn one decay per channel, starting from `decay`.
      max_lag: if set, a(k) = 0 for |k| > max_lag (the released TNN code uses 1023). None
        evaluates the RPE at every lag.
      fft_size: FFT length rule for the circulant embedding: "pow2" (the next power of two
        >= 2n) or "fast" (the next 2^a 3^b 5^c >= 2n - 1). "fd" applies the rule to its grid
        length L and, for "fast", uses 2 x the next 2^a 3^b 5^c >= L (see `tnn.fd`).
      max_length: grid length L for mixers whose discretisation depends on the sequence
        length: SKI inducing points and interp lags lie on [0, L - 1], and FD's FFT size comes
        from L, so outputs at valid positions do not depend on how much padding follows.
        Inputs longer than L raise, for every kind (tnn's kernel does not depend on L).
        None uses the input length n.
      num_inducing: number of inducing points r of "ski" and "sparse_ski", and of RPE lags
        of "interp" (per axis in 2D). More points than grid positions are clipped to L.
      num_taps: number of learned sparse taps k, odd. "sparse_ski" and bidirectional "interp"
        use lags -(k-1)/2..(k-1)/2, causal "interp" lags 0..(k-1)/2.
      ski_kernel: parameterisation of the kernel sampled at inducing lags by "ski",
        "sparse_ski" and "interp": "rpe" (the RPE MLP times the decay) or "warped_linear" (a
        learned piecewise-linear function of the warped lag sign(k) * warp_gamma^|k|, times
        the decay).
      warp_gamma: base gamma in (0, 1) of the warped lag used by ski_kernel="warped_linear".
    """

    kind: str = "tnn"
    causal: bool = False
    rpe_dim: int = 32
    rpe_layers: int = 3
    rpe_norm: str = "layernorm"
    decay: float = 1.0
    learn_decay: bool = False
    max_lag: int | None = None
    fft_size: str = "pow2"
    max_length: int | None = None
    num_inducing: int = 64
    num_taps: int = 33
    ski_kernel: str = "rpe"
    warp_gamma: float = 0.999

    def __post_init__(self):
        # Imported here because tnn.mixers imports the mixer modules, which import this file.
        from tnn import mixers

        owner = "MixerConfig"
        if self.kind not in mixers.MIXERS:
            _fail(owner, "kind", self.kind, ", ".join(repr(k) for k in sorted(mixers.MIXERS)))
        _check_bool(owner, "causal", self.causal)
        _check_int(owner, "rpe_dim", self.rpe_dim, 1)
        _check_int(owner, "rpe_layers", self.rpe_layers, 0)
        _check_choice(owner, "rpe_norm", self.rpe_norm, RPE_NORMS)
        if not _is_real(self.decay) or not 0.0 < self.decay <= 1.0:
            _fail(owner, "decay", self.decay, "a number in (0, 1]")
        _check_bool(owner, "learn_decay", self.learn_decay)
        if self.max_lag is not None:
            _check_int(owner, "max_lag", self.max_lag, 0)
        _check_choice(owner, "fft_size", self.fft_size, FFT_SIZE_RULES)
        if self.max_length is not None:
            _check_int(owner, "max_length", self.max_length, 1)
        _check_int(owner, "num_inducing", self.num_inducing, 2)
        _check_int(owner, "num_taps", self.num_taps, 1)
        if self.num_taps % 2 == 0:
            _fail(owner, "num_taps", self.num_taps, "an odd integer >= 1 (taps centred on lag 0)")
        _check_choice(owner, "ski_kernel", self.ski_kernel, SKI_KERNELS)
        if self.ski_kernel != "rpe" and self.kind not in ("ski", "sparse_ski", "interp"):
            _fail(
                owner,
                "ski_kernel",
                self.ski_kernel,
                f"'rpe' for kind={self.kind!r}, which has no inducing kernel",
            )
        if not _is_real(self.warp_gamma) or not 0.0 < self.warp_gamma < 1.0:
            _fail(owner, "warp_gamma", self.warp_gamma, "a number in (0, 1)")
        if self.causal:
            reason = getattr(mixers.MIXERS[self.kind], "causal_unsupported", None)
            if reason:
                raise ValueError(
                    f"MixerConfig.causal=True is invalid for kind={self.kind!r}: {reason}"
                )


@dataclasses.dataclass(frozen=True)
class ModelConfig:
    """Settings of the TNN classifier.

    Attributes:
      vocab_size: number of token ids. Inputs must lie in [0, vocab_size).
      num_classes: number of output logits K.
      max_length: longest accepted sequence N (per document when num_inputs == 2).
      num_layers: number of pre-norm residual [GTU, GLU] layers.
      width: model width D.
      gtu_expand: mixer channels C = gtu_expand * D.
      glu_expand: GLU hidden width = glu_expand * D.
      dropout: dropout rate on each residual branch.
      input_dropout: dropout rate after the embedding and position encoding.
      norm: "batchnorm" (statistics over batch and valid positions), "layernorm" or "rmsnorm".
      pos_encoding: add the sinusoidal absolute position encoding to the embedding.
      pool: "mean" (masked mean over valid positions) or "last" (the last valid position).
      num_inputs: 1, or 2 for two documents encoded by one shared encoder (Retrieval).
      image_shape: (H, W) with H * W == max_length for 2D tasks, else None.
      mixer: the token mixer settings.
      dtype: computation dtype, "float32" or "bfloat16".
      param_dtype: parameter dtype, "float32" or "bfloat16".
    """

    vocab_size: int
    num_classes: int
    max_length: int
    num_layers: int = 2
    width: int = 64
    gtu_expand: float = 1
    glu_expand: float = 1
    dropout: float = 0.0
    input_dropout: float = 0.1
    norm: str = "batchnorm"
    pos_encoding: bool = True
    pool: str = "mean"
    num_inputs: int = 1
    image_shape: tuple[int, int] | None = None
    mixer: MixerConfig = dataclasses.field(default_factory=MixerConfig)
    dtype: str = "float32"
    param_dtype: str = "float32"

    def __post_init__(self):
        owner = "ModelConfig"
        _check_int(owner, "vocab_size", self.vocab_size, 1)
        _check_int(owner, "num_classes", self.num_classes, 2)
        _check_int(owner, "max_length", self.max_length, 1)
        _check_int(owner, "num_layers", self.num_layers, 1)
        _check_int(owner, "width", self.width, 1)
        _check_expand(owner, "gtu_expand", self.gtu_expand, self.width)
        _check_expand(owner, "glu_expand", self.glu_expand, self.width)
        _check_rate(owner, "dropout", self.dropout)
        _check_rate(owner, "input_dropout", self.input_dropout)
        _check_choice(owner, "norm", self.norm, NORMS)
        _check_bool(owner, "pos_encoding", self.pos_encoding)
        _check_choice(owner, "pool", self.pool, POOLS)
        if not _is_int(self.num_inputs) or self.num_inputs not in (1, 2):
            _fail(owner, "num_inputs", self.num_inputs, "1 or 2")
        self._check_image_shape(owner)
        if not isinstance(self.mixer, MixerConfig):
            _fail(owner, "mixer", self.mixer, "a tnn.config.MixerConfig")
        _check_choice(owner, "dtype", self.dtype, DTYPES)
        _check_choice(owner, "param_dtype", self.param_dtype, DTYPES)

    def _check_image_shape(self, owner: str) -> None:
        if self.image_shape is None:
            return
        shape = self.image_shape
        if (
            not isinstance(shape, (tuple, list))
            or len(shape) != 2
            or not all(_is_int(s) and s >= 1 for s in shape)
        ):
            _fail(owner, "image_shape", shape, "None or (H, W) with positive integers")
        if shape[0] * shape[1] != self.max_length:
            _fail(owner, "image_shape", shape, f"(H, W) with H * W == max_length={self.max_length}")
        # A list from a parsed config becomes a tuple so the config stays hashable.
        object.__setattr__(self, "image_shape", (int(shape[0]), int(shape[1])))

    @property
    def mixer_channels(self) -> int:
        """Mixer channels C = gtu_expand * width."""
        return int(round(self.gtu_expand * self.width))

    @property
    def glu_hidden(self) -> int:
        """GLU hidden width = glu_expand * width."""
        return int(round(self.glu_expand * self.width))
