"""ii_jax.dii: the Differentiable Information Imbalance against brute-force NumPy definitions (tests/reference.py),
finite differences, the exact Δ in the λ → 0 limit, planted features, and the training rules.
"""
import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import reference as ref
from ii_jax import dii, information_imbalance, pack_bits
from ii_jax.distances import x64_scope

HERE = os.path.dirname(os.path.abspath(__file__))


def _data(n=80, d=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d))
    y = x[:, :2] * np.array([3.0, 1.0]) + 0.1 * rng.normal(size=(n, 2))
    return x, y


# ------------------------------------------------------------------------------------------------- ranks


def test_rank_matrix_is_the_mid_rank_of_the_definition_with_ties():
    rng = np.random.default_rng(1)
    bits = rng.random((40, 12)) < 0.5  # 12 bits: many tied distances
    got = np.asarray(dii.rank_matrix(np.asarray(pack_bits(bits)), metric="hamming")) / 2
    np.testing.assert_array_equal(got, ref.mid_rank_matrix(ref.hamming_matrix(bits)))
    y = rng.normal(size=(30, 3))
    got = np.asarray(dii.rank_matrix(y.astype(np.float32), block_size=7)) / 2
    np.testing.assert_array_equal(got, ref.mid_rank_matrix(ref.sq_euclidean_matrix(y)))
    d = ref.sq_euclidean_matrix(y)
    np.testing.assert_array_equal(dii.rank_matrix(distances=d), dii.rank_matrix(distances=d.astype(np.float32)))


def test_rank_matrix_rows_and_rerank():
    y = np.random.default_rng(2).normal(size=(25, 2))
    full = np.asarray(dii.rank_matrix(y))
    rows = np.array([3, 10, 0])
    np.testing.assert_array_equal(np.asarray(dii.rank_matrix(y, rows=rows)), full[rows])
    sub = np.array([1, 4, 7, 8, 20])
    np.testing.assert_array_equal(np.asarray(dii.rerank(full[np.ix_(sub, sub)])),
                                  np.asarray(dii.rank_matrix(y[sub])).astype(np.int32))


def test_rank_matrix_refuses_bad_input():
    with pytest.raises(ValueError, match="exactly one"):
        dii.rank_matrix()
    with pytest.raises(TypeError, match="packed uint32"):
        dii.rank_matrix(np.zeros((4, 2)), metric="hamming")
    with pytest.raises(ValueError, match="distinct indices"):
        dii.rank_matrix(np.zeros((4, 2)), rows=[0, 0])
    with pytest.raises(ValueError, match="square"):
        dii.rank_matrix(distances=np.zeros((4, 3)))


# ------------------------------------------------------------------------------------------------- the loss


@pytest.mark.parametrize(("scheme", "k"), [("point", 1), ("point", 4), ("global", 1), ("global", 3), ("gap", 1),
                                           ("gap", 3)])
def test_soft_imbalance_matches_the_definition(scheme, k):
    x, y = _data()
    ranks = dii.rank_matrix(y)
    w = np.array([1.0, 0.6, 0.3, 0.2])
    want = ref.soft_imbalance(x, w, np.asarray(ranks) / 2, k=k, scheme=scheme)
    for block in (7, 80, None):
        got = dii.soft_imbalance(x.astype(np.float32), ranks, w.astype(np.float32), k=k, scheme=scheme,
                                 block_size=block)
        assert float(got) == pytest.approx(want, rel=2e-5)


