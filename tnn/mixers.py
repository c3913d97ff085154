"""Registry of token mixer kinds and the factory that builds one from a MixerConfig.

A mixer kind is an `nnx.Module` class constructed as
`cls(cfg: MixerConfig, channels: int, *, rngs: nnx.Rngs, param_dtype)` that implements
`__call__(x_BNC, mask_BN=None, *, groups=1) -> y_BNC`, `kernel(n)` and `dense_matrix(n)` (see
`tnn.tno.TNO`). A class attribute `supports_causal = False` marks kinds that only exist in
bidirectional form. New kinds live in their own file and are added to `MIXERS` below or with
`register_mixer`. A class attribute `causal_unsupported` contains the reason MixerConfig gives
when such a kind is configured with causal=True.

`image_shape` wraps the kind in `tnn.mixer2d.Mixer2D`, which applies one 1D mixer per image
axis. Mixer2D takes `(x, mask=None)` and has no `groups` argument: it uses `groups` itself to
mix the image's columns.
"""

from __future__ import annotations

import numbers

import jax.numpy as jnp
from flax import nnx

from tnn.fd import FDTNO
from tnn.interp import InterpTNO
from tnn.mixer2d import Mixer2D
from tnn.ski import SKI
from tnn.sparse import SparseSKI
from tnn.tno import TNO

MIXERS: dict[str, type] = {
    "tnn": TNO,
    "ski": SKI,
    "sparse_ski": SparseSKI,
    "interp": InterpTNO,
    "fd": FDTNO,
}


def register_mixer(kind: str, cls: type) -> None:
    """Add mixer class `cls` under the name `kind`, or raise ValueError if the name is taken."""
    if kind in MIXERS and MIXERS[kind] is not cls:
        raise ValueError(
            f"register_mixer: kind={kind!r} is already registered to {MIXERS[kind].__name__}. "
            "Choose another name."
        )
    MIXERS[kind] = cls


def _is_positive_int(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, numbers.Integral) and value >= 1


def make_mixer(
    cfg,
    channels: int,
    *,
    rngs: nnx.Rngs,
    param_dtype=jnp.float32,
    image_shape: tuple[int, int] | None = None,
):
    """Build the mixer named by `cfg.kind` (a MixerConfig) acting on `channels` channels.

    Args:
      cfg: the mixer settings.
      channels: number of channels C of the inputs x_BNC.
      rngs: parameter initialisation keys.
      param_dtype: dtype of the mixer's parameters.
      image_shape: (H, W) to mix along both image axes, or None for one 1D sequence axis.
    """
    if not _is_positive_int(channels):
        raise ValueError(f"make_mixer: channels={channels!r} is invalid. It must be an int >= 1.")
    if image_shape is not None:
        sides = tuple(image_shape) if isinstance(image_shape, (tuple, list)) else ()
        if len(sides) != 2 or not all(_is_positive_int(side) for side in sides):
            raise ValueError(
                f"make_mixer: image_shape={image_shape!r} is invalid. It must be (H, W), two "
                "ints >= 1."
            )
    if cfg.kind not in MIXERS:
        raise ValueError(
            f"MixerConfig.kind={cfg.kind!r} is invalid. Known kinds: "
            f"{', '.join(repr(k) for k in sorted(MIXERS))}."
        )
    cls = MIXERS[cfg.kind]
    if cfg.causal and not getattr(cls, "supports_causal", True):
        reason = getattr(cls, "causal_unsupported", "the kind is bidirectional only")
        raise ValueError(
            f"MixerConfig.causal=True is invalid for kind={cfg.kind!r}: {reason} Set "
            "causal=False or choose another kind."
        )
    if image_shape is not None:
        return Mixer2D(cfg, channels, image_shape, rngs=rngs, param_dtype=param_dtype)
    return cls(cfg, channels, rngs=rngs, param_dtype=param_dtype)
