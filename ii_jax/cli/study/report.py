"""The study's report: ``report.json`` (schema :data:`~ii_jax.cli.study.config.REPORT_SCHEMA`), ``report.html``
opening with the claims table, ``README.md`` (the claims table and the time per step, rendered from the report, for
publishing), and the verdicts printed.
"""
from __future__ import annotations

import html
import json
import re
import time

from ii_jax.analyses.claims import p_text
from ii_jax.cli.study.config import ENGLISH, FAMILY, TOKENS_STORED, format_plan, plan


def _write(R, cfg, t0) -> int:
    """Write the report of runner ``R`` (settings ``cfg``, started at ``t0``) and print the verdicts; returns 0."""
    import jax
    import numpy as np

    from ii_jax.analyses import claims as C
    from ii_jax.analyses import to_json
    from ii_jax.cli.report import write_report
    from ii_jax.store.files import atomic_write_text
    from ii_jax.store.versions import ii_jax_version

    total = time.perf_counter() - t0
    R.timings["total"] = total
    R.claims = C.adjust(R.claims)
    header, rows = C.claims_table(R.claims)
    counts = {v: sum(r.verdict == v for r in R.claims) for v in ("holds", "does not hold", "inconclusive", "not run")}
    jk = cfg.jackknife_for(cfg.n)  # the text stores' (the 1.5B model's and the images' follow their own N)
    pl = getattr(R, "plan", None) or plan(cfg.n, cfg.n_lang, cfg.n_large, speeds={}, languages=cfg.languages,
                                          ladder=cfg.ladder, lang_model=cfg.lang_model,
                                          n_images=cfg.n_images or 390, n_fashion=cfg.n_fashion)
    params = {"quick": cfg.quick, "n": cfg.n, "n_lang": cfg.n_lang, "n_large": cfg.n_large, "hours": cfg.hours,
              "dtype": cfg.dtype, "n_images": cfg.n_images, "n_fashion": cfg.n_fashion, "tokens": cfg.tokens,
              "tokens_stored": TOKENS_STORED, "drop_last": 2,
              "filter": "40-80 tokens on every side under every model's tokenizer (select + --ids)",
              "english_edition": ENGLISH, "ladder": cfg.ladder, "lang_model": cfg.lang_model,
              "languages": cfg.languages, "pairs": [list(p) for p in cfg.pairs], "token_langs": cfg.token_langs,
              "jackknife": list(jk), "bootstrap": list(cfg.bootstrap), "replications": cfg.replications,
              "windows": cfg.windows, "synthetic": cfg.synthetic, "seed": cfg.seed, "only": sorted(cfg.only),
              "embedding_layer": "excluded", "metric": "Hamming on sign bits",
              "rule": f"t-tests on paired jackknife standard errors at N, level {C.ALPHA:g}, Holm across the rows"}
    summary = [f"Claims: {counts['holds']} hold, {counts['does not hold']} do not hold, {counts['inconclusive']} "
               f"inconclusive, {counts['not run']} not run. Rule: each row's test (stated in the row) uses paired "
               f"jackknife standard errors at N ({jk[0]} random splits of the N = {cfg.n} items into halves, the "
               f"same splits for every Δ of a row; t with {jk[0] - 1} degrees of freedom); a row that picks a layer "
               f"picks it on a "
               f"random half of the items and tests it on the other half, both ways; a verdict counts at level {C.ALPHA:g} "
               f"after Holm's adjustment across the rows (p (Holm) column)."] + R.summary
    sections = R.sections + [dict(title="Claims of the paper, in full", table=(header, rows),
                                  text="Verdicts are computed from the numbers by the rule in each row. Where these "
                                       "small models disagree with the paper, the row says so: that is a result, not "
                                       "a failure.")]
    lead = dict(claims=R.claims, figure="ladder.png" if (R.out / "ladder.png").exists() else None,
                caption="Δ between English and Spanish verses, layer by layer, for each model of the ladder (its N in "
                        "the legend); error bars: standard errors at N; grey: the shuffled null. Below: the paper's "
                        "claims, each verdict from its rule (click 'rule'); p-values with Holm's adjustment across "
                        "the rows.")
    taken = extraction_cells({"plan": to_json(pl), "timings": R.timings, "measured": R.measured})
    sections.append(dict(title="Plan: N per model and the time estimated before the run (from measured speeds)",
                         text="<pre>" + html.escape(format_plan(pl)) + "</pre>" + html.escape(pl["error_bar"])
                         + ". " + html.escape(sizes_note({"params": params, "plan": to_json(pl)}))
                         + " Below: each model's extraction as planned and as taken (over the runs that did it).",
                         table=taken))
    report = write_report(R.out, title="ii-jax study: the paper's claims on offline models", sections=sections,
                          summary=summary, params=params, timings=R.timings, lead=lead)
    doc = {"title": "ii-jax study", "claims": [to_json(dict(c._asdict())) for c in R.claims],
           "experiments": R.status, "timings": R.timings,
           "measured": dict(R.measured), "params": params, "plan": to_json(pl),
           "library": {"ii-jax": ii_jax_version(), "jax": jax.__version__, "numpy": np.__version__},
           "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(R.out / "report.json", json.dumps(doc, indent=1, allow_nan=False))
    atomic_write_text(R.out / "README.md", markdown(doc, summary=summary[0]))
    print(f"ii-jax study: done in {total / 60:.1f} min; report: {report}")
    for r in R.claims:
        print(f"  [{r.verdict}] {r.claim} — {r.measured}")
    return 0


def _dtype(doc: dict) -> str:
    """The extraction dtype asked for and, for ``auto``, what the probes resolved it to (from the plan)."""
    asked = doc["params"].get("dtype", "float32")
    got = sorted({w["dtype"] for w in doc.get("plan", {}).get("per_model", {}).values() if w.get("dtype")})
    return f"{', '.join(got)} ({asked})" if asked == "auto" and got else asked


def _machine() -> str:
    import os
    import platform

    from ii_jax.store.versions import cpu_info

    cpu = cpu_info()["model"] or platform.processor() or platform.machine()
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}"