def test_groups_rows_layouts_and_group_distances_agree_with_the_definition():
    x, y = _data(n=60, d=6)
    ranks = dii.rank_matrix(y)
    w = np.array([0.9, 0.2, 0.5])
    want = ref.soft_imbalance(x, np.repeat(w, 2), np.asarray(ranks) / 2)
    x32, w32 = x.astype(np.float32), w.astype(np.float32)
    for distance in ("diff", "grouped"):
        got = dii.soft_imbalance(x32, ranks, w32, groups=2, distance=distance, block_size=16)
        assert float(got) == pytest.approx(want, rel=2e-5), distance
    uneven = dii.soft_imbalance(x32, ranks, np.array([0.9, 0.2, 0.5], np.float32), groups=[2, 3, 1])
    assert float(uneven) == pytest.approx(ref.soft_imbalance(x, np.repeat(w, [2, 3, 1]), np.asarray(ranks) / 2),
                                          rel=2e-5)
    per_group = np.stack([ref.sq_euclidean_matrix(x[:, 2 * g:2 * g + 2]) for g in range(3)])
    assert float(dii.soft_imbalance(per_group, ranks, w32)) == pytest.approx(want, rel=2e-5)
    rows = np.array([5, 0, 33, 59, 12])
    got = dii.soft_imbalance(x32, dii.rank_matrix(y, rows=rows), w32, groups=2, rows=rows, block_size=2)
    assert float(got) == pytest.approx(ref.soft_imbalance(x, np.repeat(w, 2), np.asarray(ranks)[rows] / 2,
                                                          rows=rows), rel=2e-5)


def test_gradient_matches_finite_differences():
    x, y = _data(n=50, d=4, seed=3)
    with x64_scope():
        ranks = dii.rank_matrix(y)
        w = jnp.array([0.8, 0.5, 0.3, 0.4])
        for scheme in ("point", "global", "gap"):
            def f(v, scheme=scheme):
                return dii.soft_imbalance(x, ranks, v, k=3, scheme=scheme, block_size=16)

            g = np.asarray(jax.grad(f)(w))
            h = 1e-6
            fd = [(float(f(w.at[i].add(h))) - float(f(w.at[i].add(-h)))) / (2 * h) for i in range(4)]
            np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-9)


def test_gradient_is_finite_on_duplicate_points():
    """A point whose nearest neighbour is its duplicate has λ = 0: the limit is taken, no 0/0 in the gradient."""
    x, y = _data(n=40, d=3)
    x[7] = x[3]
    g = jax.grad(dii.soft_imbalance, argnums=2)(x.astype(np.float32), dii.rank_matrix(y), jnp.full(3, 0.5))
    assert np.all(np.isfinite(np.asarray(g)))


def test_jit_and_grad_compose():
    x, y = _data(n=40)
    x32, ranks = x.astype(np.float32), dii.rank_matrix(y)
    f = jax.jit(lambda w: dii.soft_imbalance(x32, ranks, w, block_size=8))
    w = jnp.array([1.0, 0.5, 0.2, 0.1])
    assert float(f(w)) == pytest.approx(float(dii.soft_imbalance(x32, ranks, w, block_size=8)), rel=1e-6)
    np.testing.assert_allclose(jax.jit(jax.grad(f))(w), jax.grad(f)(w), rtol=1e-5)


def test_soft_imbalance_tends_to_the_exact_imbalance_as_lambda_goes_to_zero():
    """Binary data with ties on both sides: DII · N/(N−1) → Δ(A→B) with k=1 and ties='average'."""
    rng = np.random.default_rng(4)
    n = 120
    a = rng.random((n, 24)) < 0.5
    b = np.concatenate([a[:, :12], rng.random((n, 12)) < 0.5], axis=1)
    exact = information_imbalance(pack_bits(a), pack_bits(b)).x_to_y
    assert exact == pytest.approx(ref.imbalance(ref.hamming_matrix(a), ref.hamming_matrix(b)), abs=1e-12)
    ranks = dii.rank_matrix(np.asarray(pack_bits(b)), metric="hamming")
    signs = (2.0 * a - 1.0).astype(np.float32)
    gaps = []
    for factor in (1.0, 0.1, 0.01):
        soft = float(dii.soft_imbalance(signs, ranks, np.ones(24, np.float32), lambda_factor=factor))
        gaps.append(abs(soft * n / (n - 1) - exact))
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-6
    # The same through per-token Hamming matrices (3 tokens of 8 bits): the group-distance route.
    tokens = np.stack([ref.hamming_matrix(a[:, 8 * t:8 * t + 8]) for t in range(3)]).astype(np.int32)
    soft = float(dii.soft_imbalance(tokens, ranks, np.ones(3, np.float32), lambda_factor=0.01))
    assert soft * n / (n - 1) == pytest.approx(exact, abs=1e-6)


