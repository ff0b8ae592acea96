import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ii_jax import binarize, pack_bits, unpack_bits
from ii_jax.binary import pack_bits_np


def test_binarize_zero_is_negative():
    np.testing.assert_array_equal(binarize(jnp.array([-2.0, 0.0, 1e-30, 3.0])), [False, False, True, True])


@settings(max_examples=20, deadline=None)
@given(n=st.sampled_from([1, 3]), d=st.sampled_from([1, 31, 32, 33, 100]), seed=st.integers(0, 2**31 - 1))
def test_pack_roundtrip_and_numpy_twin(n, d, seed):
    bits = np.random.default_rng(seed).random((n, d)) < 0.5
    words = np.asarray(pack_bits(bits))
    assert words.dtype == np.uint32 and words.shape == (n, -(-d // 32))
    np.testing.assert_array_equal(words, pack_bits_np(bits))
    np.testing.assert_array_equal(np.asarray(unpack_bits(words, d)), bits)
    # Padding bits are zero.
    pad = words.shape[1] * 32 - d
    if pad:
        assert not np.any(words[:, -1] >> np.uint32(32 - pad))


def test_pack_axis_and_bit_order():
    bits = np.zeros((3, 2), bool)
    bits[0, 0] = bits[2, 1] = True  # pack axis 0: column 0 -> bit 0, column 1 -> bit 2
    np.testing.assert_array_equal(np.asarray(pack_bits(bits, axis=0)), [[1], [4]])


def test_bad_inputs():
    with pytest.raises(TypeError, match="uint32"):
        unpack_bits(jnp.zeros((2, 1), jnp.int32), 5)
    with pytest.raises(ValueError, match="n_bits"):
        unpack_bits(jnp.zeros((2, 1), jnp.uint32), 33)
    with pytest.raises(ValueError, match="scalar"):
        pack_bits(jnp.array(True))
