"""``python -m edge_agent --config agent.toml``: run one agent (the same as ``hallmesh agent run``)."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from edge_agent.runtime import run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge_agent", description=__doc__)
    parser.add_argument("--config", type=Path, required=True, help="path of agent.toml")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args.config)


if __name__ == "__main__":
    sys.exit(main())