def test_soft_imbalance_refuses_bad_input():
    x, y = _data(n=20)
    ranks = dii.rank_matrix(y)
    with pytest.raises(ValueError, match=r"weights must be \[4\]"):
        dii.soft_imbalance(x, ranks, np.ones(3))
    with pytest.raises(ValueError, match="ranks must be"):
        dii.soft_imbalance(x, ranks[:, :5], np.ones(4))
    with pytest.raises(ValueError, match="k=20"):
        dii.soft_imbalance(x, ranks, np.ones(4), k=20)
    with pytest.raises(ValueError, match="scheme"):
        dii.soft_imbalance(x, ranks, np.ones(4), scheme="local")
    with pytest.raises(ValueError, match="divide"):
        dii.soft_imbalance(x, ranks, np.ones(2), groups=3)
    with pytest.raises(ValueError, match="sum to 5"):
        dii.soft_imbalance(x, ranks, np.ones(2), groups=[2, 3])
    with pytest.raises(ValueError, match="grouped"):
        dii.soft_imbalance(x, ranks, np.ones(4), distance="grouped")
    with pytest.raises(ValueError, match="float features"):
        dii.soft_imbalance(x.astype(int), ranks, np.ones(4))


# ------------------------------------------------------------------------------------------------- training


def test_training_recovers_planted_features():
    rng = np.random.default_rng(5)
    x = rng.normal(size=(300, 8)).astype(np.float32)
    y = x[:, [1, 4, 6]] * np.array([4.0, 2.0, 1.0])
    res = dii.train(x, dii.rank_matrix(y), epochs=80, optimizer="adam", learning_rate=0.05)
    w = res.weights / res.weights.max()
    assert set(np.argsort(w)[-3:]) == {1, 4, 6}
    assert w[1] > w[4] > w[6] and np.delete(w, [1, 4, 6]).max() < 0.2 * w[6]
    assert res.dii_path.shape == (81,) and res.weights_path.shape == (81, 8)
    assert res.dii < 0.5 * res.dii_path[0]


def test_training_recovers_planted_tokens_through_group_weights():
    """Six tokens of 16 sign bits; B is made of tokens 1 and 4 only: their weights stand out."""
    rng = np.random.default_rng(6)
    n, t, e = 240, 6, 16
    bits = rng.random((n, t, e)) < 0.5
    b = np.concatenate([bits[:, 1], bits[:, 4], bits[:, 4]], axis=1)
    ranks = dii.rank_matrix(np.asarray(pack_bits(b)), metric="hamming")
    signs = (2.0 * bits.reshape(n, t * e) - 1.0).astype(np.float32)
    res = dii.train(signs, ranks, groups=e, epochs=60, optimizer="adam", learning_rate=0.05)
    w = res.weights / res.weights.max()
    assert set(np.argsort(w)[-2:]) == {1, 4} and np.delete(w, [1, 4]).max() < 0.3
    tokens = np.stack([ref.hamming_matrix(bits[:, i]) for i in range(t)]).astype(np.int32)
    again = dii.train(tokens, ranks, epochs=60, optimizer="adam", learning_rate=0.05)
    np.testing.assert_allclose(again.weights, res.weights, rtol=1e-3, atol=1e-4)


def test_l1_switches_off_the_uninformative_features():
    x, y = _data(n=150, d=6, seed=7)
    ranks = dii.rank_matrix(y)
    res = dii.train(x.astype(np.float32), ranks, epochs=80, optimizer="adam", learning_rate=0.05, l1=0.05)
    assert np.all(res.weights[2:] == 0) and np.all(res.weights[:2] > 0)
    with pytest.raises(ValueError, match="every weight reached zero"):
        dii.train(x.astype(np.float32), ranks, epochs=5, learning_rate=0.5, l1=100.0)


def test_training_keeps_the_norm_and_a_zero_weight_stays_zero():
    x, y = _data(n=60)
    w0 = np.array([0.3, 0.0, 0.4, 0.0])
    res = dii.train(x.astype(np.float32), dii.rank_matrix(y), weights_init=w0, epochs=10, learning_rate=0.1)
    np.testing.assert_allclose(np.linalg.norm(res.weights_path, axis=1), 0.5, rtol=1e-5)
    assert np.all(res.weights_path[:, [1, 3]] == 0)


