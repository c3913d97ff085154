"""TNN encoder and the sequence classifier used for every Long Range Arena task.

Qin et al., "Toeplitz Neural Network for Sequence Modeling", ICLR 2023: token embedding plus
an optional sinusoidal absolute position encoding, input dropout, `num_layers` pre-norm
[GTU, GLU] layers (`tnn.blocks.TNNLayer`) and one final norm. Heads (Tay et al., "Long Range
Arena", ICLR 2021):
- one input: pool the encoder output (masked mean over valid positions, or the last valid
  position), then Linear(D -> K).
- two inputs (Retrieval): one shared encoder pools each document alone into u and v, then
  [u, v, u * v, u - v] -> Linear(4D -> D) -> ReLU -> Linear(D -> K).

The mask (True = valid) reaches every mixer and BatchNorm, so in evaluation mode the logits of
an example do not depend on how much padding follows it.

Shape letters: B batch, N length, D width, K classes.

Design choices:
- The two Retrieval documents are stacked along the batch axis and encoded in one call. In
  training mode BatchNorm statistics therefore pool both documents of every pair, as they
  pool all examples of a batch. The documents still never see each other's tokens.
- Pooling and the head compute in float32, also when `dtype` is bfloat16, and the logits
  are always float32.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from tnn.blocks import TNNLayer
from tnn.config import ModelConfig
from tnn.norms import make_norm


def sinusoidal_position_encoding(n: int, width: int) -> np.ndarray:
    """Return the (n, width) float32 table with sin at even and cos at odd columns.

    Column pair (2i, 2i + 1) contains sin and cos of position / 10000^(2i / width) (Vaswani et
    al., "Attention Is All You Need", 2017).
    """
    positions_N1 = np.arange(n, dtype=np.float64)[:, None]
    inv_freq = 10000.0 ** (-np.arange(0, width, 2, dtype=np.float64) / width)
    angles = positions_N1 * inv_freq[None, :]
    table_ND = np.zeros((n, width), np.float64)
    table_ND[:, 0::2] = np.sin(angles)
    table_ND[:, 1::2] = np.cos(angles[:, : width // 2])
    return table_ND.astype(np.float32)


class Encoder(nnx.Module):
    """Token ids (B, N) and mask (B, N) -> features x_BND after the final norm."""

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        dtype, param_dtype = jnp.dtype(cfg.dtype), jnp.dtype(cfg.param_dtype)
        self.dtype = dtype
        self.width = cfg.width
        self.pos_encoding = cfg.pos_encoding
        self.embed = nnx.Embed(
            cfg.vocab_size, cfg.width, dtype=dtype, param_dtype=param_dtype, rngs=rngs
        )
        self.input_dropout = nnx.Dropout(cfg.input_dropout, rngs=rngs)
        self.layers = nnx.List(
            [
                TNNLayer(cfg, rngs=rngs, dtype=dtype, param_dtype=param_dtype)
                for _ in range(cfg.num_layers)
            ]
        )
        self.final_norm = make_norm(cfg.norm, cfg.width, rngs, dtype=dtype, param_dtype=param_dtype)

    def __call__(self, tokens_BN, mask_BN):
        x_BND = self.embed(tokens_BN)
        if self.pos_encoding:
            table_ND = sinusoidal_position_encoding(tokens_BN.shape[-1], self.width)
            x_BND = x_BND + jnp.asarray(table_ND, self.dtype)
        x_BND = self.input_dropout(x_BND)
        for layer in self.layers:
            x_BND = layer(x_BND, mask_BN)
        return self.final_norm(x_BND, mask_BN)


def masked_mean_pool(x_BND, mask_BN):
    """Return the float32 mean of x over valid positions, or zeros for an all-padding row."""
    weight_BN1 = mask_BN[..., None].astype(jnp.float32)
    total_BD = jnp.sum(x_BND.astype(jnp.float32) * weight_BN1, axis=-2)
    count_B1 = jnp.maximum(jnp.sum(weight_BN1, axis=-2), 1.0)
    return total_BD / count_B1


def last_valid_pool(x_BND, mask_BN):
    """Return x at the last valid position of each row (position 0 for an all-padding row)."""
    n = mask_BN.shape[-1]
    index_B = jnp.max(jnp.where(mask_BN, jnp.arange(n), 0), axis=-1)
    picked_B1D = jnp.take_along_axis(x_BND, index_B[:, None, None], axis=-2)
    return picked_B1D[:, 0, :].astype(jnp.float32)


class Classifier(nnx.Module):
    """TNN sequence classifier: tokens and mask -> logits_BK (see the module docstring).

    Call `model.train()` for dropout and BatchNorm batch statistics, `model.eval()` for
    deterministic outputs with BatchNorm running averages. Dropout draws keys from the
    "dropout" stream of the `nnx.Rngs` given at construction (or its default stream).
    """

    def __init__(self, cfg: ModelConfig, *, rngs: nnx.Rngs):
        if not isinstance(cfg, ModelConfig):
            raise TypeError(f"Classifier: cfg must be a tnn.ModelConfig, got {type(cfg).__name__}.")
        self.cfg = cfg
        self.encoder = Encoder(cfg, rngs=rngs)
        head_kwargs = dict(dtype=jnp.float32, param_dtype=jnp.dtype(cfg.param_dtype), rngs=rngs)
        if cfg.num_inputs == 1:
            self.head = nnx.Linear(cfg.width, cfg.num_classes, **head_kwargs)
        else:
            self.head_hidden = nnx.Linear(4 * cfg.width, cfg.width, **head_kwargs)
            self.head = nnx.Linear(cfg.width, cfg.num_classes, **head_kwargs)

    def _check_inputs(self, tokens, mask):
        cfg = self.cfg
        if cfg.num_inputs == 1 and tokens.ndim != 2:
            raise ValueError(
                f"Classifier: tokens have shape {tuple(tokens.shape)}, expected (B, N) "
                "because ModelConfig.num_inputs=1."
            )
        if cfg.num_inputs == 2 and (tokens.ndim != 3 or tokens.shape[1] != 2):
            raise ValueError(
                f"Classifier: tokens have shape {tuple(tokens.shape)}, expected (B, 2, N) "
                "because ModelConfig.num_inputs=2."
            )
        if tokens.shape[-1] > cfg.max_length:
            raise ValueError(
                f"Classifier: input length {tokens.shape[-1]} exceeds "
                f"ModelConfig.max_length={cfg.max_length}. Raise max_length or crop the inputs."
            )
        if mask is None:
            return jnp.ones(tokens.shape, bool)
        if tuple(mask.shape) != tuple(tokens.shape):
            raise ValueError(
                f"Classifier: mask has shape {tuple(mask.shape)} but tokens have shape "
                f"{tuple(tokens.shape)}. They must match."
            )
        return mask.astype(bool)

    def _pool(self, x_BND, mask_BN):
        if self.cfg.pool == "mean":
            return masked_mean_pool(x_BND, mask_BN)
        return last_valid_pool(x_BND, mask_BN)

    def encode(self, tokens, mask=None):
        """Encode and pool to float32 features: (B, D), or (B, 2, D) when num_inputs == 2.

        Args:
          tokens: int token ids, (B, N) or (B, 2, N).
          mask: bool, same shape, True at valid positions. None means all positions are valid.
        """
        mask = self._check_inputs(tokens, mask)
        if self.cfg.num_inputs == 1:
            return self._pool(self.encoder(tokens, mask), mask)
        batch, _, n = tokens.shape
        tokens_2BN = tokens.reshape(2 * batch, n)
        mask_2BN = mask.reshape(2 * batch, n)
        pooled_2BD = self._pool(self.encoder(tokens_2BN, mask_2BN), mask_2BN)
        return pooled_2BD.reshape(batch, 2, -1)

    def __call__(self, tokens, mask=None):
        """Compute float32 logits_BK for tokens (B, N) or (B, 2, N) and a mask of that shape."""
        pooled = self.encode(tokens, mask)
        if self.cfg.num_inputs == 1:
            return self.head(pooled)
        u_BD, v_BD = pooled[:, 0], pooled[:, 1]
        features_B4D = jnp.concatenate([u_BD, v_BD, u_BD * v_BD, u_BD - v_BD], axis=-1)
        return self.head(jax.nn.relu(self.head_hidden(features_B4D)))


def count_params(model: nnx.Module) -> int:
    """Return the number of scalars in the model's trainable `nnx.Param` leaves."""
    leaves = jax.tree.leaves(nnx.state(model, nnx.Param))
    return sum(int(np.prod(leaf.shape)) for leaf in leaves)
