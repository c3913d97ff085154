"""The 2D form of every mixer: T_H (x) T_W against the dense Kronecker product, masks and
padding in 2D, and the classifier with image_shape."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.test_util import check_grads

from tnn import MIXERS, Classifier, Mixer2D, MixerConfig, ModelConfig, make_mixer

from test_mixers import KIND_IDS, KINDS, apply_dense, apply_mixer, random_input, relative_error

CHANNELS = 2
OPTIONS = dict(decay=0.9, num_inducing=3, num_taps=3, rpe_dim=8, rpe_layers=1)
IMAGE = (5, 6)  # Odd and even sides, H != W, so a swapped axis would show.

mixer_and_dense = nnx.jit(lambda mixer, x: (mixer(x), mixer.dense_matrix()))


@pytest.fixture
def x64():
    with jax.enable_x64(True):
        yield


def build_2d(kind, causal, image=IMAGE, param_dtype=jnp.float32):
    cfg = MixerConfig(kind=kind, causal=causal, **OPTIONS)
    return make_mixer(cfg, CHANNELS, rngs=nnx.Rngs(0), param_dtype=param_dtype,
                      image_shape=image)


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_2d_mixer_matches_kronecker_product(x64, kind, causal):
    mixer = build_2d(kind, causal, param_dtype=jnp.float64)
    x_BNC = random_input((2, IMAGE[0] * IMAGE[1], CHANNELS), dtype=jnp.float64)
    y_BNC, matrix_CNN = mixer_and_dense(mixer, x_BNC)
    assert y_BNC.shape == x_BNC.shape
    assert relative_error(y_BNC, apply_dense(matrix_CNN, x_BNC)) < 1e-10
    # The dense matrix is T_H (x) T_W of the two axis mixers' own dense matrices.
    rows_CHH = np.asarray(mixer.mixer_h.dense_matrix(IMAGE[0]))
    cols_CWW = np.asarray(mixer.mixer_w.dense_matrix(IMAGE[1]))
    for c in range(CHANNELS):
        np.testing.assert_allclose(matrix_CNN[c], np.kron(rows_CHH[c], cols_CWW[c]), rtol=1e-12)


@pytest.mark.parametrize("kind", ["tnn", "sparse_ski", "fd"])
def test_2d_mixer_matches_kronecker_product_float32(kind):
    mixer = build_2d(kind, False, image=(16, 12))
    x_BNC = random_input((2, 16 * 12, CHANNELS))
    y_BNC, matrix_CNN = mixer_and_dense(mixer, x_BNC)
    assert relative_error(y_BNC, apply_dense(matrix_CNN, x_BNC)) < 1e-5


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_2d_gradients_match_finite_differences(x64, kind, causal):
    # The column pass runs the 1D mixer on (B, H, W * C) with W groups of channels, through
    # the custom VJPs of SKI and of the banded product.
    mixer = build_2d(kind, causal, param_dtype=jnp.float64)
    graphdef, params = nnx.split(mixer, nnx.Param)
    x_BHWC = random_input((2, *IMAGE, CHANNELS), dtype=jnp.float64)
    probe_BHWC = random_input((2, *IMAGE, CHANNELS), seed=1, dtype=jnp.float64)

    @jax.jit
    def loss(params, x_BHWC):
        return jnp.sum(jnp.sin(nnx.merge(graphdef, params)(x_BHWC)) * probe_BHWC)

    check_grads(loss, (params, x_BHWC), order=1, modes=["rev"], eps=1e-6, atol=1e-6, rtol=1e-6)


def test_2d_mixer_wraps_two_1d_mixers():
    for kind in MIXERS:
        mixer = build_2d(kind, False)
        assert isinstance(mixer, Mixer2D)
        assert type(mixer.mixer_h) is MIXERS[kind]
        assert type(mixer.mixer_w) is MIXERS[kind]
        # Each axis gets its own grid.
        assert mixer.mixer_h.cfg.max_length == IMAGE[0]
        assert mixer.mixer_w.cfg.max_length == IMAGE[1]


def test_image_and_flattened_inputs_agree():
    mixer = build_2d("sparse_ski", False)
    x_BHWC = random_input((2,) + IMAGE + (CHANNELS,))
    y_image = np.asarray(apply_mixer(mixer, x_BHWC))
    y_flat = np.asarray(apply_mixer(mixer, x_BHWC.reshape(2, -1, CHANNELS)))
    assert y_image.shape == x_BHWC.shape
    np.testing.assert_allclose(y_flat.reshape(y_image.shape), y_image, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind, causal", KINDS, ids=KIND_IDS)
def test_2d_padding_does_not_change_valid_outputs(kind, causal):
    # A 4 x 5 image in the 5 x 6 grid, padded at the bottom and right with large values.
    mixer = build_2d(kind, causal)
    content_BHWC = random_input((2, 4, 5, CHANNELS))
    padded = 100.0 * np.asarray(random_input((2,) + IMAGE + (CHANNELS,), seed=1))
    padded[:, :4, :5] = np.asarray(content_BHWC)
    mask_BHW = np.zeros((2,) + IMAGE, bool)
    mask_BHW[:, :4, :5] = True
    y_small = np.asarray(apply_mixer(mixer, content_BHWC))
    y_padded = np.asarray(apply_mixer(mixer, jnp.asarray(padded), jnp.asarray(mask_BHW)))
    scale = np.abs(y_small).max()
    np.testing.assert_allclose(y_padded[:, :4, :5], y_small, atol=1e-5 * scale)
    # The flattened form takes the flattened mask.
    y_flat = np.asarray(apply_mixer(mixer, jnp.asarray(padded).reshape(2, -1, CHANNELS),
                                    jnp.asarray(mask_BHW).reshape(2, -1)))
    np.testing.assert_allclose(y_flat.reshape(y_padded.shape), y_padded, rtol=1e-5,
                               atol=1e-5 * scale)


def test_2d_mixer_rejects_bad_shapes():
    mixer = build_2d("tnn", False)
    with pytest.raises(ValueError, match="expected \\(B, 5, 6, 2\\) or \\(B, 30, 2\\)"):
        mixer(jnp.ones((1, 29, CHANNELS)))
    with pytest.raises(ValueError, match="exceeds image_shape=\\(5, 6\\)"):
        mixer(jnp.ones((1, 6, 6, CHANNELS)))
    with pytest.raises(ValueError, match="max_length=20 does not match"):
        Mixer2D(MixerConfig(max_length=20), CHANNELS, IMAGE, rngs=nnx.Rngs(0))


def test_classifier_with_image_shape_uses_2d_mixers():
    def model_config(kind):
        return ModelConfig(vocab_size=10, num_classes=3, max_length=30, image_shape=IMAGE,
                           num_layers=1, width=8, input_dropout=0.0,
                           mixer=MixerConfig(kind=kind, max_length=30, **OPTIONS))

    for kind in MIXERS:
        model = Classifier(model_config(kind), rngs=nnx.Rngs(0))
        assert isinstance(model.encoder.layers[0].gtu.mixer, Mixer2D), kind
    # One forward pass; the mixers themselves are tested above.
    model.eval()
    tokens = jnp.asarray(np.random.default_rng(0).integers(0, 10, (2, 30)), jnp.int32)
    logits = nnx.jit(lambda m, t: m(t))(model, tokens)
    assert logits.shape == (2, 3)
    assert np.all(np.isfinite(np.asarray(logits)))
