"""Writing results: each analysis's numbers as JSON (with its parameters and the library version) next to its
figure (PNG), and an HTML report that gathers figures, tables and timings in one page that opens in a browser.
"""
from __future__ import annotations

import html
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from ii_jax.store.files import atomic_path, atomic_write_text
from ii_jax.store.versions import ii_jax_version as _version

__all__ = ["write_result", "write_report", "label_of"]


def write_result(out: str | os.PathLike, name: str, result: Any, *, fig=None, extra: dict | None = None) -> dict:
    """Write ``out/name.json`` (and ``out/name.png`` when ``fig`` is given); returns the JSON document.

    The document holds ``analysis`` (name), ``params`` (the result's own), ``library`` (versions), ``result``
    (every field, NaN as ``null``) and ``extra``. Files are written to a temporary name and renamed.
    """
    from ii_jax.analyses import to_json
    from ii_jax.plots import save

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    body = to_json(result)
    params = body.pop("params", None) if isinstance(body, dict) and "params" in body else None
    if isinstance(result, dict):  # {label: result}: parameters stay with each entry
        params = {k: v.pop("params", None) for k, v in body.items() if isinstance(v, dict)}
    import jax
    import numpy as np

    doc = {"analysis": name, "params": params, "result": body, "extra": to_json(extra or {}),
           "library": {"ii-jax": _version(), "jax": jax.__version__, "numpy": np.__version__,
                       "python": platform.python_version()},
           "written": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    atomic_write_text(out / f"{name}.json", json.dumps(doc, indent=1, allow_nan=False))
    if fig is not None:
        with atomic_path(out / f"{name}.png", suffix=".tmp.png") as tmp_png:  # savefig picks PNG by extension
            save(fig, tmp_png)
    return doc


def label_of(src) -> str:
    """A short name for a source: ``model:side`` for a store, else its name."""
    m = getattr(src, "manifest", None)
    if m:
        return f"{m['model'].get('id')}:{m['dataset'].get('side')}"
    return str(getattr(src, "name", "source"))


def _table(rows: list[list[Any]], header: list[str]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


_CSS = """body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;
color:#222}h1{font-size:1.6em}h2{font-size:1.25em;margin-top:2em;border-bottom:1px solid #ddd}figure{margin:1em 0}
img{max-width:100%;border:1px solid #eee}figcaption{font-size:.9em;color:#555}table{border-collapse:collapse;
margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}th{background:#f4f4f4}
td:first-child,th:first-child{text-align:left}code,pre{background:#f6f6f6;padding:.1em .3em}.ok{color:#080}
.bad{color:#b00}.lead figure{max-width:880px;margin:0 0 1em}.claims table{width:100%;font-size:.88em}
.claims td,.claims th{text-align:left;vertical-align:top}.claims td:nth-child(2){white-space:nowrap}
.claims td:nth-child(3){font-size:.92em;color:#333}
.badge{display:inline-block;padding:.1em .55em;border-radius:.8em;font-size:.85em;font-weight:600;white-space:nowrap}
.b-holds{background:#d8f0d8;color:#175d17}.b-does-not-hold{background:#f6d5d5;color:#8a1414}
.b-inconclusive{background:#eee;color:#555}details{font-size:.85em;color:#444}summary{cursor:pointer;color:#0b57a4}
.notrun{font-size:.9em;color:#555}"""


def _claims_html(claims) -> str:
    """The claims as a compact table (claim, verdict badge, what was measured, p with Holm's adjustment, the rule one
    click away), the claims not run listed in one line below it.
    """
    from ii_jax.analyses.claims import p_text

    ran = [c for c in claims if c.verdict != "not run"]
    rows = []
    for c in ran:
        pv = p_text(c.numbers)
        badge = f"<span class='badge b-{c.verdict.replace(' ', '-')}'>{html.escape(c.verdict)}</span>"
        rule = (f"<details><summary>rule</summary>{html.escape(c.rule)}"
                + (f"<br><i>{html.escape(c.note)}</i>" if c.note else "") + "</details>")
        rows.append(f"<tr><td>{html.escape(c.claim)} <small>({html.escape(c.where)})</small>{rule}</td><td>{badge}"
                    f"</td><td>{html.escape(c.measured)}</td><td>{html.escape(pv)}</td></tr>")
    table = ("<table><thead><tr><th>claim of the paper</th><th>verdict</th><th>measured</th><th>p (Holm)</th></tr>"
             "</thead><tbody>" + "".join(rows) + "</tbody></table>")
    skipped = [c for c in claims if c.verdict == "not run"]
    if skipped:
        whys = sorted({c.note or c.measured for c in skipped})
        table += (f"<p class='notrun'>Not tested here ({len(skipped)}): "
                  + ", ".join(html.escape(c.id) for c in skipped) + f" — {html.escape('; '.join(whys))}.</p>")
    return table


def write_report(out: str | os.PathLike, *, title: str, sections: list[dict], summary: list[str] | None = None,
                 params: dict | None = None, timings: dict | None = None, lead: dict | None = None) -> Path:
    """Write ``out/report.html``.

    Args:
      sections: each ``{"title", "text", "figure" (a PNG name in out), "caption", "table": (header, rows),
        "json" (file name)}`` (all optional but the title).
      summary: lines shown at the top. params: the run's parameters. timings: ``{step: seconds}``.
      lead: what a reader sees first, beside each other: ``{"figure": PNG name, "caption": str, "claims":
        [Claim, ...]}`` (the claims as a compact table of verdict badges, each rule one click away).
    """
    out = Path(out)
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{html.escape(title)}</h1>"]
    if lead:
        fig = ""
        if lead.get("figure"):
            fig = (f"<figure><img src='{html.escape(lead['figure'])}' alt='layer profiles'><figcaption>"
                   f"{html.escape(lead.get('caption', ''))}</figcaption></figure>")
        claims = f"<div class='claims'>{_claims_html(lead['claims'])}</div>" if lead.get("claims") else ""
        parts.append(f"<div class='lead'>{fig}{claims}</div>")
    if summary:
        parts.append("<ul>" + "".join(f"<li>{line}</li>" for line in summary) + "</ul>")
    for s in sections:
        parts.append(f"<h2>{html.escape(s['title'])}</h2>")
        if s.get("text"):
            parts.append(f"<p>{s['text']}</p>")
        if s.get("table"):
            header, rows = s["table"]
            parts.append(_table(rows, header))
        if s.get("figure"):
            cap = html.escape(s.get("caption", ""))
            parts.append(f"<figure><img src='{html.escape(s['figure'])}' alt='{html.escape(s['title'])}'>"
                         f"<figcaption>{cap}</figcaption></figure>")
        if s.get("json"):
            parts.append(f"<p>Numbers: <a href='{html.escape(s['json'])}'>{html.escape(s['json'])}</a></p>")
    if timings:
        parts.append("<h2>Timings</h2>" + _table([[k, f"{v:.1f} s"] for k, v in timings.items()], ["step", "time"]))
    if params:
        parts.append("<h2>Parameters</h2><pre>" + html.escape(json.dumps(params, indent=1)) + "</pre>")
    parts.append(f"<p><small>ii-jax {html.escape(_version())} · written {time.strftime('%Y-%m-%d %H:%M')}"
                 "</small></p></body></html>")
    path = out / "report.html"
    atomic_write_text(path, "\n".join(parts))
    return path
