"""2D form of every Toeplitz mixer: one 1D mixer along each image axis, composed.

Qin et al., "Toeplitz Neural Network for Sequence Modeling", ICLR 2023, and Moreno, Mei,
Walters, "SKI to go Faster", 2023, mix image-like inputs (Image, Pathfinder, Path-X) with one
1D mixer along the rows and one along the columns of x reshaped to (B, H, W, C):

    y = T_H (T_W x),    i.e. the operator T_H (x) T_W (Kronecker product) on the flattened x.

The 2D form wraps two instances of the 1D mixer class named by MixerConfig.kind and does not
copy their code. Each instance has its own parameters and max_length set to its axis length, so
the grids of SKI, interp and FD cover the image axes. Per-axis options in the reference scripts:
r = 32 inducing points and 17 sparse taps per axis (set in the image and pathfinder configs).

Layout: the row pass mixes axis 2 of (B, H, W, C). The column pass reshapes the image to
(B, H, W * C) and calls the 1D mixer with groups=W (W groups of the C channels), so neither
pass transposes the image. Measured on CPU (jax 0.10.2, B = 8, C = 64) against swapping the
axes around the column pass, this cut the memory of the 2D forward+backward at 64 x 64 and
128 x 128 by 12 % for tnn, interp and fd, by 5 % and 36 % for ski, and by 20 % and 29 % for
sparse_ski.

Masks: the input is masked once, before the first 1D pass. With a rectangular valid region
(rows < h and columns < w, as when an image is padded at its bottom and right), outputs at
valid positions then do not depend on the padding.

Shape letters: B batch, H and W image axes, N = H * W, C channels.

Deliberate difference from the released code: the release computes T_H T_W x + T_W T_H x,
which equals 2 T_H T_W x because the two axis operators commute. We compute T_H T_W x once.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
from flax import nnx

from tnn.config import MixerConfig


def _materialize(y_BHWC):
    """Return y unchanged, computed once: a matmul with the identity over channels.

    XLA fuses elementwise producers into their consumers. Without this, it recomputes the
    whole W pass (shifted sums, gathers) inside every consumer of the H pass, including the
    copies of sparse_ski's tap gradient. On CPU with jax 0.10 that made the 2D sparse_ski
    step at 128 x 128 about twice as slow. A matmul result is always stored, and multiplying
    by the identity is exact for finite values.
    NOTE: an inf in one channel turns the other channels of that pixel into NaN (0 * inf).
    """
    identity_CC = jnp.eye(y_BHWC.shape[-1], dtype=y_BHWC.dtype)
    # HIGHEST keeps float32 exact on backends whose default matmul rounds to TF32 or bfloat16.
    return jnp.einsum(
        "bhwd,dc->bhwc", y_BHWC, identity_CC, precision=jax.lax.Precision.HIGHEST
    )


class Mixer2D(nnx.Module):
    """y = T_H (T_W x) for images (B, H, W, C) or flattened images (B, H * W, C).

    NOTE: the row pass's output goes through a matmul with the identity (`_materialize`), so
    an inf in one channel of a pixel turns that pixel's other channels into NaN.
    """

    def __init__(
        self,
        cfg: MixerConfig,
        channels: int,
        image_shape: tuple[int, int],
        *,
        rngs: nnx.Rngs,
        param_dtype=jnp.float32,
    ):
        # Imported here because tnn.mixers imports this module.
        from tnn.mixers import MIXERS

        height, width = image_shape
        if cfg.max_length is not None and cfg.max_length != height * width:
            raise ValueError(
                f"Mixer2D: MixerConfig.max_length={cfg.max_length} does not match "
                f"image_shape={tuple(image_shape)} (H * W = {height * width}). Set max_length "
                "to H * W or None."
            )
        cls = MIXERS[cfg.kind]
        self.cfg = cfg
        self.channels = channels
        self.image_shape = (int(height), int(width))
        self.mixer_h = cls(
            dataclasses.replace(cfg, max_length=height),
            channels,
            rngs=rngs,
            param_dtype=param_dtype,
        )
        self.mixer_w = cls(
            dataclasses.replace(cfg, max_length=width),
            channels,
            rngs=rngs,
            param_dtype=param_dtype,
        )

    def _mix_image(self, x_BHWC, mask_BHW):
        height, width = self.image_shape
        if x_BHWC.shape[1] > height or x_BHWC.shape[2] > width:
            raise ValueError(
                f"Mixer2D: image of shape {tuple(x_BHWC.shape[1:3])} exceeds "
                f"image_shape={self.image_shape}. Crop the input or raise image_shape."
            )
        # T_W mixes along axis 2 (within each row) and masks the input.
        y_BHWC = _materialize(self.mixer_w(x_BHWC, mask_BHW))
        # T_H mixes along axis 1 (within each column). The columns are passed as w groups of
        # the C channels, (B, h, w * C), which needs no transpose of the image.
        batch, rows, columns, channels = y_BHWC.shape
        y_BHT = self.mixer_h(y_BHWC.reshape(batch, rows, columns * channels), groups=columns)
        return y_BHT.reshape(y_BHWC.shape)

    def __call__(self, x, mask=None):
        """Mix x of shape (B, H, W, C), or (B, H * W, C) in row-major order.

        Args:
          x: image (B, h, w, C) with h <= H and w <= W, or the flattened (B, H * W, C).
          mask: bool mask with x's shape without the channel axis (True = valid), or None.
        """
        if x.ndim == 4 and x.shape[-1] == self.channels:
            return self._mix_image(x, mask)
        height, width = self.image_shape
        if x.ndim != 3 or x.shape[1] != height * width or x.shape[-1] != self.channels:
            raise ValueError(
                f"Mixer2D: x has shape {tuple(x.shape)}, expected (B, {height}, {width}, "
                f"{self.channels}) or (B, {height * width}, {self.channels})."
            )
        batch = x.shape[0]
        image_mask = None if mask is None else mask.reshape(batch, height, width)
        y_BHWC = self._mix_image(x.reshape(batch, height, width, self.channels), image_mask)
        return y_BHWC.reshape(x.shape)

    def kernels(self, shape: tuple[int, int] | None = None):
        """Return the 1D kernels (kernel_H, kernel_W) of the two axis mixers."""
        height, width = shape or self.image_shape
        return self.mixer_h.kernel(height), self.mixer_w.kernel(width)

    def dense_matrix(self, shape: tuple[int, int] | None = None):
        """Build T_H (x) T_W as dense (C, h w, h w) matrices on row-major pixels, for tests."""
        height, width = shape or self.image_shape
        rows_CHH = self.mixer_h.dense_matrix(height)
        cols_CWW = self.mixer_w.dense_matrix(width)
        kron = jnp.einsum("cab,cij->caibj", rows_CHH, cols_CWW)
        return kron.reshape(self.channels, height * width, height * width)
