"""Many devices and many hosts: results identical to one device, bit for bit; multi-host runs on localhost;
bad input and faults (rows that do not divide, a host that dies mid-run, mismatched versions).

Multi-device runs happen in subprocesses with ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` (set before
JAX starts); multi-host runs start two processes that meet through ``jax.distributed`` on a free localhost port.
"""
import json
import os
import socket
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

import parallel_helper as helper
from ii_jax import distances as dist
from ii_jax import hamming_distances, information_imbalance, pack_bits
from ii_jax import parallel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
HELPER = os.path.join(HERE, "parallel_helper.py")


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JAX_", "XLA_"))}
    env.update(JAX_PLATFORMS="cpu", PYTHONPATH=ROOT, **extra)
    return env


def _result(stdout: str) -> dict:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, stdout[-3000:]
    return json.loads(lines[-1][len("RESULT "):])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _hosts(args_per_process, timeout=120, heartbeat=5):
    """Start one helper process per argument list as a multi-host run on localhost; wait for all."""
    port = _free_port()
    procs = []
    for pid, args in enumerate(args_per_process):
        env = _env(JAX_COORDINATOR_ADDRESS=f"127.0.0.1:{port}", JAX_NUM_PROCESSES=str(len(args_per_process)),
                   JAX_PROCESS_ID=str(pid))
        procs.append(subprocess.Popen([sys.executable, HELPER, "host", "--heartbeat", str(heartbeat), *args],
                                      env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    out = []
    deadline = time.monotonic() + timeout
    for p in procs:
        try:
            text, _ = p.communicate(timeout=max(1.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise AssertionError("a multi-host run hung instead of failing") from None
        out.append((p.returncode, text))
    return out


# ----------------------------------------------------------------------------------------------------------------
# Meshes, in this (one-device) process


def test_resolve_mesh():
    assert jax.device_count() == 1
    assert parallel.resolve_mesh(None) is None and parallel.resolve_mesh(False) is None
    mesh = parallel.resolve_mesh(True)
    assert mesh.axis_names == ("rows",) and parallel.n_shards(mesh) == 1
    assert parallel.resolve_mesh(mesh) is mesh
    with pytest.raises(TypeError, match="mesh must be"):
        parallel.resolve_mesh("all")
    with pytest.raises(ValueError, match="single axis 'rows'"):
        parallel.resolve_mesh(jax.sharding.Mesh(np.array(jax.devices()), ("x",)))
    with pytest.raises(ValueError, match="at least one device"):
        parallel.default_mesh([])


def test_mesh_path_on_one_device_matches_the_host_loop():
    x, y = helper.data(37, 9, 12, seed=2)
    for ties in ("average", "random"):
        want = information_imbalance(x, y, k=2, ties=ties, key=jax.random.key(0), mesh=False)
        got = information_imbalance(x, y, k=2, ties=ties, key=jax.random.key(0), mesh=True, block_size=8)
        assert tuple(got) == tuple(want)


def test_gpu_kernels_through_the_same_interface():
    # The accelerator route (±1 int8 / bf16 matmul, padded to tensor-core multiples), here on CPU.
    rng = np.random.default_rng(0)
    w = pack_bits(rng.random((29, 77)) < 0.5)  # odd sizes: rows, columns and bits all padded
    want = np.asarray(hamming_distances(w, kernel="popcount"))
    for kernel in ("matmul", "matmul_bf16"):
        assert np.array_equal(np.asarray(hamming_distances(w, kernel=kernel)), want)
        assert np.array_equal(np.asarray(hamming_distances(w, kernel=kernel, mesh=True, block_size=8)), want)
    with pytest.raises(ValueError, match="exact only below 2\\^24 bits"):
        dist.check_kernel("matmul_bf16", 1 << 24)
    with pytest.raises(ValueError, match="kernel must be one of"):
        information_imbalance(w, w, kernel="tensorcore")


# ----------------------------------------------------------------------------------------------------------------
# Four devices: identical to one, bit for bit


def test_four_devices_bit_for_bit():
    proc = subprocess.Popen([sys.executable, HELPER, "devices"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env(XLA_FLAGS="--xla_force_host_platform_device_count=4"))
    want = helper.device_results(None)  # meanwhile, in this process: one device, the plain host loop
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr[-3000:]
    res = _result(stdout)
    assert res["device_count"] == 4
    assert set(res["results"]) == set(want)
    for name, value in want.items():
        assert res["results"][name] == value, name


# ----------------------------------------------------------------------------------------------------------------
# Resumable runs


def test_checkpoint_resumes_and_refuses_another_problem(tmp_path):
    x, y = helper.data(50, 9, 12, seed=3)
    want = information_imbalance(x, y, k=2)
    for mesh in (False, True):
        ck = tmp_path / f"ck{mesh}"
        assert tuple(information_imbalance(x, y, k=2, block_size=8, mesh=mesh, checkpoint=ck)) == tuple(want)
        blocks = sorted(ck.glob("rows_*.npy"))
        assert len(blocks) == 7
        for f in blocks[2:]:  # as if the run had died after two blocks
            f.unlink()
        calls = []
        save = parallel.RowCheckpoint.save
        try:
            parallel.RowCheckpoint.save = lambda self, i0, i1, s, calls=calls, save=save: (calls.append(i0),
                                                                                    save(self, i0, i1, s))
            again = information_imbalance(x, y, k=2, block_size=8, mesh=mesh, checkpoint=ck)
        finally:
            parallel.RowCheckpoint.save = save
        assert tuple(again) == tuple(want)
        assert calls == list(range(16, 50, 8))  # only the missing blocks were computed
        with pytest.raises(ValueError, match="written for another problem .*k"):
            information_imbalance(x, y, k=3, block_size=8, mesh=mesh, checkpoint=ck)
        with pytest.raises(ValueError, match="written for another problem .*data"):
            information_imbalance(x, y ^ np.uint32(1), k=2, block_size=8, mesh=mesh, checkpoint=ck)


def test_checkpoint_refuses_a_damaged_block(tmp_path):
    x, y = helper.data(20, 9, 12, seed=3)
    information_imbalance(x, y, block_size=8, checkpoint=tmp_path)
    np.save(tmp_path / "rows_000000000_000000008.npy", np.zeros((2, 5, 3), np.int64))
    with pytest.raises(ValueError, match="rows_000000000_000000008.npy: holds shape"):
        information_imbalance(x, y, block_size=8, checkpoint=tmp_path)


# ----------------------------------------------------------------------------------------------------------------
# Many hosts


def test_initialize_validates_its_environment(monkeypatch):
    monkeypatch.setenv("JAX_NUM_PROCESSES", "two")
    with pytest.raises(ValueError, match="JAX_NUM_PROCESSES must be an integer"):
        parallel.initialize()
    monkeypatch.setenv("JAX_NUM_PROCESSES", "2")
    monkeypatch.setenv("JAX_PROCESS_ID", "2")
    with pytest.raises(ValueError, match="process_id must lie in \\[0, 2\\)"):
        parallel.initialize()
    parallel.check_same_versions()  # one process: nothing to compare


def test_versions_round_trip():
    v = parallel.library_versions()
    assert set(v) >= {"ii_jax", "jax", "jaxlib", "numpy"}
    assert parallel._decode(parallel._encode(v)) == v


def test_two_processes_compute_the_same_delta_as_one():
    n, k = 101, 2
    x, y = helper.data(n, 20, 30, seed=0)
    want = helper.hexes(information_imbalance(x, y, k=k, block_size=4))
    out = _hosts([["--n", str(n), "--k", str(k)]] * 2)
    for rc, text in out:
        assert rc == 0, text[-3000:]
    results = [_result(text) for _, text in out]
    assert [r["process"] for r in results] == [0, 1]
    assert all(r["processes"] == 2 and r["devices"] == 2 for r in results)
    assert all(r["delta"] == want for r in results)


def test_mismatched_versions_are_refused():
    out = _hosts([[], ["--fake-version"]])
    for rc, text in out:
        assert rc != 0
        assert "refuses to run" in text and "+other" in text, text[-3000:]


def test_dead_host_fails_loudly_and_the_rerun_resumes(tmp_path):
    n, k = 160, 2
    ck = str(tmp_path / "ck")
    x, y = helper.data(n, 20, 30, seed=0)
    want = helper.hexes(information_imbalance(x, y, k=k, block_size=4))
    args = ["--n", str(n), "--k", str(k), "--checkpoint", ck]
    out = _hosts([args, args + ["--die-after", "3"]], heartbeat=3)
    assert out[1][0] == -9  # killed mid-run
    assert out[0][0] != 0, out[0][1][-3000:]  # the survivor fails loudly instead of hanging or answering
    assert "RESULT" not in out[0][1]
    written = sorted(os.listdir(ck))
    assert 2 <= len([f for f in written if f.startswith("rows_")]) < n // 8
    out = _hosts([args, args])
    for rc, text in out:
        assert rc == 0, text[-3000:]
    results = [_result(text) for _, text in out]
    assert all(r["delta"] == want for r in results)
    assert all(0 < r["blocks_computed"] < n // 8 for r in results)  # resumed: the written blocks were skipped
