"""Sphinx extension of the ii-jax docs: the pages that are generated, never typed.

At ``builder-inited`` (before Sphinx reads the sources) it writes:

* ``api/``: one page per public name of ``ii_jax.__all__`` and one per public module (the modules in ``__all__``,
  the modules that define its names, and the public subpackages), each listing that module's ``__all__``. A name
  added to ``ii_jax/__init__.py`` appears on the next build.
* ``_generated/claims.md`` and ``_generated/figures.md``: the study's claims table and figures, from
  ``study/report.json`` and the figures beside it.
* ``_generated/benchmarks.md``: every benchmark record in ``benchmarks/`` (written by ``benchmarks/record.py``:
  the command, its printed output, machine, date and commit).
* ``examples/*.ipynb``: copies of ``notebooks/*.ipynb``, executed by MyST-NB during the build.

It also resolves cross-references that name an object by another of its public paths (``ii_jax.resample.jackknife``
for the documented ``ii_jax.jackknife``, a bare ``standard_error`` from another module's docstring).
"""
from __future__ import annotations

import importlib
import inspect
import json
import re
import shutil
import types
from pathlib import Path

from ii_jax.analyses.claims import p_text
from ii_jax.cli.study.report import duration_text, sizes_note

EXCLUDED_PACKAGES = {"cli"}  # the command line is documented in the guides

# Captions of the study's figures, by the start of the file name (the claims' "where" column cites the same).
FIGURES = {
    "ladder": "Layer profiles of the model ladder, both directions, with the permutation null (paper Fig. 2a)",
    "languages": "Minimum Δ of ten language pairs through one model (paper Fig. 2b)",
    "window_sweep": "Minimum Δ over layers against the number of last tokens concatenated (paper Fig. 3a)",
    "asymmetry": "Token distance and causal asymmetry per layer (paper Fig. 3b–c)",
    "representations": "Sign bits against clipped and normalised floats, mean token against concatenation "
                       "(paper Supp. D, G)",
    "image_pairs": "Same-class image pairs through a vision encoder (paper Fig. 4a)",
    "cross_modal": "A caption layer against every image layer (paper Fig. 4b)",
    "synthetic": "Gaussian rank construction and power against CKA (paper Fig. 1)",
}


