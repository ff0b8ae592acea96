"""Run one benchmark script and record what it printed, with the machine, the date and the commit.

The record is a JSON file in ``docs/benchmarks/`` (default name: the script's, plus ``--name``); the
documentation's performance page is generated from these records, so its tables are the benchmarks' own output,
never copied by hand.

    python benchmarks/record.py bench_core.py --case 5000x150000 --case 5000x20000 --case 2000x20000
    python benchmarks/record.py --name quick bench_core.py --quick
    make bench-record BENCH="bench_window_sweep.py --quick"

The script's output is also shown as it runs. A script that fails leaves no record (exit code passed on).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
OUT = ROOT / "docs" / "benchmarks"


def machine() -> str:
    """CPU model, cores, memory and OS of this machine, and the accelerator JAX sees if it is not the CPU."""
    from ii_jax.store.versions import cpu_info

    cpu = cpu_info()["model"] or platform.processor() or platform.machine()
    mem = ""
    try:
        with open("/proc/meminfo") as f:
            kb = next(int(line.split()[1]) for line in f if line.startswith("MemTotal"))
        mem = f", {kb / 2**20:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    return f"{cpu}, {os.cpu_count()} cores{mem}, {platform.system()} {platform.release()}"


def git(*args: str) -> str:
    try:
        p = subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT, timeout=30)
        return p.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def title_of(script: Path) -> str:
    """The first line of the script's docstring."""
    import ast

    try:
        doc = ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError):
        doc = ""
    return doc.strip().splitlines()[0].rstrip(".") if doc.strip() else script.stem


def versions() -> dict:
    code = "import jax, ii_jax; print(jax.__version__, ii_jax.__version__, jax.default_backend())"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)))
    jax_v, ii_v, backend = (p.stdout.split() + ["?", "?", "?"])[:3]
    return {"jax": jax_v, "ii_jax": ii_v, "backend": backend}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                 allow_abbrev=False)  # the script's own options (--n) are not abbreviations of ours
    ap.add_argument("--name", default="", help="suffix of the record's file name (several records of one script)")
    ap.add_argument("--note", default="", help="one line shown with the record (e.g. 'machine shared')")
    ap.add_argument("--out", default=str(OUT), help=f"folder of the records (default {OUT.relative_to(ROOT)})")
    ap.add_argument("script", help="a script in benchmarks/ (e.g. bench_core.py)")
    ap.add_argument("args", nargs=argparse.REMAINDER, help="its arguments")
    a = ap.parse_args(argv)
    script = (HERE / a.script) if not Path(a.script).is_file() else Path(a.script).resolve()
    if not script.is_file():
        ap.error(f"no such benchmark: {a.script}")
    cmd = [sys.executable, str(script), *a.args]
    shown = " ".join(["python", f"benchmarks/{script.name}", *a.args])
    t0, started = time.perf_counter(), datetime.datetime.now(datetime.timezone.utc)
    lines = []
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env) as p:
        for line in p.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            lines.append(line)
    if p.returncode != 0:
        print(f"record.py: {shown} exited with {p.returncode}; nothing recorded", file=sys.stderr)
        return p.returncode
    record = {"title": title_of(script), "command": shown, "output": "".join(lines),
              "date": started.strftime("%Y-%m-%d %H:%M UTC"), "seconds": round(time.perf_counter() - t0, 1),
              "commit": git("rev-parse", "--short", "HEAD") or "unknown",
              "dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
              "machine": machine(), "note": a.note, **versions()}
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{script.stem}{'-' + a.name if a.name else ''}.json"
    path.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"record.py: recorded in {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