def _commit() -> str:
    import subprocess
    from pathlib import Path

    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=10,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _cell(v) -> str:
    return str(v).replace("|", "\\|").replace("\n", " ")


def step_seconds(doc: dict) -> dict[str, float]:
    """Each step's wall time when it did its work, from a report ``doc``: ``measured`` (kept across the resumed runs
    of one output folder), else the step's time in the run that wrote the report. Their sum is what the study took;
    ``timings["total"]`` is only the last run's.
    """
    measured = doc.get("measured") or {}
    now = {k: v for k, v in doc.get("timings", {}).items() if k != "total"}
    return {k: float(measured.get(k, now.get(k, 0.0))) for k in list(measured) + [k for k in now if k not in measured]}


def duration_text(doc: dict) -> str:
    """What a report ``doc``'s steps took in all (:func:`step_seconds`), and the last run's wall time where it differs.

    >>> duration_text({"timings": {"total": 1020.0, "extract": 1000.0}, "measured": {"probe": 5100.0}})
    'its steps took 102 min over the runs that did them (the run that wrote it: 17 min)'
    """
    steps = sum(step_seconds(doc).values()) / 60
    last = doc.get("timings", {}).get("total")
    if isinstance(last, (int, float)) and abs(last / 60 - steps) >= 1:
        return f"its steps took {steps:.0f} min over the runs that did them (the run that wrote it: {last / 60:.0f} min)"
    return f"its steps took {steps:.0f} min"


def sizes_note(doc: dict) -> str:
    """Where a report ``doc``'s 1.5B model read fewer verse pairs than the rest of the ladder: a sentence saying how
    many, and what all of them would have cost at the speed its probe measured (from the plan); else ``""``.

    >>> note = sizes_note({"params": {"n": 4500, "n_large": 1500}, "plan": {"per_model": {"qwen2.5-coder-1.5b":
    ...     {"items_per_s": 2.25, "dtype": "bfloat16", "seconds": 1350.0}}}})
    >>> print(note[:70])
    qwen2.5-coder-1.5b read 1500 of the 4500 verse pairs: at the 2.2 items
    >>> print(note[70:])
    /s its probe measured (bfloat16), all 4500 on both sides would take 67 min of extraction, against 22 min for 1500.
    >>> sizes_note({"params": {"n": 4500, "n_large": 4500}})
    ''
    """
    params = doc.get("params") or {}
    n, n_large = params.get("n"), params.get("n_large")
    if not n or not n_large or n_large >= n:
        return ""
    model = FAMILY[1]
    w = ((doc.get("plan") or {}).get("per_model") or {}).get(model) or {}
    rate = w.get("items_per_s")
    text = f"{model} read {n_large} of the {n} verse pairs"
    if not rate:
        return text + "."
    return (text + f": at the {rate:.1f} items/s its probe measured ({w.get('dtype') or '?'}), all {n} on both "
                   f"sides would take {2 * n / rate / 60:.0f} min of extraction, against {2 * n_large / rate / 60:.0f} "
                   f"min for {n_large}.")