# ------------------------------------------------------------------------------------------------------ helpers
def _write(path: Path, text: str) -> None:
    """Write ``text`` unless the file already holds it (an unchanged page is not re-read)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")


def _summary(obj) -> str:
    doc = inspect.getdoc(obj) or ""
    first = doc.strip().split("\n\n")[0].replace("\n", " ").strip()
    return first


def _md(text) -> str:
    """Text from the report as one Markdown table cell: no pipes, no markup, no math."""
    s = str(text).replace("\n", " ")
    for ch in "\\`*_[]<$|":
        s = s.replace(ch, "\\" + ch)
    return s


# ---------------------------------------------------------------------------------------------------------- API
def _is_deprecated(obj) -> bool:
    doc = (inspect.getdoc(obj) or "").lstrip().lower()
    return doc.startswith("deprecated")


def _module_names(mod) -> list[str]:
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n, v in vars(mod).items() if not n.startswith("_")
                 and (inspect.isfunction(v) or inspect.isclass(v)) and getattr(v, "__module__", None) == mod.__name__]
    return [n for n in names if hasattr(mod, n) and not _is_deprecated(getattr(mod, n))]


def public_api():
    """``(top, modules)``: the public names of ``ii_jax.__all__`` that are not modules, as ``{name: home module}``,
    and every public module as ``{dotted name: module}`` (sorted).
    """
    import ii_jax

    lazy = getattr(ii_jax, "_LAZY", {})
    top, modules = {}, {}
    for name in ii_jax.__all__:
        obj = getattr(ii_jax, name)
        if isinstance(obj, types.ModuleType):
            modules[obj.__name__] = obj
            continue
        if _is_deprecated(obj):
            continue
        home = lazy.get(name) or getattr(obj, "__module__", "ii_jax")
        top[name] = home
        if home != "ii_jax":
            modules.setdefault(home, importlib.import_module(home))
    pkg = Path(ii_jax.__file__).parent
    for sub in sorted(pkg.iterdir()):
        if (sub / "__init__.py").is_file() and not sub.name.startswith("_") and sub.name not in EXCLUDED_PACKAGES:
            modules.setdefault(f"ii_jax.{sub.name}", importlib.import_module(f"ii_jax.{sub.name}"))
    # modules exported by those modules (``ii_jax.analyses.claims``)
    queue = list(modules.values())
    while queue:
        mod = queue.pop()
        for n in _module_names(mod):
            v = getattr(mod, n)
            if isinstance(v, types.ModuleType) and v.__name__.startswith("ii_jax.") and v.__name__ not in modules:
                modules[v.__name__] = v
                queue.append(v)
    return top, dict(sorted(modules.items()))


def _directive(full: str, obj) -> list[str]:
    """The autodoc directive documenting ``obj`` under the dotted name ``full``."""
    if inspect.isclass(obj):
        members = [m for m, v in vars(obj).items() if not m.startswith("_")
                   and (inspect.isfunction(v) or isinstance(v, (property, classmethod, staticmethod)))]
        lines = [f".. autoclass:: {full}"]
        if members:
            lines.append(f"   :members: {', '.join(members)}")
        return lines
    if callable(obj) and not isinstance(obj, types.ModuleType):
        return [f".. autofunction:: {full}"]
    lines = [f".. autodata:: {full}"]
    if len(repr(obj)) > 100:
        lines.append("   :no-value:")
    return lines


def _rst_page(title: str, body: list[str]) -> str:
    return "\n".join([title, "=" * len(title), "", *body, ""])


def write_api(out: Path) -> None:
    """The API reference pages under ``out`` (stale pages of names that left the API are removed).

    The index lists the top-level names grouped by the module that defines them, then every module; in the
    navigation each module page holds the pages of its top-level names.
    """
    import ii_jax

    top, modules = public_api()
    pages = {}
    for name, home in top.items():
        obj = getattr(ii_jax, name)
        kind = "class" if inspect.isclass(obj) else "function" if callable(obj) else "constant"
        body = [".. currentmodule:: ii_jax", "", f"``ii_jax.{name}``, defined in :doc:`{home}`.", "",
                *_directive(f"ii_jax.{name}", obj)]
        pages[f"ii_jax.{name}"] = _rst_page(f"{name} ({kind})", body)
    top_objects = {id(getattr(ii_jax, n)): n for n in top}
    by_home: dict[str, list[str]] = {}
    for name, home in top.items():
        by_home.setdefault(home, []).append(name)
    for mname, mod in modules.items():
        body = [f".. automodule:: {mname}", "   :no-members:", "", f".. currentmodule:: {mname}", ""]
        own = by_home.get(mname, [])
        if own:
            body += [".. rubric:: Exported as ``ii_jax.NAME``", "",
                     *[f"* :doc:`{n} <ii_jax.{n}>` — {_summary(getattr(ii_jax, n))}" for n in own], "",
                     ".. toctree::", "   :hidden:", "", *[f"   ii_jax.{n}" for n in own], ""]
        elsewhere, local = [], []
        for n in _module_names(mod):
            v = getattr(mod, n)
            if isinstance(v, types.ModuleType):
                if v.__name__ in modules:
                    elsewhere.append(f"* :doc:`{v.__name__}` (module)")
            elif id(v) in top_objects:
                t = top_objects[id(v)]
                if t not in own:
                    elsewhere.append(f"* :doc:`ii_jax.{t} <ii_jax.{t}>`")
            else:
                local.append(n)
        if elsewhere:
            body += [".. rubric:: Documented on their own pages", "", *elsewhere, ""]
        if local:
            body += [".. rubric:: Also in this module", "", *[f"* :py:obj:`{n}`" for n in local], ""]
        for n in local:
            body += [*_directive(f"{mname}.{n}", getattr(mod, n)), ""]
        pages[mname] = _rst_page(mname, body)
    homeless = [n for n, h in top.items() if h not in modules]
    index = [".. _api:", "", "API reference", "=============", "",
             "Generated at build time from the public names: ``ii_jax.__all__``, the modules it exports, the modules "
             "that define its names and the public subpackages, each with its ``__all__``. The examples on these "
             "pages are doctests that ``make test`` runs.", "",
             "The top-level names", "-------------------", "",
             "Import them from ``ii_jax`` (``from ii_jax import information_imbalance``), grouped here by the "
             "module that defines them.", ""]
    for home, names in by_home.items():
        head = f":doc:`{home}`" if home in modules else f"``{home}``"
        summary = _summary(modules[home]) if home in modules else ""
        index += [f"{head} — {summary}", ""]
        index += [f"* :doc:`{n} <ii_jax.{n}>` — {_summary(getattr(ii_jax, n))}" for n in names]
        index.append("")
    index += ["Modules", "-------", "", ".. list-table::", "   :header-rows: 1", "   :widths: 30 70", "",
              "   * - module", "     - what it holds"]
    for mname, mod in modules.items():
        index += [f"   * - :doc:`{mname}`", f"     - {_summary(mod)}"]
    order = [*[m for m in by_home if m in modules], *[m for m in modules if m not in by_home]]
    index += ["", ".. toctree::", "   :hidden:", "", *[f"   {m}" for m in order],
              *[f"   ii_jax.{n}" for n in homeless], ""]
    pages["index"] = "\n".join(index)
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob("*.md"), *out.glob("*.rst")]:
        if stale.stem not in pages or stale.suffix != ".rst":
            stale.unlink()
    for name, text in pages.items():
        _write(out / f"{name}.rst", text)


def hide_private_parameters(app, what, name, obj, options, signature, return_annotation):
    """Leave keyword parameters whose names start with ``_`` (internal knobs) out of the documented signature."""
    if not signature or "_" not in signature:
        return None
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        return None
    if not any(p.startswith("_") for p in sig.parameters):
        return None
    params = [p.replace(annotation=inspect.Parameter.empty)
              for n, p in sig.parameters.items() if not n.startswith("_")]
    if what == "class" or what == "method":
        params = [p for p in params if p.name != "self"]
    sig = sig.replace(parameters=params, return_annotation=inspect.Signature.empty)
    text = str(sig)
    for p in params:  # the source's defaults as written (2**31, not 2147483648)
        if p.default is not inspect.Parameter.empty and hasattr(p.default, "name"):
            text = text.replace(repr(p.default), p.default.name)
    return text, return_annotation


# ----------------------------------------------------------------------------------------------------- results
CLAIM_COLUMNS = [("claim", "claim"), ("where", "paper"), ("measured", "measured"), ("p", "p (Holm)"),
                 ("verdict", "verdict")]
# shown under the table, per row; any other plain field a newer report adds joins them
CLAIM_DETAILS = [("statistic", "statistic"), ("rule", "rule"), ("note", "note")]
_NOT_SHOWN = {"id", "numbers"}
_PLURAL = {"holds": "hold", "does not hold": "do not hold"}


def _cell(text: str) -> str:
    """One cell of a MyST list-table: its lines indented under the item."""
    return text.replace("\n", " ") or " "


def claims_markdown(report: Path) -> str:
    """The claims table of the study's ``report.json`` as Markdown, every number taken from the file."""
    doc = json.loads(report.read_text(encoding="utf-8"))
    claims = doc.get("claims", [])
    params, lib = doc.get("params", {}), doc.get("library", {})
    counts: dict[str, int] = {}
    for c in claims:
        counts[c.get("verdict", "?")] = counts.get(c.get("verdict", "?"), 0) + 1
    known = {k for k, _ in CLAIM_COLUMNS} | {k for k, _ in CLAIM_DETAILS} | _NOT_SHOWN
    extra = []
    for c in claims:
        extra += [k for k, v in c.items() if k not in known and k not in extra and not isinstance(v, (dict, list))]
    details = [*CLAIM_DETAILS[:1], *[(k, k.replace("_", " ")) for k in extra], *CLAIM_DETAILS[1:]]
    note = sizes_note(doc)
    lines = [f"Written {_md(doc.get('written', '?'))} by ii-jax {_md(lib.get('ii-jax', '?'))} (jax "
             f"{_md(lib.get('jax', '?'))}, numpy {_md(lib.get('numpy', '?'))})"
             + (f"; {_md(duration_text(doc))}" if doc.get("timings") else "")
             + f"; N = {_md(params.get('n', '?'))} verse pairs per text model"
             + (f" ({_md(params['n_large'])} for the largest)" if params.get("n_large") else "")
             + (f", {_md(params['n_lang'])} for the language pairs and token experiments" if params.get("n_lang")
                else "")
             + (f"; {_md(params['rule'])}" if params.get("rule") else "") + "."
             + (f" {_md(note)}" if note else ""), "",
             "**" + " · ".join(f"{counts[v]} {_PLURAL.get(v, v) if counts[v] != 1 else v}"
                               for v in ("holds", "does not hold", "inconclusive", "not run") if v in counts) + "**", "",
             "```{list-table}", ":header-rows: 1", ":class: ii-claims", ":widths: 4 30 10 38 9 9", "",
             "* - row", *[f"  - {h}" for _, h in CLAIM_COLUMNS]]
    for i, c in enumerate(claims, 1):
        lines.append(f"* - [{i}](#claim-{i})")
        for k, _ in CLAIM_COLUMNS:
            if k == "p":
                cell = p_text(c.get("numbers"))
            elif k == "verdict":  # a badge, coloured as in the demo's report (custom.css)
                v = str(c.get("verdict", ""))
                slug = re.sub(r"[^a-z]+", "-", v.lower()).strip("-")
                cell = f'<span class="ii-verdict ii-{slug}">{_md(v)}</span>' if slug else " "
            else:
                cell = _md(c.get(k, ""))
            lines.append(f"  - {_cell(cell)}")
    lines += ["```", "", "## Each row: statistic, rule and note", "",
              "Each verdict is computed from the numbers by the rule written in its row of `report.json`:", ""]
    for i, c in enumerate(claims, 1):
        where = f" ({_md(c['where'])})" if c.get("where") else ""
        verdict = _md(c.get("verdict", ""))
        lines += [f"(claim-{i})=", f"**{i}. {_md(c.get('claim', ''))}**{where} — verdict: {verdict}", ""]
        lines += [f"- *{h}*: {_md(c[k])}" for k, h in details if c.get(k)]
        lines.append("")
    return "\n".join(lines) + "\n"


