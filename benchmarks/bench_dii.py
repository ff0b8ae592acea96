"""DII benchmark: ii-jax's ``ii_jax.dii.train`` against DADApy 0.3.4's ``DiffImbalance.train``, time and peak memory
against N, on the same data and hyper-parameters, in one run.

Data: DADApy's tutorial case at N points (x ~ N(0, I₅), y = [10, 3, 1, 30, 7.3]·x, seed 0), full batch (DADApy's
``batches_per_epoch=1``: every step uses all N² pairs), point-adaptive λ, k = 1, SGD at 1e-2, float32 (DADApy's
default). Each side runs in a fresh subprocess per N: "setup" ranks B (ii-jax: ``rank_matrix``; DADApy: its
constructor), "train" runs the epochs (compilation included for both: each compiles once per run), "peak" is the
subprocess's peak RSS (``ru_maxrss``; imports and inputs included). Wall times move with the machine's load, so
the CPU time of each process (setup + train, all threads, ``time.process_time``) is printed beside them, with the
ratios of both. The last column checks that both reach the same final DII. Each subprocess may use at most
``--max-memory`` GiB of data segment (``RLIMIT_DATA``), so a run too large for the machine fails with an allocation
error rather than the OOM killer; a failure is printed as such.

    python benchmarks/bench_dii.py                          # N = 500 ... 20,000
    python benchmarks/bench_dii.py --n 500 2000 --epochs 20
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
WEIGHTS = np.array([10, 3, 1, 30, 7.3])


def data(n: int):
    x = np.random.RandomState(0).normal(size=(n, 5))
    return x, WEIGHTS[None, :] * x


def worker(n: int, epochs: int) -> dict:
    """One ii-jax run in this process (called as ``--worker``)."""
    sys.path.insert(0, ROOT)
    from ii_jax import dii

    x, y = data(n)
    t0, c0 = time.perf_counter(), time.process_time()
    ranks = dii.rank_matrix(y.astype(np.float32))
    ranks.block_until_ready()
    t1 = time.perf_counter()
    res = dii.train(x.astype(np.float32), ranks, epochs=epochs, learning_rate=1e-2)
    t2, c2 = time.perf_counter(), time.process_time()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    return dict(setup_s=t1 - t0, train_s=t2 - t1, cpu_s=c2 - c0, peak_mib=peak, dii=res.dii,
                last=float(res.dii_path[-1]))


def run_iijax(n: int, epochs: int, max_memory: float, timeout: float) -> dict:
    def limit():
        m = int(max_memory * 2**30)
        resource.setrlimit(resource.RLIMIT_DATA, (m, m))

    try:
        proc = subprocess.run([sys.executable, __file__, "--worker", str(n), "--epochs", str(epochs)],
                              capture_output=True, text=True, timeout=timeout, preexec_fn=limit,
                              env=dict(os.environ, PYTHONPATH=ROOT))
    except subprocess.TimeoutExpired:
        return dict(error=f"timed out after {timeout:.0f} s")
    if proc.returncode != 0:
        return dict(error=_reason(proc.stderr, proc.returncode))
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _reason(stderr: str, code: int) -> str:
    for key in ("RESOURCE_EXHAUSTED", "MemoryError", "Out of memory", "out of memory", "std::bad_alloc"):
        if key in stderr:
            return f"out of memory ({key})"
    return f"failed (exit {code}): {stderr.strip().splitlines()[-1][:120] if stderr.strip() else ''}"


def run_dadapy(n: int, epochs: int, max_memory: float, timeout: float) -> dict:
    sys.path.insert(0, ROOT)
    from benchmarks.dadapy_bridge import DadapyError, dadapy_available
    from benchmarks.dadapy_bridge import run_dadapy as bridge

    if not dadapy_available():
        return dict(error="no DADApy environment (make dadapy-venv)")
    x, y = data(n)
    kwargs = dict(seed=0, num_epochs=epochs, batches_per_epoch=1, point_adapt_lambda=True, k_init=1, k_final=1,
                  optimizer_name="sgd", learning_rate=1e-2)
    try:
        r = bridge("dii", {"x": x, "y": y}, kwargs=json.dumps(kwargs), timeout=timeout,
                   max_memory=int(max_memory * 2**30))
    except DadapyError as e:
        msg = str(e)
        return dict(error=_reason(msg, -1) if "failed" in msg else msg.splitlines()[0])
    return dict(setup_s=r["time_setup_s"], train_s=r["time_train_s"], cpu_s=r["cpu_setup_s"] + r["cpu_train_s"],
                peak_mib=r["peak_rss_mib"], dii=r["imb_final"], last=r["imbs"][-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[500, 1000, 2000, 5000, 10000, 20000])
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--max-memory", type=float, default=14.0, help="GiB of data segment per subprocess")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per subprocess")
    ap.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.worker is not None:
        print(json.dumps(worker(a.worker, a.epochs)))
        return 0
    print(f"DII training, {a.epochs} full-batch epochs, tutorial data (D = 5), float32; "
          f"each side in its own subprocess, at most {a.max_memory:g} GiB of data each")
    head = (f"{'N':>6} | {'ii-jax setup':>12} {'train':>8} {'cpu':>8} {'peak MiB':>9} | {'DADApy setup':>12} "
            f"{'train':>8} {'cpu':>8} {'peak MiB':>9} | {'wall ratio':>10} {'cpu ratio':>9} {'mem ratio':>9} | "
            f"final DII ii-jax / DADApy")
    print(head)
    print("-" * len(head))
    for n in a.n:
        ours = run_iijax(n, a.epochs, a.max_memory, a.timeout)
        theirs = run_dadapy(n, a.epochs, a.max_memory, a.timeout)
        left = (f"{ours['setup_s']:12.2f} {ours['train_s']:8.2f} {ours['cpu_s']:8.2f} {ours['peak_mib']:9.0f}"
                if "error" not in ours else f"{ours['error'][:40]:>40}")
        right = (f"{theirs['setup_s']:12.2f} {theirs['train_s']:8.2f} {theirs['cpu_s']:8.2f} "
                 f"{theirs['peak_mib']:9.0f}" if "error" not in theirs else f"{theirs['error'][:40]:>40}")
        if "error" not in ours and "error" not in theirs:
            t = (theirs["setup_s"] + theirs["train_s"]) / (ours["setup_s"] + ours["train_s"])
            c = theirs["cpu_s"] / ours["cpu_s"]
            ratio = f"{t:9.1f}x {c:8.1f}x {theirs['peak_mib'] / ours['peak_mib']:8.1f}x"
            final = f"{ours['dii']:.6f} / {theirs['dii']:.6f}"
        else:
            ratio = f"{'—':>10} {'—':>9} {'—':>9}"
            final = f"{ours['dii']:.6f} / —" if "error" not in ours else "—"
        print(f"{n:>6} | {left} | {right} | {ratio} | {final}", flush=True)
    print("wall ratio: DADApy (setup + train) / ii-jax (setup + train), wall clock; cpu ratio: the same in CPU time; "
          "mem ratio: DADApy peak / ii-jax peak.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
