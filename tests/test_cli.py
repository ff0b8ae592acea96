"""CLI conventions: every subcommand has a one-line description, every option help text."""
from __future__ import annotations

import argparse
import subprocess
import sys

from ii_jax.cli import build_parser


def _walk(parser, name="ii-jax"):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for sub, sp in action.choices.items():
                yield name + " " + sub, None, helps.get(sub)
                yield from _walk(sp, name + " " + sub)
        elif action.dest != "help":
            yield name, action.dest, action.help


def test_every_subcommand_and_option_is_documented():
    missing = [f"{cmd} {dest or ''}".strip() for cmd, dest, text in _walk(build_parser()) if not text]
    assert not missing, missing
    commands = {cmd.split()[1] for cmd, dest, _ in _walk(build_parser()) if dest is None and len(cmd.split()) == 2}
    assert {"demo", "profile", "cross-model", "window-sweep", "token-distance", "image-pairs", "cross-modal",
            "compare", "bid", "extract", "assets", "merge"} <= commands


def test_help_lists_subcommands_and_bad_input_is_one_line(tmp_path):
    out = subprocess.run([sys.executable, "-m", "ii_jax.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "window-sweep" in out.stdout and "demo" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "ii_jax.cli", "token-distance", str(tmp_path)], capture_output=True,
                         text=True)
    assert bad.returncode == 2
    assert len(bad.stderr.strip().splitlines()) == 1 and "no manifest" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_representations_match_the_engine():
    from ii_jax import analyses
    from ii_jax.cli import commands

    assert commands._REPRESENTATIONS == analyses.REPRESENTATIONS