def comparison_markdown(report: Path, previous: Path) -> str:
    """The verdicts of the committed report beside those of earlier runs (``study/previous/*.json``, oldest first):
    one row per claim, each run's N and verdict, every value read from the files.
    """
    runs = sorted((json.loads(p.read_text(encoding="utf-8")) for p in previous.glob("*.json")),
                  key=lambda doc: doc.get("written", ""))  # oldest first (file names need not sort by date)
    if not runs or not report.is_file():
        return "No earlier run is committed.\n"
    runs.append(json.loads(report.read_text(encoding="utf-8")))

    def label(doc):
        prm = doc.get("params", {})
        n, lang = prm.get("n", "?"), prm.get("n_lang")
        return f"N = {n}" + (f" (languages {lang})" if lang and lang != n else "") + f", {doc.get('written', '?')[:10]}"

    def keyed(doc):  # a claim judged once per model or data set is told apart by the subject its row starts with
        claims = doc.get("claims", [])
        ids = [c["id"] for c in claims]
        return {(c["id"], c.get("measured", "").split(":")[0] if ids.count(c["id"]) > 1 else ""): c for c in claims}

    verdict = [keyed(doc) for doc in runs]
    order = list(dict.fromkeys(k for v in verdict for k in v))
    lines = ["```{list-table}", ":header-rows: 1", ":class: ii-claims", "", "* - claim",
             *[f"  - {_md(label(doc))}" for doc in runs]]
    for cid in order:
        first = next(v[cid] for v in verdict if cid in v)
        subject = f" — {cid[1]}" if cid[1] else ""
        lines.append(f"* - {_cell(_md(first.get('claim', cid[0]) + subject))}")
        for v in verdict:
            c = v.get(cid)
            cell = "—" if c is None else _md(c.get("verdict", "?")) + (f" (p {p_text(c.get('numbers'))})"
                                                                      if (c.get("numbers") or {}).get("p") is not None
                                                                      else "")
            lines.append(f"  - {_cell(cell)}")
    lines.append("```")
    return "\n".join(lines) + "\n"


