"""`python -m gpu_worker.builtins`: deploy the built-in algorithms into the stack named by TABLE_NAME and
DATA_BUCKET, with the operator's AWS credentials."""

from __future__ import annotations

import argparse

from stratus.settings import get_settings
from stratus.stores import build_stores

from gpu_worker.builtins import deploy_builtins


def main(argv: list[str] | None = None) -> None:
    """Deploy and print one line per built-in."""
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    settings = get_settings()
    for name, version in deploy_builtins(build_stores(settings), settings).items():
        print(f"{name}: {version.algorithm_id} v{version.major}.{version.minor}")


if __name__ == "__main__":
    main()
