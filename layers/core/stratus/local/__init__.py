"""The local stack: moto + our shim + template.yaml's resources; never imported on a Lambda code path.

The server process lives in `stratus.local.server` and the `make dev` launcher in `stratus.local.__main__`;
neither is imported here, so `python -m` can run them without a second copy of the module.
"""

from __future__ import annotations

from stratus.local.bootstrap import LocalStack, bootstrap
from stratus.local.shim import apply_patches, forget_handlers

__all__ = ["LocalStack", "apply_patches", "bootstrap", "forget_handlers"]
