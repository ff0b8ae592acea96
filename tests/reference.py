"""Brute-force NumPy references: full matrices, explicit loops, float64. Slow on purpose; obviously right."""
from __future__ import annotations

import itertools

import numpy as np


def hamming_matrix(bits_a: np.ndarray, bits_b: np.ndarray | None = None) -> np.ndarray:
    """``[N, D]`` 0/1 arrays -> ``[N, M]`` int64 Hamming distances."""
    bits_b = bits_a if bits_b is None else bits_b
    a = np.asarray(bits_a, bool)
    b = np.asarray(bits_b, bool)
    return (a[:, None, :] != b[None, :, :]).sum(-1).astype(np.int64)


def sq_euclidean_matrix(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return ((a[:, None, :] - a[None, :, :]) ** 2).sum(-1)


def _row_weights(d_row: np.ndarray, i: int, k: int) -> np.ndarray:
    """Neighbour weights of point i: 1 strictly inside the k-th distance, the rest shared among the tied."""
    n = len(d_row)
    others = [j for j in range(n) if j != i]
    dk = sorted(d_row[j] for j in others)[k - 1]
    w = np.zeros(n)
    less = [j for j in others if d_row[j] < dk]
    tied = [j for j in others if d_row[j] == dk]
    for j in less:
        w[j] = 1.0
    for j in tied:
        w[j] = (k - len(less)) / len(tied)
    return w


def _rank(d_row: np.ndarray, i: int, j: int, ties: str) -> float:
    n = len(d_row)
    smaller = sum(1 for l in range(n) if l != i and d_row[l] < d_row[j])
    equal = sum(1 for l in range(n) if l != i and d_row[l] == d_row[j])  # j included
    return smaller + (equal + 1) / 2 if ties == "average" else smaller + 1.0


def imbalance(dx: np.ndarray, dy: np.ndarray, k: int = 1, ties: str = "average") -> float:
    """Δ(X→Y) by the definition (DESIGN.md §3) for ties 'average' or 'min'."""
    n = dx.shape[0]
    total = 0.0
    for i in range(n):
        w = _row_weights(dx[i], i, k)
        for j in np.nonzero(w)[0]:
            total += w[j] * _rank(dy[i], i, j, ties)
    return 2.0 / (n - 1) * total / (n * k)


def imbalance_rectangular(dx: np.ndarray, dy: np.ndarray, k: int = 1, ties: str = "average",
                          self_cols=None) -> float:
    """Δ(X→Y) of Q queries (rows) against M candidates (columns): neighbours and ranks among the candidates only
    (minus the query's own column ``self_cols[i]`` when given), normalised by ``2/m``, ``m`` the candidates each
    query is ranked against."""
    q, n_cols = dx.shape
    total, m = 0.0, n_cols
    for i in range(q):
        own = None if self_cols is None else int(self_cols[i])
        cols = [j for j in range(n_cols) if j != own]
        m = len(cols)
        dk = sorted(dx[i, j] for j in cols)[k - 1]
        less = [j for j in cols if dx[i, j] < dk]
        tied = [j for j in cols if dx[i, j] == dk]
        for j in less + tied:
            w = 1.0 if j in less else (k - len(less)) / len(tied)
            smaller = sum(1 for l in cols if dy[i, l] < dy[i, j])
            equal = sum(1 for l in cols if dy[i, l] == dy[i, j])
            total += w * (smaller + (equal + 1) / 2 if ties == "average" else smaller + 1.0)
    return 2.0 / m * total / (q * k)


def imbalance_ordered(dx, dy, px, py, k: int = 1) -> float:
    """Δ(X→Y) with every tie broken by priorities: in X by ``px``, in Y by ``py`` (smaller first)."""
    n = dx.shape[0]
    total = 0.0
    for i in range(n):
        others = [j for j in range(n) if j != i]
        nbrs = sorted(others, key=lambda j: (dx[i, j], px[j]))[:k]
        order_y = sorted(others, key=lambda j: (dy[i, j], py[j]))
        rank = {j: r + 1 for r, j in enumerate(order_y)}
        total += sum(rank[j] for j in nbrs)
    return 2.0 / (n - 1) * total / (n * k)


def imbalance_all_orderings(dx, dy, k: int = 1) -> float:
    """Mean of :func:`imbalance_ordered` over *all* tie-breaking orders (tiny N only): the exact expectation."""
    n = dx.shape[0]
    perms = list(itertools.permutations(range(n)))
    vals = [imbalance_ordered(dx, dy, np.array(px), np.array(py), k) for px in perms for py in perms]
    return float(np.mean(vals))


def _quantile_linear(sorted_values: list[float], q: float) -> float:
    """The q-quantile of a sorted list by linear interpolation between order statistics (NumPy's default)."""
    pos = q * (len(sorted_values) - 1)
    i = int(np.floor(pos))
    j = min(i + 1, len(sorted_values) - 1)
    return sorted_values[i] + (pos - i) * (sorted_values[j] - sorted_values[i])


def clip_and_normalize(x: np.ndarray, lo: float | None, hi: float) -> np.ndarray:
    """Clip every entry to [Q_lo, Q_hi] of all entries (lo None: |x| <= Q_hi(|x|)), then divide rows by their norm.
    Explicit loops in float64."""
    rows = [[float(v) for v in row] for row in np.asarray(x, np.float64)]
    flat = [v for row in rows for v in row]
    if lo is None:
        c = _quantile_linear(sorted(abs(v) for v in flat), hi)
        a, b = -c, c
    else:
        s = sorted(flat)
        a, b = _quantile_linear(s, lo), _quantile_linear(s, hi)
    out = []
    for row in rows:
        clipped = [min(max(v, a), b) for v in row]
        norm = sum(v * v for v in clipped) ** 0.5
        out.append([v / norm if norm > 0 else 0.0 for v in clipped])
    return np.array(out)


def mid_rank_matrix(d: np.ndarray) -> np.ndarray:
    """``[N, N]`` mid-ranks by the definition (DESIGN.md §3, ties 'average'), 0 on the diagonal. Explicit loops."""
    n = d.shape[0]
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if j != i:
                out[i, j] = _rank(d[i], i, j, "average")
    return out


def soft_imbalance(x, w, ranks, *, k: int = 1, factor: float = 0.1, scheme: str = "point", rows=None) -> float:
    """DII(A(w) -> B) of Wild et al. by the definition, float64: 2/(R N) sum_i sum_{j != i} c_ij r_ij with
    c_ij = softmax_j(-d_ij^2 / lambda_i), lambda_i = factor * (k-th smallest d_ij^2) ('point'), its mean over
    the rows ('global') or factor * ((k+1)-th smallest - smallest) ('gap'). ``w`` per feature; ``ranks`` [R, N]
    plain (not doubled) ranks of B."""
    xs = np.asarray(x, np.float64) * np.asarray(w, np.float64)[None, :]
    rows = np.arange(xs.shape[0]) if rows is None else np.asarray(rows)
    d2 = ((xs[rows][:, None, :] - xs[None, :, :]) ** 2).sum(-1)
    d2[np.arange(len(rows)), rows] = np.inf
    srt = np.sort(d2, axis=1)
    kth = srt[:, k - 1]
    if scheme == "gap":
        lam = factor * (srt[:, k] - srt[:, 0])
    else:
        lam = factor * kth if scheme == "point" else np.full(len(rows), factor * kth.mean())
    logits = -d2 / lam[:, None]
    logits -= logits.max(axis=1, keepdims=True)
    c = np.exp(logits)
    c /= c.sum(axis=1, keepdims=True)
    return float(2.0 / (len(rows) * xs.shape[0]) * (c * np.asarray(ranks, np.float64)).sum())
