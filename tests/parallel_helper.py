"""Subprocess side of tests/test_parallel.py: runs with several (forced) CPU devices, or as one process of a
multi-host run on localhost, and prints its results as one JSON line (floats as exact hex strings).

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/parallel_helper.py devices
    XLA_FLAGS=--xla_force_host_platform_device_count=4 python tests/parallel_helper.py core
    JAX_COORDINATOR_ADDRESS=127.0.0.1:PORT JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 python tests/parallel_helper.py host
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def data(n: int, bits_x: int, bits_y: int, seed: int):
    """Few bits, so ties are everywhere (both the counting and the exact sort path run)."""
    from ii_jax import pack_bits

    rng = np.random.default_rng(seed)
    bx = rng.random((n, bits_x)) < 0.5
    by = np.concatenate([bx[:, : bits_y // 2], rng.random((n, bits_y - bits_y // 2)) < 0.5], axis=1)
    return np.asarray(pack_bits(bx)), np.asarray(pack_bits(by))


def floats(n: int, seed: int):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, 6)).astype(np.float32)
    return f, (f[:, :3] + 0.5 * rng.normal(size=(n, 3))).astype(np.float32)


def hexes(values) -> list[str]:
    return [float(v).hex() for v in np.ravel(values)]


def digest(a) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def device_results(mesh=None) -> dict:
    """Everything the multi-device test compares, computed with ``mesh`` (None: automatic, False: one device)."""
    import jax

    from ii_jax import hamming_distances, imbalance_from_distances, information_imbalance
    from ii_jax.bid.histogram import _pair_histograms
    from ii_jax.imbalance import distance_matrix
    from ii_jax.resample import jackknife

    out = {}
    for n in (45, 103):  # neither divides by 4 devices nor by the blocks
        x, y = data(n, 9, 12, seed=n)
        r = information_imbalance(x, y, k=3, block_size=8, mesh=mesh, _n_cand=3)  # every tied row: exact path
        out[f"ii/{n}/exact"] = hexes(r)
        r = information_imbalance(x, y, k=2, block_size=8, mesh=mesh)
        out[f"ii/{n}/average"] = hexes(r)
    n = 45  # the other routines and options, at one size (compilation dominates these tests)
    x, y = data(n, 9, 12, seed=n)
    for ties, kernel in (("min", "matmul"), ("random", "popcount")):
        r = information_imbalance(x, y, k=2, ties=ties, key=jax.random.key(5), kernel=kernel, block_size=8,
                                  mesh=mesh)
        out[f"ii/{n}/{ties}/{kernel}"] = hexes(r)
    dx, dy = distance_matrix(x, mesh=mesh), distance_matrix(y, mesh=mesh)
    out["dm"] = digest(dx)
    out["hd"] = digest(np.asarray(hamming_distances(x, x[: n // 3], mesh=mesh)))
    out["ifd"] = hexes(imbalance_from_distances(dx, dy, k=2, block_size=4, mesh=mesh))
    out["hist"] = _pair_histograms(x, 9, np.ones((1, n), np.int32), 16, mesh=mesh).ravel().tolist()
    f, g = floats(n, seed=n)
    out["ii/cosine"] = hexes(information_imbalance(f, g, metric="cosine", mesh=mesh))
    if mesh is None:  # the resampling routines take no mesh argument: automatic only
        x, y = data(60, 9, 12, seed=1)
        out["jackknife"] = hexes(jackknife(x, y, n_sub=30, repeats=2, key=jax.random.key(1)).values)
    return out


_CORE_CASES = [(48, "average"), (43, "random")]  # N divisible by the 4 devices, and not


def core_host_results() -> dict:
    """What :func:`core_results` must give: the host API on one device."""
    import jax

    from ii_jax import information_imbalance

    out = {}
    for n, ties in _CORE_CASES:
        x, y = data(n, 9, 12, seed=n)
        out[f"core/rows/{n}/{ties}"] = hexes(information_imbalance(x, y, k=2, ties=ties, key=jax.random.key(5),
                                                                   mesh=False))
        f, g = floats(n, seed=n)
        out[f"core/rows/{n}/cosine"] = hexes(information_imbalance(f, g, metric="cosine", k=2, mesh=False))
    layers = [data(40, 9, 12, seed=s) for s in range(4)]
    out["core/layers"] = [hexes(information_imbalance(x, y, k=3, mesh=False)) for x, y in layers]
    return out


def core_results() -> dict:
    """The traceable core under ``shard_map`` over every device: the query rows of one sample split over the
    devices (``query_ids``, statistics gathered, finished on the host), and a stack of layers split over them
    (``vmap`` inside). The host finish of the integer statistics must give :func:`core_host_results` exactly.
    """
    import jax
    from jax.sharding import PartitionSpec as P

    from ii_jax import core, parallel

    mesh = parallel.default_mesh()
    d = mesh.devices.size
    key = jax.random.key(5)

    def rows_fn(metric, ties):
        def body(xq, yq, ids, x, y, kk):  # this device's query rows against every candidate
            return core.row_stats(xq, yq, candidates=(x, y), query_ids=ids, metric=metric, k=2, ties=ties, key=kk)

        specs = (P(parallel.AXIS),) * 3 + (P(),) * 3
        return jax.jit(jax.shard_map(body, mesh=mesh, in_specs=specs, out_specs=P(None, None, parallel.AXIS)))

    out = {}
    for n, ties in _CORE_CASES:
        q = -(-n // d) * d  # the rows padded to whole shares; the padded rows' statistics are cut off
        ids = np.arange(q, dtype=np.int32) % n
        for name, (x, y), metric in (
                (ties, data(n, 9, 12, seed=n), "hamming"), ("cosine", floats(n, seed=n), "cosine")):
            t = ties if metric == "hamming" else "average"
            st = rows_fn(metric, t)(x[ids], y[ids], ids, x, y, key)
            out[f"core/rows/{n}/{name}"] = hexes(core.delta_from_stats(np.asarray(st)[:, :, :n], k=2, m=n - 1))
    stack = [data(40, 9, 12, seed=s) for s in range(4)]
    xs, ys = (np.stack(a) for a in zip(*stack, strict=True))
    per_layer = jax.jit(jax.shard_map(jax.vmap(lambda a, b: core.row_stats(a, b, k=3)), mesh=mesh,
                                      in_specs=(P(parallel.AXIS), P(parallel.AXIS)), out_specs=P(parallel.AXIS)))
    st = np.asarray(per_layer(xs, ys))  # [4, 2, 5, 40]: each device its own layer
    out["core/layers"] = [hexes(core.delta_from_stats(s, k=3, m=39)) for s in st]
    return out


def run_devices(args) -> dict:
    import jax

    res = {"device_count": jax.device_count()}
    res["results"] = device_results(None if args.mesh == "auto" else False)
    return res


def run_host(args) -> dict:
    import jax

    from ii_jax import parallel

    if args.fake_version:
        real = parallel.library_versions

        def fake():
            v = real()
            v["ii_jax"] = v["ii_jax"] + "+other"
            return v

        parallel.library_versions = fake
    computed = []
    if args.die_after is not None or args.checkpoint:
        save = parallel.RowCheckpoint.save

        def counting_save(self, i0, i1, stats):
            computed.append((i0, i1))
            save(self, i0, i1, stats)
            if args.die_after is not None and len(computed) >= args.die_after:
                print(json.dumps({"dying": jax.process_index(), "blocks": len(computed)}), flush=True)
                os.kill(os.getpid(), signal.SIGKILL)  # a host lost mid-run: no clean shutdown

        parallel.RowCheckpoint.save = counting_save
    parallel.initialize(heartbeat_timeout_seconds=args.heartbeat)
    from ii_jax import information_imbalance

    x, y = data(args.n, 20, 30, seed=args.seed)
    r = information_imbalance(x, y, k=args.k, ties=args.ties, key=jax.random.key(3), block_size=args.block,
                              checkpoint=args.checkpoint)
    return {"process": jax.process_index(), "processes": jax.process_count(), "devices": jax.device_count(),
            "delta": hexes(r), "blocks_computed": len(computed)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["devices", "host", "core"])
    ap.add_argument("--mesh", choices=["auto", "off"], default="auto")
    ap.add_argument("--n", type=int, default=101)
    ap.add_argument("--k", type=int, default=2)
    ap.add_argument("--ties", default="average")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--block", type=int, default=4)
    ap.add_argument("--checkpoint", default=None)
    ap.add_argument("--die-after", type=int, default=None)
    ap.add_argument("--fake-version", action="store_true")
    ap.add_argument("--heartbeat", type=int, default=10)
    args = ap.parse_args()
    if args.mode == "core":
        import jax

        res = {"device_count": jax.device_count(), "results": core_results()}
    else:
        res = run_devices(args) if args.mode == "devices" else run_host(args)
    print("RESULT " + json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
