"""Normalisation layers of the TNN block, all called as `norm(x_BND, mask_BN=None)`.

- "batchnorm": BatchNorm whose batch statistics are taken over (batch, valid positions)
  only, with running averages for evaluation. It wraps `nnx.BatchNorm` and passes the mask
  through its `mask` argument (flax 0.12), which averages with `jnp.mean(..., where=mask)`.
  `use_fast_variance=False` so the variance is the mean of (x - mean)^2 over the same
  positions. momentum=0.9 and epsilon=1e-5 equal PyTorch's BatchNorm1d defaults (PyTorch's
  momentum=0.1 is the weight of the new batch, flax's momentum the weight of the old average).
- "layernorm": `nnx.LayerNorm` with epsilon=1e-5 (PyTorch's default).
- "rmsnorm": SimpleRMSNorm, x / (rms(x) + eps) with no learned gain.

LayerNorm and SimpleRMSNorm act on each position alone, so they need no mask. They accept it
so that every norm has one call signature.

Shape letters: B batch, N sequence length, D width.
"""

from __future__ import annotations

import jax.numpy as jnp
from flax import nnx

from tnn.config import NORMS


class SimpleRMSNorm(nnx.Module):
    """SimpleRMSNorm x / (rms(x) + eps) over the last axis, with no learned gain, in float32."""

    def __init__(self, eps: float = 1e-8, dtype=None):
        self.eps = eps
        self.dtype = dtype

    def __call__(self, x_BND, mask_BN=None):
        del mask_BN  # Position-wise: padding cannot reach valid positions.
        x32_BND = x_BND.astype(jnp.promote_types(x_BND.dtype, jnp.float32))
        rms_BN1 = jnp.sqrt(jnp.mean(jnp.square(x32_BND), axis=-1, keepdims=True))
        y_BND = x32_BND / (rms_BN1 + self.eps)
        return y_BND.astype(self.dtype or x_BND.dtype)


class LayerNorm(nnx.Module):
    """`nnx.LayerNorm` over the last axis, with the shared (x, mask) call signature."""

    def __init__(self, width: int, *, rngs: nnx.Rngs, dtype=None, param_dtype=jnp.float32):
        self.norm = nnx.LayerNorm(
            width, epsilon=1e-5, dtype=dtype, param_dtype=param_dtype, rngs=rngs
        )

    def __call__(self, x_BND, mask_BN=None):
        del mask_BN  # Position-wise: padding cannot reach valid positions.
        return self.norm(x_BND)


class MaskedBatchNorm(nnx.Module):
    """BatchNorm over the last axis with statistics from valid positions only.

    In training mode (`model.train()`), the mean and variance come from the entries of
    x_BND where mask_BN is True and update the running averages. In evaluation mode
    (`model.eval()`), the running averages are used and every position is normalised alone.
    A training batch with no valid position gives NaN statistics.
    """

    def __init__(self, width: int, *, rngs: nnx.Rngs, dtype=None, param_dtype=jnp.float32):
        self.norm = nnx.BatchNorm(
            width,
            momentum=0.9,
            epsilon=1e-5,
            use_fast_variance=False,
            dtype=dtype,
            param_dtype=param_dtype,
            rngs=rngs,
        )

    def __call__(self, x_BND, mask_BN=None):
        if mask_BN is None:
            return self.norm(x_BND)
        if tuple(mask_BN.shape) != tuple(x_BND.shape[:-1]):
            raise ValueError(
                f"MaskedBatchNorm: mask_BN has shape {tuple(mask_BN.shape)} but x_BND has "
                f"shape {tuple(x_BND.shape)}. The mask must have the shape of x without its "
                "last axis."
            )
        return self.norm(x_BND, mask=mask_BN[..., None].astype(bool))


def make_norm(name: str, width: int, rngs: nnx.Rngs, *, dtype=None, param_dtype=jnp.float32):
    """Build the norm called `name` ("batchnorm", "layernorm" or "rmsnorm") for width D."""
    if name == "batchnorm":
        return MaskedBatchNorm(width, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
    if name == "layernorm":
        return LayerNorm(width, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
    if name == "rmsnorm":
        return SimpleRMSNorm(dtype=dtype)
    raise ValueError(f"make_norm: name={name!r} is invalid. Allowed: {', '.join(NORMS)}.")
