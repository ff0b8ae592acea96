#!/usr/bin/env bash
# The GPU path, measured: one script for a machine with one GPU and JAX+CUDA preinstalled, no network.
#
#   bash benchmarks/gpu_check.sh                         # on the GPU machine, from the repository root
#   GPU_CHECK_ALLOW_CPU=1 bash benchmarks/gpu_check.sh   # degraded quick mode on a CPU (small sizes), to test it
#
# 1. the engine's tests that make sense on a GPU (`-m "not slow"`, no torch/extraction/notebook tests);
# 2. Information Imbalance, both directions, warm (after compilation): N=5000 x 150,000 bits, N=20,000 x 20,000,
#    and the int8 against the bf16 matmul route; device name, time and Delta per line;
# 3. Delta checked against the CPU value of the same data (a subprocess with JAX_PLATFORMS=cpu: the native kernel
#    where it is built, else pure JAX), to 1e-12;
# 4. the traceable core: jit(core.imbalance) on one sample and jit(vmap(core.row_stats)) over a stack of layers,
#    warm times, and their integer statistics against the host API on the same device, bit for bit.
# 5. DII (ii_jax.dii): its tests, the full-batch training time at N = 5000, 20,000 and 50,000 (DADApy's tutorial
#    data, D = 5), and a 20-epoch training curve against the CPU's (float32, 1e-4).
# Target on an H200: <= 15 ms at 5000 x 150,000. Exit status: 0 when every test and every Delta check passed.
# Knobs: GPU_CHECK_SKIP_TESTS=1, GPU_CHECK_CPU_BIG=0 (skip the CPU check of the 20,000-point case),
# PYTHON (default python3).
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
status=0

echo "== gpu_check: $(date -u +%FT%TZ) $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
"$PY" - <<'EOF' || exit 2
import os, jax
dev = jax.devices()[0]
print(f"jax {jax.__version__}, backend {jax.default_backend()}, device {dev.device_kind} x{len(jax.devices())}")
if jax.default_backend() == "cpu" and os.environ.get("GPU_CHECK_ALLOW_CPU") != "1":
    raise SystemExit("no GPU here: set GPU_CHECK_ALLOW_CPU=1 for the quick CPU mode")
EOF

if [ "${GPU_CHECK_SKIP_TESTS:-0}" != 1 ]; then
  echo "== engine tests (-m 'not slow')"
  # Engine only: no torch models, extraction, notebooks or CLI demos.
  timeout 900 "$PY" -m pytest -q -x -m "not slow" -p no:cacheprovider \
    tests/test_imbalance.py tests/test_binary.py tests/test_native.py tests/test_parallel.py \
    tests/test_resample.py tests/test_windows.py tests/test_synthetic.py 2>&1 | tail -n 15
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "TESTS FAILED"; status=1; }
fi

echo "== timings (warm: the second call of each)"
"$PY" - <<'EOF' || status=1
import json, os, subprocess, sys, time
sys.path.insert(0, "benchmarks")
import jax
import numpy as np
from bench_core import make_data
from ii_jax import information_imbalance

quick = jax.default_backend() == "cpu"
dev = jax.devices()[0].device_kind
cases = ([(500, 20_000, "matmul"), (500, 20_000, "matmul_bf16"), (1000, 2_000, "matmul")] if quick else
         [(5000, 150_000, "matmul"), (5000, 150_000, "matmul_bf16"), (20_000, 20_000, "matmul")])
big = 1000 if quick else 20_000

def timed(x, y, kernel):
    information_imbalance(x, y, kernel=kernel, progress=False)  # compile
    t = time.perf_counter()
    r = information_imbalance(x, y, kernel=kernel, progress=False)
    return time.perf_counter() - t, (r.x_to_y, r.y_to_x)

results = []
for n, d, kernel in cases:
    x, y = make_data(n, d)
    dt, delta = timed(x, y, kernel)
    results.append(dict(n=n, d=d, kernel=kernel, time=dt, delta=delta))
    note = "  (target <= 15 ms)" if (n, d) == (5000, 150_000) else ""
    print(f"{dev:<24} N={n:>6} x {d:>7} bits  {kernel:<12} {dt * 1e3:9.1f} ms  "
          f"Delta=({delta[0]:.6f}, {delta[1]:.6f}){note}", flush=True)

# CPU values of the same data, in a CPU-only subprocess
want = {(r["n"], r["d"]) for r in results if r["n"] != big or os.environ.get("GPU_CHECK_CPU_BIG", "1") == "1"}
code = ("import json, sys; sys.path.insert(0, 'benchmarks'); from bench_core import make_data; "
        "from ii_jax import information_imbalance as ii, distances; out = {}\n"
        f"for n, d in {sorted(want)!r}:\n"
        "    r = ii(*make_data(n, d), progress=False); out[f'{n}x{d}'] = [r.x_to_y, r.y_to_x]\n"
        "print(json.dumps(dict(kernel=distances.default_kernel(), values=out)))")
t = time.perf_counter()
p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                   env=dict(os.environ, JAX_PLATFORMS="cpu"))
if p.returncode != 0:
    print("CPU reference failed:", p.stderr.strip().splitlines()[-1:])
    sys.exit(1)
cpu = json.loads(p.stdout.strip().splitlines()[-1])
print(f"CPU reference ({cpu['kernel']} kernel, {os.cpu_count()} cores): {time.perf_counter() - t:.1f} s")
bad = 0
for r in results:
    ref = cpu["values"].get(f"{r['n']}x{r['d']}")
    if ref is None:
        print(f"N={r['n']} x {r['d']} {r['kernel']}: no CPU check (GPU_CHECK_CPU_BIG=0)")
        continue
    err = max(abs(a - b) for a, b in zip(r["delta"], ref))
    ok = err <= 1e-12
    bad += not ok
    print(f"N={r['n']} x {r['d']} {r['kernel']:<12} |Delta_dev - Delta_cpu| = {err:.1e}  {'OK' if ok else 'MISMATCH'}")
