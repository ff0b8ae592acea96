import numpy as np
import pytest

import reference as ref
from ii_jax import pack_bits
from ii_jax.windows import float_window, last_tokens, mean_tokens, token_at


def test_concatenated_words_give_concatenated_bit_distances(rng):
    n, t, e = 20, 6, 45  # 45 bits: two words per token, 19 zero padding bits between tokens
    acts = rng.normal(size=(n, t, e))
    words = np.asarray(pack_bits(acts > 0))  # [N, T, 2]
    for k in (1, 3, 6):
        got = ref.hamming_matrix(np.unpackbits(last_tokens(words, k).view(np.uint8), axis=1, bitorder="little"))
        want = ref.hamming_matrix((acts[:, t - k:, :] > 0).reshape(n, k * e))
        np.testing.assert_array_equal(got, want)


def test_token_at_and_means(rng):
    f = rng.normal(size=(4, 5, 3)).astype(np.float16)
    np.testing.assert_array_equal(token_at(f, 0), f[:, 4])
    np.testing.assert_array_equal(token_at(f, 4), f[:, 0])
    np.testing.assert_allclose(mean_tokens(f, 2), f[:, 3:].astype(np.float32).mean(1))
    x = float_window(f, 2)
    assert x.shape == (4, 6)
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1, rtol=1e-5)


def test_window_errors():
    b = np.zeros((3, 4, 2), np.uint32)
    with pytest.raises(ValueError, match="window of 5 tokens is longer than the 4 tokens stored"):
        last_tokens(b, 5)
    with pytest.raises(ValueError, match=r"offset must lie in \[0, 3\]"):
        token_at(b, 4)
    with pytest.raises(ValueError, match="shape"):
        last_tokens(np.zeros((3, 4), np.uint32), 1)
    with pytest.raises(TypeError, match="uint32"):
        last_tokens(np.zeros((3, 4, 2), np.float32), 1)
