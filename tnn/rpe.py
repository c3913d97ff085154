"""Relative position encoder (RPE) and exponential decay bias of the Toeplitz kernel.

Qin et al., "Toeplitz Neural Network for Sequence Modeling", ICLR 2023: the kernel value at
lag k is a(0) = RPE(0) and a(k) = lambda^|k| * RPE(k), where RPE is a small MLP from the
scalar lag to one value per channel:

    Linear(1 -> E), rpe_layers x [norm, ReLU, Linear(E -> E)], [norm, ReLU, Linear(E -> C)]

The RPE takes the raw lag as a float, without rescaling. It accepts any float lags, so mixers
that sample the kernel off the integer grid can reuse it.

Shape letters: L lags, E RPE width, C channels.

Design choices:
- The RPE's Linear layers draw weights and biases from U(-1/sqrt(fan_in), 1/sqrt(fan_in)),
  PyTorch's nn.Linear default, instead of flax's zero bias. With zero biases RPE(0) = 0, and
  because the first norm is scale invariant, RPE(k) would be the same for every k > 0 at
  initialisation.
- The RPE always computes in at least float32, also under bfloat16 parameters, because its
  output sets every kernel value of the layer.
- The learned decay (one lambda per channel) is a parameter clipped to [1e-4, 1], so it can
  start at and stay at exactly 1. While the stored value is above 1 it has no gradient.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from flax import nnx

from tnn import norms
from tnn.config import RPE_NORMS

MIN_LEARNED_DECAY = 1e-4


def _make_rpe_norm(name: str, width: int, rngs: nnx.Rngs, dtype, param_dtype):
    if name == "layernorm":
        return norms.LayerNorm(width, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
    if name == "rmsnorm":
        return norms.SimpleRMSNorm(dtype=dtype)
    if name == "none":
        return None
    raise ValueError(f"RPE norm={name!r} is invalid. Allowed: {', '.join(RPE_NORMS)}.")


def _symmetric_uniform(bound: float):
    def init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    return init


def _linear(d_in: int, d_out: int, *, rngs, dtype, param_dtype) -> nnx.Linear:
    """Linear layer with PyTorch's default initialisation (see the module docstring)."""
    init = _symmetric_uniform(1.0 / math.sqrt(d_in))
    return nnx.Linear(
        d_in,
        d_out,
        kernel_init=init,
        bias_init=init,
        dtype=dtype,
        param_dtype=param_dtype,
        rngs=rngs,
    )


class _NormReluLinear(nnx.Module):
    """One [norm, ReLU, Linear] block of the RPE MLP."""

    def __init__(self, d_in: int, d_out: int, norm: str, *, rngs, dtype, param_dtype):
        self.norm = _make_rpe_norm(norm, d_in, rngs, dtype, param_dtype)
        self.linear = _linear(d_in, d_out, rngs=rngs, dtype=dtype, param_dtype=param_dtype)

    def __call__(self, h_LE):
        if self.norm is not None:
            h_LE = self.norm(h_LE)
        return self.linear(jax.nn.relu(h_LE))


class RPE(nnx.Module):
    """The RPE MLP: float lags of shape (L,) -> kernel values of shape (L, C)."""

    def __init__(
        self,
        out_features: int,
        *,
        hidden: int,
        num_layers: int,
        norm: str,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        dtype = jnp.promote_types(param_dtype, jnp.float32)
        self.input_proj = _linear(1, hidden, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
        block_kwargs = dict(rngs=rngs, dtype=dtype, param_dtype=param_dtype)
        self.blocks = nnx.List(
            [_NormReluLinear(hidden, hidden, norm, **block_kwargs) for _ in range(num_layers)]
        )
        self.output = _NormReluLinear(
            hidden, out_features, norm, rngs=rngs, dtype=dtype, param_dtype=param_dtype
        )
        self.dtype = dtype

    def __call__(self, lags_L):
        h_LE = self.input_proj(jnp.asarray(lags_L, self.dtype)[:, None])
        for block in self.blocks:
            h_LE = block(h_LE)
        return self.output(h_LE)


class ExponentialDecay(nnx.Module):
    """The decay factor lambda^|k| per lag and channel, with lambda in (0, 1].

    Fixed: one lambda = `decay` for all channels, no parameters. Learned: one parameter per
    channel, initialised to `decay` and clipped to [MIN_LEARNED_DECAY, 1] when used.

    NOTE: an optimizer that applies weight decay to every parameter pulls a learned lambda
    toward 0, which shortens the kernel. Exclude `decay_C` from weight decay to avoid that.
    """

    def __init__(self, channels: int, decay: float, learn: bool, *, param_dtype=jnp.float32):
        if not 0.0 < decay <= 1.0:
            raise ValueError(f"ExponentialDecay: decay={decay!r} is invalid. It must be in (0, 1].")
        self.channels = channels
        self.learn = learn
        self.dtype = jnp.promote_types(param_dtype, jnp.float32)
        if learn:
            self.decay_C = nnx.Param(jnp.full((channels,), decay, param_dtype))
        else:
            self.log_decay = math.log(decay)

    def __call__(self, lags_L):
        abs_lags_L1 = jnp.abs(jnp.asarray(lags_L, self.dtype))[:, None]
        if self.learn:
            decay_C = jnp.clip(self.decay_C[...].astype(self.dtype), MIN_LEARNED_DECAY, 1.0)
            return jnp.exp(abs_lags_L1 * jnp.log(decay_C))
        factor_L1 = jnp.exp(abs_lags_L1 * self.log_decay)
        return jnp.broadcast_to(factor_L1, (factor_L1.shape[0], self.channels))
