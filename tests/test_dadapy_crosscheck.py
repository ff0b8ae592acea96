"""Cross-checks against DADApy 0.3.4 outputs stored as fixtures (tests/fixtures/dadapy, made by its own venv).

DADApy normalises by 2/N, ii-jax by 2/(N-1): the fixtures carry both. On continuous data without ties the two
definitions coincide, so the values must agree to rounding. On binary data DADApy breaks ties in an arbitrary
(non-stable argsort) order, so its value is only bracketed by what any tie-breaking could give.
"""
import json
import os

import numpy as np
import pytest

import reference as ref
from ii_jax import imbalance_from_distances, information_imbalance, pack_bits

FIX = os.path.join(os.path.dirname(__file__), "fixtures", "dadapy")
CONTINUOUS = ["ii_n200_nonlinear", "ii_n200_nonlinear_k5", "ii_n500_nonlinear", "ii_n500_independent"]


def _load(name):
    with open(os.path.join(FIX, name + ".json")) as f:
        meta = json.load(f)
    return meta, dict(np.load(os.path.join(FIX, meta["input_npz"])))


def _sq_dist(a):
    a = np.asarray(a, np.float64)
    sq = (a * a).sum(1)
    return sq[:, None] + sq[None, :] - 2 * a @ a.T


@pytest.mark.parametrize("name", CONTINUOUS)
def test_matches_dadapy_on_continuous_data(name):
    meta, arr = _load(name)
    k = meta["k"]
    want = meta["ii_xy_iijax_norm"], meta["ii_yx_iijax_norm"]
    # Exact float64 order through precomputed distances: agreement to rounding.
    got = imbalance_from_distances(_sq_dist(arr["x"]), _sq_dist(arr["y"]), k=k)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)
    # The fused float32 pass from the features: a rare order flip between near-equal float32 distances moves Δ
    # by about 2/N^2, so allow a few of them.
    got32 = information_imbalance(arr["x"].astype(np.float32), arr["y"].astype(np.float32), metric="euclidean", k=k)
    np.testing.assert_allclose(got32, want, atol=10 * 2 / meta["n"] ** 2)


def test_binary_with_ties_is_bracketed():
    meta, arr = _load("ii_n300_bits256_ties")
    n = meta["n"]
    bits = {s: np.unpackbits(arr[f"{s}_packbits"], axis=1)[:, : int(arr[f"{s}_nbits"])] for s in "xy"}
    got = information_imbalance(pack_bits(bits["x"].astype(bool)), pack_bits(bits["y"].astype(bool)))
    scale = n / (n - 1)  # the tie analysis is in DADApy's normalisation
    tie = meta["numpy_tie_analysis"]
    for value, side in zip(got, ("xy", "yx"), strict=False):
        assert value == pytest.approx(tie[side]["average"] * scale, abs=1e-12)
        assert tie[side]["lo"] * scale <= value <= tie[side]["hi"] * scale
        dadapy = meta[f"ii_{side}_iijax_norm"]
        assert tie[side]["lo"] * scale <= dadapy <= tie[side]["hi"] * scale
    # ii-jax's "average" agrees with the brute-force definition; DADApy's moves when the rows are permuted.
    dx, dy = ref.hamming_matrix(bits["x"]), ref.hamming_matrix(bits["y"])
    assert got.x_to_y == pytest.approx(ref.imbalance(dx, dy), abs=1e-12)
    assert meta["dadapy_on_permuted_rows"]["ii_xy"] != meta["ii_xy"]


# ------------------------------------------------------------------------------------------------ DII

DII_CASES = {"dii_documented_example": dict(epochs=500, learning_rate=1e-2),
             "dii_global_lambda_l1": dict(epochs=40, learning_rate=0.1, lr_decay="cos", optimizer="adam", l1=1e-3,
                                          k_init=10, k_final=1, scheme="global")}


def _dii_train(x, y, x64: bool, **kw):
    from ii_jax import dii
    from ii_jax.distances import x64_scope

    if x64:
        with x64_scope():
            return dii.train(x, dii.rank_matrix(y), **kw)
    return dii.train(x.astype(np.float32), dii.rank_matrix(y.astype(np.float32)), **kw)


@pytest.mark.parametrize("name", sorted(DII_CASES))
@pytest.mark.parametrize("precision", ["float64", "float32"])
def test_dii_training_curve_matches_dadapy(name, precision):
    """The same data and hyper-parameters give DADApy's DiffImbalance training curve: every epoch's DII and
    weights, and the final DII, to float rounding. float64: 1e-10 relative. float32 (DADApy's default): the two
    sum in different orders, and Adam's normalised steps carry the rounding on (measured: 4e-6 on the DII, 6e-5
    on weights of norm 0.22 after 40 Adam steps; 8e-8 and 2e-7 after 500 SGD steps)."""
    with open(os.path.join(FIX, name + ".json")) as f:
        meta = json.load(f)
    run = meta["runs"][precision]
    arr = dict(np.load(os.path.join(FIX, meta["input_npz"])))
    res = _dii_train(arr["x"], arr["y"], precision == "float64", **DII_CASES[name])
    if precision == "float64":
        tol_dii = tol_w = dict(rtol=1e-10, atol=1e-13)
    else:
        tol_dii, tol_w = dict(rtol=0, atol=1e-5), dict(rtol=0, atol=2e-4)
    np.testing.assert_allclose(res.dii_path, run["imbs"], **tol_dii)
    np.testing.assert_allclose(res.weights_path, run["weights"], **tol_w)
    assert res.dii == pytest.approx(run["imb_final"], rel=tol_dii["rtol"], abs=tol_dii["atol"])


def _bridge():
    import importlib.util

    spec = importlib.util.spec_from_file_location("dadapy_bridge", os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "benchmarks", "dadapy_bridge.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
@pytest.mark.skipif(not _bridge().dadapy_available(), reason="no DADApy environment (make dadapy-venv)")
def test_dii_matches_a_live_dadapy_run():
    """Live, in the isolated DADApy environment: mini-batch-free training on fresh data, float64."""
    bridge = _bridge()
    rng = np.random.default_rng(11)
    x = rng.normal(size=(200, 6))
    y = np.concatenate([np.sin(x[:, :2]) * 3, x[:, 2:3] ** 2], axis=1)
    kwargs = dict(seed=0, num_epochs=30, batches_per_epoch=1, l1_strength=1e-3, point_adapt_lambda=True, k_init=5,
                  k_final=2, lambda_factor=0.2, optimizer_name="adamw", learning_rate=0.05, learning_rate_decay="exp",
                  params_init=[0.5, 0.1, 0.3, 0.2, 0.1, 0.4])
    d = bridge.run_dadapy("dii", {"x": x, "y": y}, kwargs=json.dumps(kwargs), x64=1, timeout=600)
    res = _dii_train(x, y, True, epochs=30, l1=1e-3, k_init=5, k_final=2, lambda_factor=0.2, optimizer="adamw",
                     learning_rate=0.05, lr_decay="exp", weights_init=np.array(kwargs["params_init"]))
    np.testing.assert_allclose(res.dii_path, d["imbs"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(res.weights_path, d["weights"], rtol=1e-9, atol=1e-12)
    assert res.dii == pytest.approx(d["imb_final"], rel=1e-9)
