"""The ``ii-jax`` command line: the analyses on shard stores, ``bid``, ``demo`` and the report writer.

This package is the only part of ``ii_jax`` that reaches the extraction layer, and only through subprocesses
(``python -m extract.cli ...``): the engine never imports ``extract`` or torch.

Modules: :mod:`~ii_jax.cli.commands` (the parser and the analysis subcommands), :mod:`~ii_jax.cli.bid` (``ii-jax
bid``), :mod:`~ii_jax.cli.demo` (``ii-jax demo``), :mod:`~ii_jax.cli.report` (JSON, PNG and ``report.html``).
"""
from ii_jax.cli.commands import EXTRACT_COMMANDS, build_parser, main, run_extract

__all__ = ["main", "build_parser", "run_extract", "EXTRACT_COMMANDS"]
