"""`ii-jax demo` end to end at a tiny size, on the real built-in models and data (no hub, no GPU)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest


@pytest.mark.slow
@pytest.mark.heavy  # real models: ~1-2 minutes on 2 cores, plus the gemma and dinov2 builds on a fresh machine
def test_tiny_demo_writes_a_complete_report(tmp_path):
    out = tmp_path / "demo"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "ii_jax.cli", "demo", "--quick", "-n", "30", "--n-images", "40", "--out", str(out),
           "--no-progress"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ii-jax demo: done in" in run.stdout
    report = (out / "report.html").read_text()
    for fig in ("profiles.png", "window_sweep.png", "token_distance.png", "image_pairs.png", "cross_modal.png"):
        assert (out / fig).stat().st_size > 5000, fig
        assert fig in report
    prof = json.loads((out / "profile_gemma3-270m.json").read_text())
    values = prof["result"]["values"]
    # 18 layers: the embedding layer is stored but left out (paper §3.1)
    assert prof["result"]["layers"] == list(range(1, 19)) and prof["params"]["include_embedding"] is False
    assert len(values) == 18 and all(0 < v < 1.5 for row in values for v in row)
    assert abs(sum(v for row in prof["result"]["null"] for v in row) / 36 - 1) < 0.25
    assert [t.split(".")[0] for t in re.findall(r"<h2>(\d+\.)", report)] == ["1", "2", "3", "4", "5"]
    # what a reader sees first: the profiles beside the claims table (verdict badges, rules a click away)
    lead = report.index("<div class='lead'>")
    assert lead < report.index("<h2>") and report.index("profiles.png") > lead
    assert re.search(r"class='badge b-(holds|does-not-hold|inconclusive)'", report) and "<summary>rule</summary>" in report
    assert report.count("Not tested here (8)") == 1 and "bible:en@web-es" in report  # the study's Bible pair
    assert prof["params"]["tokens"] == 20 and prof["library"]["ii-jax"]
    assert "Null check" in report and "Timings" in report
    # A second run reuses every store and only redoes the analyses.
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and again.stderr.count("reusing") == 6, again.stderr[-2000:]


def test_demo_refuses_bad_options(capsys):
    from ii_jax import cli

    with pytest.raises(SystemExit):
        cli.main(["demo", "-n", "many"])
    assert "invalid int value" in capsys.readouterr().err


def test_study_comparison_says_whether_the_demo_and_the_study_agree(tmp_path):
    """The demo's sentence about the committed study: same layer, a layer inside the flat minimum, one outside."""
    import numpy as np

    from ii_jax.analyses import Profile, semantic_layers
    from ii_jax.cli.demo import study_comparison

    layers = np.arange(1, 7)
    vals = np.array([0.9, 0.6, 0.42, 0.40, 0.55, 0.7])  # minimum at layer 4; layer 3 within 0.05 of it
    prof = Profile(layers=layers, relative_depth=layers / 6, values=np.stack([vals, vals + 0.02], 1),
                   std=np.full((6, 2), 0.01), null=np.ones((6, 2)), null_band=np.ones((6, 2, 2)),
                   null_p=np.ones((6, 2)), n=500, params={})
    sem = semantic_layers(prof)
    assert sem.layer == 4 and sem.region == (3, 4)
    assert study_comparison("m", prof, sem, tmp_path) is None  # no committed profile of this model

    def committed(layer):
        (tmp_path / "profile_m_en-es.json").write_text(json.dumps({"extra": {"semantic": {"layer": layer}},
                                                                   "result": {"n": 1200}}))
        return study_comparison("m", prof, sem, tmp_path)

    assert committed(4) == "m: the committed study (N = 1200, other verses of the same Bible pair) finds the same " \
                           "semantic layer, 4."
    flat = committed(3)
    assert "finds layer 3, this run layer 4" in flat and "+0.020 above the minimum" in flat
    assert "inside this run's semantic region" in flat and "flat" in flat
    far = committed(6)
    assert "+0.300 above the minimum" in far and "disagree beyond a flat minimum" in far
    noisy = prof._replace(std=np.full((6, 2), 0.2), n=150)  # the same gap, under two standard errors of it
    near = study_comparison("m", noisy, sem, tmp_path)
    assert "+0.300 above the minimum" in near and "cannot tell the two layers apart" in near
    assert "at N = 150" in near and "disagree" not in near
    assert "does not measure" in committed(9)


def test_wait_gives_every_core_to_the_last_job_running(tmp_path):
    from ii_jax.cli import demo

    def job(code, name, wake=None):
        cmd = [sys.executable, "-c", code]
        return demo._Job(subprocess.Popen(cmd), cmd, name, wake)

    wake = tmp_path / "wake"
    # the long job ends only once told to take every core (exit 1 if never told within 60 s)
    waits = (f"import os, time\nt = time.time()\nwhile not os.path.exists({str(wake)!r}):\n"
             f"    time.sleep(0.05)\n    if time.time() - t > 60: raise SystemExit(1)\n")
    demo._wait([job("pass", "short", tmp_path / "other"), job(waits, "long", wake)], poll=0.05)
    assert not wake.exists() and not (tmp_path / "other").exists()  # the files are cleaned up
    with pytest.raises(demo.DemoError, match="^failing failed \\(exit 3\\)"):
        demo._wait([job("raise SystemExit(3)", "failing"), job("pass", "fine")], poll=0.05)


def test_a_stopped_wait_takes_its_jobs_with_it(tmp_path):
    """SIGTERM turns into SystemExit in the study (stop_on_signals); the extractions it waits on must stop too, or a
    rerun would start a second writer on the same store."""
    import signal

    from ii_jax.cli import demo

    cmd = [sys.executable, "-c", "import time; time.sleep(120)"]
    jobs = [demo._Job(subprocess.Popen(cmd), cmd, f"sleeper {i}") for i in range(2)]

    def stop(signum, frame):
        raise SystemExit(128 + signum)

    previous = signal.signal(signal.SIGALRM, stop)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.5)
        with pytest.raises(SystemExit):
            demo._wait(jobs, poll=0.05)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert [j.process.poll() for j in jobs] == [-signal.SIGTERM] * 2  # ended by the terminate, not still running