print(json.dumps(dict(device=dev, results=results)))
sys.exit(1 if bad else 0)
EOF
echo "== the traceable core (ii_jax.core) under jit and vmap"
# One sample under jax.jit, and a stack of layers under jax.jit(jax.vmap(...)) as one program: warm times, and the
# core's integer statistics finished on the host against the host API on the same device (bit for bit).
"$PY" - <<'EOF' || status=1
import sys, time
sys.path.insert(0, "benchmarks")
import jax
import numpy as np
from bench_core import make_data
from ii_jax import core, information_imbalance

quick = jax.default_backend() == "cpu"
dev = jax.devices()[0].device_kind
n, d = (500, 4096) if quick else (5000, 20_000)
layers, n_layer, d_layer = (3, 300, 2048) if quick else (12, 2000, 20_000)

def warm(fn, *args):
    jax.block_until_ready(fn(*args))  # compile
    t = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return time.perf_counter() - t, out

bad = 0
x, y = make_data(n, d)
dt, (st, val) = warm(jax.jit(lambda a, b: (core.row_stats(a, b), core.imbalance(a, b))), x, y)
host = information_imbalance(x, y, progress=False)
same = tuple(core.delta_from_stats(np.asarray(st), k=1, m=n - 1)) == tuple(host)
bad += not same
print(f"{dev:<24} jit(core.imbalance)        N={n:>6} x {d:>7} bits  {dt * 1e3:9.1f} ms  "
      f"Delta=({float(val[0]):.6f}, {float(val[1]):.6f})  statistics == host API: {'OK' if same else 'MISMATCH'}")
pairs = [make_data(n_layer, d_layer, seed=s) for s in range(layers)]
xs, ys = (np.stack(a) for a in zip(*pairs))
dt, st = warm(jax.jit(jax.vmap(lambda a, b: core.row_stats(a, b, k=2))), xs, ys)
got = core.delta_from_stats(np.asarray(st), k=2, m=n_layer - 1)
same = all(tuple(g) == tuple(information_imbalance(a, b, k=2, progress=False)) for g, (a, b) in zip(got, pairs))
bad += not same
print(f"{dev:<24} jit(vmap(core.row_stats))  {layers} layers x N={n_layer} x {d_layer} bits  {dt * 1e3:9.1f} ms  "
      f"per layer == host API: {'OK' if same else 'MISMATCH'}")
sys.exit(1 if bad else 0)
EOF
echo "== DII (ii_jax.dii): tests, full-batch training time by N, and the device against the CPU"
if [ "${GPU_CHECK_SKIP_TESTS:-0}" != 1 ]; then
  timeout 600 "$PY" -m pytest -q -x -m "not slow" -p no:cacheprovider tests/test_dii.py 2>&1 | tail -n 5
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "DII TESTS FAILED"; status=1; }
fi
"$PY" - <<'EOF' || status=1
import json, os, subprocess, sys, time
sys.path.insert(0, "benchmarks")
import jax
import numpy as np
from bench_dii import data
from ii_jax import dii

quick = jax.default_backend() == "cpu"
dev = jax.devices()[0].device_kind
sizes = [1000, 2000] if quick else [5000, 20_000, 50_000]
epochs = 10
for n in sizes:
    x, y = data(n)
    t = time.perf_counter()
    ranks = dii.rank_matrix(y.astype(np.float32))
    t_rank = time.perf_counter() - t
    dii.train(x.astype(np.float32), ranks, epochs=epochs, learning_rate=1e-2)  # compile
    t = time.perf_counter()
    res = dii.train(x.astype(np.float32), ranks, epochs=epochs, learning_rate=1e-2)
    dt = time.perf_counter() - t
    print(f"{dev:<24} DII N={n:>6} D=5: ranks {t_rank:6.1f} s (host), {epochs} full-batch epochs {dt:7.2f} s "
          f"({dt / epochs * 1e3:8.1f} ms/epoch, warm), final DII {res.dii:.6f}", flush=True)
# The same training on the CPU, in a subprocess: float32 sums in other orders, so 1e-4.
n = 2000
code = ("import sys, json, numpy as np; sys.path.insert(0, 'benchmarks'); from bench_dii import data; "
        "from ii_jax import dii; x, y = data(%d); r = dii.train(x.astype(np.float32), "
        "dii.rank_matrix(y.astype(np.float32)), epochs=20, learning_rate=1e-2); "
        "print(json.dumps(dict(path=r.dii_path.tolist(), w=r.weights.tolist())))" % n)
p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                   env=dict(os.environ, JAX_PLATFORMS="cpu"))
if p.returncode != 0:
    print("DII CPU reference failed:", p.stderr.strip().splitlines()[-1:])
    sys.exit(1)
cpu = json.loads(p.stdout.strip().splitlines()[-1])
x, y = data(n)
r = dii.train(x.astype(np.float32), dii.rank_matrix(y.astype(np.float32)), epochs=20, learning_rate=1e-2)
err = max(np.abs(r.dii_path - cpu["path"]).max(), np.abs(r.weights - cpu["w"]).max())
ok = err <= 1e-4
print(f"DII N={n}, 20 epochs: max |device - cpu| over the curve and the weights = {err:.1e}  "
      f"{'OK' if ok else 'MISMATCH'}")
sys.exit(0 if ok else 1)
EOF

[ "$status" = 0 ] && echo "== gpu_check: all passed" || echo "== gpu_check: FAILED"
exit "$status"
