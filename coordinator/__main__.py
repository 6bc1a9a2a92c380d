"""``python -m coordinator [--host H] [--port P] [--data-dir D] [--demo]``: serve with settings from the
environment (``HALLMESH_*``, see docs/coordinator.md); the flags override the matching variables."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from pydantic import ValidationError

from coordinator.server import serve
from coordinator.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m coordinator", description=__doc__)
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    parser.add_argument("--data-dir")
    parser.add_argument("--demo", action="store_true", default=None)
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {k: v for k, v in vars(args).items() if v is not None}
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings(**overrides)
    except ValidationError as err:
        for e in err.errors():
            print(f"coordinator: {e['msg']}", file=sys.stderr)
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