def figures_markdown(study: Path, docs: Path) -> str:
    """Every figure of the study folder, in the order of the report's experiments, with a caption.

    The figures are the PNGs the study wrote beside ``report.json``; captions come from :data:`FIGURES`.
    """
    pngs = sorted(study.glob("*.png"))
    order = list(FIGURES)

    def rank(p: Path):
        return next((i for i, k in enumerate(order) if p.stem.startswith(k)), len(order)), p.stem

    lines = []
    for p in sorted(pngs, key=rank):
        key = next((k for k in order if p.stem.startswith(k)), None)
        caption = FIGURES[key] if key else p.stem.replace("_", " ")
        suffix = p.stem[len(key):].strip("_") if key else ""
        if suffix:
            caption += f" — {suffix}"
        rel = p.relative_to(docs).as_posix()
        lines += [f"```{{figure}} /{rel}", f":alt: {caption}", ":width: 100%", "", caption, "```", ""]
    return "\n".join(lines)


def benchmarks_markdown(records: Path) -> str:
    """Every benchmark record (``benchmarks/record.py``): what ran, where, when, at which commit, and its output."""
    files = sorted(records.glob("*.json"))
    if not files:
        return "No benchmark has been recorded yet: run `make bench-record`.\n"
    lines = []
    for f in files:
        r = json.loads(f.read_text(encoding="utf-8"))
        lines += [f"## {r.get('title') or f.stem}", "",
                  f"`{r.get('command', '?')}` — {r.get('date', '?')}, commit `{r.get('commit', '?')}`"
                  + (" (with uncommitted changes)" if r.get("dirty") else "") + ", "
                  f"{_md(r.get('machine', '?'))}; ii-jax {_md(r.get('ii_jax', '?'))}, jax {_md(r.get('jax', '?'))}; "
                  f"{r.get('seconds', 0):.0f} s.", ""]
        if r.get("note"):
            lines += [_md(r["note"]), ""]
        lines += ["```text", r.get("output", "").rstrip(), "```", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------- notebooks
def copy_notebooks(src: Path, out: Path) -> None:
    """Copy the notebooks into the docs (MyST-NB executes them there), removing copies whose source is gone."""
    out.mkdir(parents=True, exist_ok=True)
    names = {p.name for p in src.glob("*.ipynb")}
    for stale in out.glob("*.ipynb"):
        if stale.name not in names:
            stale.unlink()
    for p in sorted(src.glob("*.ipynb")):
        dest = out / p.name
        if not dest.exists() or dest.read_bytes() != p.read_bytes():
            shutil.copyfile(p, dest)


# ------------------------------------------------------------------------------------------------------- hooks
def generate(app) -> None:
    """Write every generated page (``builder-inited``: before Sphinx looks for its sources)."""
    docs = Path(app.srcdir)
    root = docs.parent
    write_api(docs / "api")
    copy_notebooks(root / "notebooks", docs / "examples")
    gen = docs / "_generated"
    report = docs / "study" / "report.json"
    _write(gen / "claims.md", claims_markdown(report) if report.is_file() else "No study report is committed.\n")
    _write(gen / "figures.md", figures_markdown(docs / "study", docs))
    _write(gen / "comparison.md", comparison_markdown(report, docs / "study" / "previous"))
    _write(gen / "benchmarks.md", benchmarks_markdown(docs / "benchmarks"))


_SHORT = re.compile(r"^[~.]*")


def resolve_alias(app, env, node, contnode):
    """A Python reference that names a documented object by another path: resolve it to the one documented
    object whose dotted name ends with the same name (preferring one under the reference's own module).
    """
    if node.get("refdomain") != "py":
        return None
    target = _SHORT.sub("", node.get("reftarget", ""))
    if not target or ("." in target and not target.startswith("ii_jax.")):
        return None
    last = target.rsplit(".", 1)[-1]
    domain = env.get_domain("py")
    hits = [name for name in domain.objects if name.rsplit(".", 1)[-1] == last and name.startswith("ii_jax")]
    if not hits:
        return None
    if len(hits) > 1:
        mod = node.get("py:module") or ""
        near = [h for h in hits if h.startswith(mod + ".")] if mod else []
        pref = [h for h in hits if h.count(".") == 1]  # a top-level name
        hits = near if len(near) == 1 else pref if len(pref) == 1 else []
        if not hits:
            return None
    obj = domain.objects[hits[0]]
    from sphinx.util.nodes import make_refnode

    return make_refnode(app.builder, node["refdoc"], obj.docname, obj.node_id, contnode, hits[0])


def setup(app):
    """Register the hooks of this extension."""
    app.connect("builder-inited", generate)
    app.connect("missing-reference", resolve_alias)
    app.connect("autodoc-process-signature", hide_private_parameters)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
