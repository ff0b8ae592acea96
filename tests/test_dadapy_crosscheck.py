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
