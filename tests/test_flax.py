"""Per-layer profiles of Flax models: a small linen transformer trained for a few optax steps, and nnx."""
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

flax = pytest.importorskip("flax")
import flax.linen as nn  # noqa: E402
from flax import nnx  # noqa: E402

from ii_jax import binarize  # noqa: E402
from ii_jax import information_imbalance  # noqa: E402
from ii_jax import pack_bits  # noqa: E402
from ii_jax.flax_capture import capture_activations  # noqa: E402
from ii_jax.flax_capture import layer_features  # noqa: E402
from ii_jax.flax_capture import flax_layer_profile as layer_profile  # noqa: E402

VOCAB, LENGTH, WIDTH, N = 16, 8, 32, 200


class Block(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.LayerNorm()(x)
        x = x + nn.MultiHeadDotProductAttention(num_heads=2, qkv_features=WIDTH)(h)
        h = nn.LayerNorm()(x)
        return x + nn.Dense(WIDTH)(nn.gelu(nn.Dense(2 * WIDTH)(h)))


class TinyTransformer(nn.Module):
    n_blocks: int = 3

    @nn.compact
    def __call__(self, tokens):
        x = nn.Embed(VOCAB, WIDTH)(tokens) + self.param("pos", nn.initializers.normal(0.02), (LENGTH, WIDTH))
        for i in range(self.n_blocks):
            x = Block(name=f"block_{i}")(x)
        return nn.Dense(4, name="head")(x[:, -1])


@pytest.fixture(scope="module")
def trained():
    """The toy task: read the first token (mod 4) at the last position, which needs attention."""
    model = TinyTransformer()
    key = jax.random.key(0)
    tokens = jax.random.randint(key, (256, LENGTH), 0, VOCAB)
    params = model.init(jax.random.key(1), tokens)
    opt = optax.adam(3e-3)
    state = opt.init(params)

    def loss(p, t):
        return optax.softmax_cross_entropy_with_integer_labels(model.apply(p, t), t[:, 0] % 4).mean()

    @jax.jit
    def step(p, s, t):
        value, grads = jax.value_and_grad(loss)(p, t)
        updates, s = opt.update(grads, s, p)
        return optax.apply_updates(p, updates), s, value

    first = None
    for i in range(30):
        batch = jax.random.randint(jax.random.fold_in(key, i), (64, LENGTH), 0, VOCAB)
        params, state, value = step(params, state, batch)
        first = value if first is None else first
    assert value < first  # trained, not random
    return model, params


@pytest.fixture(scope="module")
def pairs():
    a = jax.random.randint(jax.random.key(5), (N, LENGTH), 0, VOCAB)
    b = a.at[:, -2:].set(jax.random.randint(jax.random.key(6), (N, 2), 0, VOCAB))  # last two tokens redrawn
    return a, b


def test_capture_collects_blocks_in_call_order(trained, pairs):
    model, params = trained
    acts = capture_activations(model, pairs[0], variables=params, capture=lambda m, name: isinstance(m, Block))
    assert list(acts) == ["block_0/__call__", "block_1/__call__", "block_2/__call__"]
    assert all(a.shape == (N, LENGTH, WIDTH) for a in acts.values())
    every = capture_activations(model, pairs[0], variables=params)
    assert "block_1/__call__" in every and "head/__call__" in every and "__call__" in every


def test_profile_matches_manual_computation(trained, pairs):
    model, params = trained
    only_blocks = lambda m, name: isinstance(m, Block)  # noqa: E731
    prof = layer_profile(model, *pairs, variables=params, capture=only_blocks, tokens=4, bid=True)
    assert prof.names == ["block_0/__call__", "block_1/__call__", "block_2/__call__"]
    assert prof.n_features.tolist() == [4 * WIDTH] * 3
    # the same number by hand, for the middle block
    _, state = model.apply(params, pairs[0], capture_intermediates=only_blocks, mutable=["intermediates"])
    _, state_b = model.apply(params, pairs[1], capture_intermediates=only_blocks, mutable=["intermediates"])
    fa = state["intermediates"]["block_1"]["__call__"][0][:, -4:].reshape(N, -1)
    fb = state_b["intermediates"]["block_1"]["__call__"][0][:, -4:].reshape(N, -1)
    ref = information_imbalance(pack_bits(binarize(fa)), pack_bits(binarize(fb)))
    np.testing.assert_allclose([prof.x_to_y[1], prof.y_to_x[1]], [ref.x_to_y, ref.y_to_x], rtol=1e-12)
    assert np.all((prof.x_to_y > 0.02) & (prof.x_to_y < 1.0))  # partly shared: between perfect and null
    assert np.all(np.isfinite(prof.bid_fraction)) and np.all((prof.bid_fraction > 0) & (prof.bid_fraction < 1.2))


def test_profile_identity_and_null(trained, pairs):
    model, params = trained
    a, _ = pairs
    blocks = lambda name: name.startswith("block_")  # noqa: E731
    same = layer_profile(model, a, a, variables=params, layers=blocks, metric="euclidean")
    np.testing.assert_allclose(same.x_to_y, 2 / (N - 1), rtol=1e-9)
    shuffled = a[np.random.default_rng(0).permutation(N)]
    null = layer_profile(model, a, shuffled, variables=params, layers=blocks, tokens="mean", metric="cosine")
    assert np.all(np.abs(null.x_to_y - 1) < 0.2) and np.all(np.abs(null.y_to_x - 1) < 0.2)


class NnxBlock(nnx.Module):
    def __init__(self, rngs):
        self.lin = nnx.Linear(WIDTH, WIDTH, rngs=rngs)

    def __call__(self, x):
        y = x + jnp.tanh(self.lin(x))
        self.sow(nnx.Intermediate, "out", y)
        return y


class NnxModel(nnx.Module):
    def __init__(self, rngs):
        self.embed = nnx.Embed(VOCAB, WIDTH, rngs=rngs)
        self.blocks = nnx.List([NnxBlock(rngs) for _ in range(2)])

    def __call__(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x)
        return x


def test_nnx_sown_and_method_outputs(pairs):
    model = NnxModel(nnx.Rngs(0))
    sown = capture_activations(model, pairs[0])
    assert list(sown) == ["blocks/0/out", "blocks/1/out"]
    every = capture_activations(model, pairs[0], capture=True)
    assert len(every) > len(sown)
    prof = layer_profile(model, *pairs, tokens="last")
    assert prof.names == ["blocks/0/out", "blocks/1/out"] and prof.n_features.tolist() == [WIDTH, WIDTH]
    assert prof.bid_fraction is None


def test_bad_input(trained, pairs):
    model, params = trained
    with pytest.raises(ValueError, match="needs its variables"):
        capture_activations(model, pairs[0])
    with pytest.raises(TypeError, match="must be a flax.linen or flax.nnx Module"):
        capture_activations(lambda x: x, pairs[0])
    with pytest.raises(ValueError, match="pair item by item"):
        layer_profile(model, pairs[0], pairs[1][:10], variables=params)
    with pytest.raises(ValueError, match=r"layers \['nope'\] were not captured"):
        layer_profile(model, *pairs, variables=params, layers=["nope"])
    with pytest.raises(ValueError, match="tokens must be"):
        layer_features(jnp.zeros((2, 3, 4)), tokens=9)
