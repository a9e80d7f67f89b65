"""The algorithm author kit: check and try a Compox package, and test it, without the stack
(`python -m gpu_worker.kit check|try`, `gpu_worker.kit.compox.install()`, `LocalContext`)."""

from __future__ import annotations

from gpu_worker.kit.local import LocalContext

__all__ = ["LocalContext"]
