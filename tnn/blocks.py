"""Gated Toeplitz unit (GTU), GLU and the pre-norm residual TNN layer.

Qin et al., "Toeplitz Neural Network for Sequence Modeling", ICLR 2023:

    GTU:   u = silu(x W_u),  v = silu(x W_v)  (D -> C),   y = (u * TNO(v)) W_o  (C -> D)
    GLU:   y = (silu(x W_1) * (x W_2)) W_3                 (hidden width glu_expand * D)
    layer: x = x + drop(GTU(norm(x))),  then  x = x + drop(GLU(norm(x)))

The mask (True = valid) reaches the norm and the mixer, the only parts that mix positions.

Shape letters: B batch, N length, D width, C mixer channels, H GLU hidden width.
"""

from __future__ import annotations

import jax
from flax import nnx

from tnn.config import ModelConfig
from tnn.mixers import make_mixer
from tnn.norms import make_norm


class GTU(nnx.Module):
    """Gated Toeplitz unit: (silu(x W_u) * mixer(silu(x W_v))) W_o."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs, dtype, param_dtype):
        width, channels = cfg.width, cfg.mixer_channels
        kwargs = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.proj_u = nnx.Linear(width, channels, **kwargs)
        self.proj_v = nnx.Linear(width, channels, **kwargs)
        self.mixer = make_mixer(
            cfg.mixer, channels, rngs=rngs, param_dtype=param_dtype, image_shape=cfg.image_shape
        )
        self.proj_out = nnx.Linear(channels, width, **kwargs)

    def __call__(self, x_BND, mask_BN=None):
        u_BNC = jax.nn.silu(self.proj_u(x_BND))
        v_BNC = jax.nn.silu(self.proj_v(x_BND))
        return self.proj_out(u_BNC * self.mixer(v_BNC, mask_BN))


class GLU(nnx.Module):
    """Gated linear unit: (silu(x W_1) * (x W_2)) W_3."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs, dtype, param_dtype):
        width, hidden = cfg.width, cfg.glu_hidden
        kwargs = dict(dtype=dtype, param_dtype=param_dtype, rngs=rngs)
        self.proj_gate = nnx.Linear(width, hidden, **kwargs)
        self.proj_value = nnx.Linear(width, hidden, **kwargs)
        self.proj_out = nnx.Linear(hidden, width, **kwargs)

    def __call__(self, x_BND):
        h_BNH = jax.nn.silu(self.proj_gate(x_BND)) * self.proj_value(x_BND)
        return self.proj_out(h_BNH)


class TNNLayer(nnx.Module):
    """Pre-norm residual layer: token mixing by the GTU, then channel mixing by the GLU."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs, dtype, param_dtype):
        self.gtu_norm = make_norm(cfg.norm, cfg.width, rngs, dtype=dtype, param_dtype=param_dtype)
        self.gtu = GTU(cfg, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
        self.gtu_dropout = nnx.Dropout(cfg.dropout, rngs=rngs)
        self.glu_norm = make_norm(cfg.norm, cfg.width, rngs, dtype=dtype, param_dtype=param_dtype)
        self.glu = GLU(cfg, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
        self.glu_dropout = nnx.Dropout(cfg.dropout, rngs=rngs)

    def __call__(self, x_BND, mask_BN=None):
        x_BND = x_BND + self.gtu_dropout(self.gtu(self.gtu_norm(x_BND, mask_BN), mask_BN))
        x_BND = x_BND + self.glu_dropout(self.glu(self.glu_norm(x_BND, mask_BN)))
        return x_BND
