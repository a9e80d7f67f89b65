"""`python -m gpu_worker.builtins --api-url URL`: deploy the built-in algorithms to a Stratus API."""

from __future__ import annotations

import argparse

from gpu_worker.builtins import deploy_builtins


def main(argv: list[str] | None = None) -> None:
    """Deploy and print one line per built-in."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--api-url", required=True, help="the stack's ApiUrl output, or http://127.0.0.1:8000"
    )
    arguments = parser.parse_args(argv)
    for name, answer in deploy_builtins(arguments.api_url).items():
        version = f"{answer['algorithm_major_version']}.{answer['algorithm_minor_version']}"
        print(f"{name}: {answer['algorithm_id']} v{version}")


if __name__ == "__main__":
    main()