def test_mini_batches_schedules_and_optax_transformations():
    x, y = _data(n=120, seed=8)
    x32, ranks = x.astype(np.float32), dii.rank_matrix(y)
    res = dii.train(x32, ranks, epochs=30, batches=4, k_init=6, k_final=2, optimizer="adam", lr_decay="cos",
                    learning_rate=0.05, scheme="global")
    assert res.dii_path.shape == (31,) and np.argmax(res.weights) == 0 and res.dii < res.dii_path[0]
    custom = dii.train(x32, ranks, epochs=20, optimizer=optax.chain(optax.clip(1.0), optax.adam(0.05)))
    assert np.argmax(custom.weights) == 0
    sched = dii.train(x32, ranks, epochs=20, learning_rate=optax.linear_schedule(0.1, 0.0, 20))
    assert np.all(np.isfinite(sched.dii_path))
    for bad, match in [(dict(batches=7), "divide"), (dict(k_init=1, k_final=2), "k_init must be"),
                       (dict(optimizer="lbfgs"), "optimizer"), (dict(lr_decay="lin"), "lr_decay"),
                       (dict(l1=-1.0), "l1"), (dict(weights_init=np.zeros(4)), "nonzero"),
                       (dict(batches=2, rows=np.arange(3)), "mini-batches")]:
        with pytest.raises(ValueError, match=match):
            dii.train(x32, ranks, epochs=2, **bad)


def test_greedy_selection_forward_and_backward():
    rng = np.random.default_rng(9)
    x = rng.normal(size=(150, 5)).astype(np.float32)
    ranks = dii.rank_matrix(x[:, [3, 0]] * np.array([5.0, 1.0]))
    fwd = dii.greedy_selection(x, ranks, epochs=20, learning_rate=0.1, optimizer="adam", n_best=2, stop=3)
    assert fwd.sets[0] == [3] and fwd.sets[1] == [0, 3] and len(fwd.sets[2]) == 3
    assert fwd.dii[1] < fwd.dii[0] and np.all(fwd.weights[0][[0, 1, 2, 4]] == 0)
    bwd = dii.greedy_selection(x, ranks, direction="backward", epochs=20, learning_rate=0.1, optimizer="adam",
                               n_best=2, stop=2)
    assert bwd.sets[0] == [0, 1, 2, 3, 4] and bwd.sets[-1] == [0, 3]
    with pytest.raises(ValueError, match="l1"):
        dii.greedy_selection(x, ranks, l1=0.1)


# ------------------------------------------------------------------------------------------------- devices

_MESH_SCRIPT = r"""
import json, sys
import numpy as np, jax
sys.path.insert(0, sys.argv[1])
from ii_jax import dii
rng = np.random.default_rng(0)
x = rng.normal(size=(101, 4)).astype(np.float32)
ranks = dii.rank_matrix(x[:, :2] * np.array([2.0, 1.0], np.float32))
w = np.array([0.5, 0.4, 0.3, 0.2], np.float32)
out = {"devices": jax.device_count()}
for scheme in ("point", "global"):
    for mesh in (False, True):
        f = lambda v, mesh=mesh: dii.soft_imbalance(x, ranks, v, k=2, scheme=scheme, block_size=8, mesh=mesh)
        v, g = jax.value_and_grad(f)(w)
        out[f"{scheme}-{mesh}"] = [float(v)] + [float(t) for t in g]
res = [dii.train(x, ranks, epochs=5, learning_rate=0.1, block_size=8, mesh=m).dii_path.tolist() for m in (False, True)]
out["train"] = res
print(json.dumps(out))
"""


def test_rows_sharded_over_devices_give_the_single_device_values():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    run = subprocess.run([sys.executable, "-c", _MESH_SCRIPT, os.path.dirname(HERE)], capture_output=True, text=True,
                         env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    for scheme in ("point", "global"):
        np.testing.assert_allclose(out[f"{scheme}-True"], out[f"{scheme}-False"], rtol=2e-5, atol=1e-8)
    np.testing.assert_allclose(out["train"][1], out["train"][0], rtol=1e-4)