def extraction_against_plan(doc: dict) -> list[tuple[str, int, float | None, float | None]]:
    """Per model of a report ``doc``'s plan: ``(model, items, planned seconds, seconds taken)``, the time taken being
    the sum of its ``extract ... through MODEL`` steps (:func:`step_seconds`; the stamps' captions count with the
    images, as in the plan). ``None``: no speed was measured to plan with, or no step of it ran.

    >>> doc = {"plan": {"per_model": {"m": {"items": 90, "seconds": 600.0}}},
    ...        "measured": {"extract en, es through m": 500.0, "extract it, fr through m": 160.0}}
    >>> extraction_against_plan(doc)
    [('m', 90, 600.0, 660.0)]
    """
    took: dict[str, float] = {}
    for name, secs in step_seconds(doc).items():
        m = re.match(r"extract .* through (\S+)", name)
        if m:
            took[m.group(1)] = took.get(m.group(1), 0.0) + secs
    return [(m, int(w.get("items", 0)), w.get("seconds"), took.get(m))
            for m, w in (doc.get("plan") or {}).get("per_model", {}).items()]


def extraction_cells(doc: dict) -> tuple[list[str], list[list]]:
    """:func:`extraction_against_plan` as a table ``(header, rows)`` of display cells (minutes, their ratio; "—"
    where unknown), shown in ``report.html`` and ``README.md``: how far the plan printed before the run was off.
    """
    rows = [[m, items, f"{planned / 60:.0f} min" if planned else "—",
             f"{took / 60:.0f} min" if took is not None else "—",
             f"{took / planned:.2f}" if planned and took else "—"]
            for m, items, planned, took in extraction_against_plan(doc)]
    return ["model", "items", "planned", "took", "took / planned"], rows


def extraction_table(doc: dict) -> list[str]:
    """:func:`extraction_cells` as Markdown lines (none where the plan names no model)."""
    header, rows = extraction_cells(doc)
    if not rows:
        return []
    return (["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
            + ["| " + " | ".join(str(c) for c in r) + " |" for r in rows])


def markdown(doc: dict, *, summary: str = "") -> str:
    """The report ``doc`` (as written to ``report.json``) as Markdown: where and how it was made, the claims table
    (with each row's p-value, Holm-adjusted in brackets) and the time per step. Nothing in it is typed by hand.
    """
    note = sizes_note(doc)
    lines = ["# The study, reproduced offline: the report of `ii-jax study`", "",
             f"Written {doc['written']} by ii-jax {doc['library'].get('ii-jax', '?')} at commit `{_commit()}` on "
             f"{_machine()}; {duration_text(doc)}. Settings: N = "
             f"{doc['params'].get('n')} en–es verse pairs per ladder model ({doc['params'].get('n_large')} for the "
             f"1.5B model), {doc['params'].get('n_lang', doc['params'].get('n'))} for the language pairs and token "
             f"experiments, extracted in {_dtype(doc)}; "
             f"{doc['params'].get('rule')}." + (f" {note}" if note else ""), "", summary, "",
             "## Claims", "",
             "| claim | where | measured | statistic | p (Holm) | verdict | note |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in doc["claims"]:
        ps = p_text(r.get("numbers"))
        lines.append("| " + " | ".join(_cell(x) for x in (r["claim"], r["where"], r["measured"], r["statistic"], ps,
                                                           r["verdict"], r["note"])) + " |")
    lines += ["", "The rule of every row is in `report.json` (`claims[].rule`).", "", "## Time per step", "",
              "Each step's wall time when it did its work (a resumed run reuses finished stores and cached analyses; "
              "their time is the one measured when they were made, in whichever run made them, including the time "
              "of runs stopped inside the step), and its time in the "
              "run that wrote this report (—: the step did not run in it).",
              "", "| step | when done | in this run |", "| --- | --- | --- |"]
    now = {k: v for k, v in doc["timings"].items() if k != "total"}
    steps = step_seconds(doc)
    lines += [f"| {k} | {v:.1f} s | " + (f"{now[k]:.1f} s" if k in now else "—") + " |" for k, v in steps.items()]
    done = sum(steps.values())
    lines += [f"| total | {done / 60:.1f} min | {doc['timings'].get('total', float('nan')) / 60:.1f} min |"]
    ext = extraction_table(doc)
    if ext:
        lines += ["", "## Extraction: planned and taken", "",
                  "The plan printed before the run (from each model's few-second speed probe) against the time its "
                  "extraction steps took. Other work on the machine during the run makes them take longer.", ""] + ext
    return "\n".join(lines) + "\n"
