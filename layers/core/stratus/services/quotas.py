"""Per-tenant job limits: a cap on jobs accepted and not ended (beyond it: 429 with Retry-After) and a
cap on jobs running (beyond it a job waits in its state machine, queued, until a slot frees)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.errors import TooManyRequestsError
from stratus.services.holds import has_ended

if TYPE_CHECKING:
    from stratus.stores import Stores

# Jobs take seconds to hours; a client that hit the queued cap tries again about this much later.
RETRY_AFTER_S = 30


def refuse_or_repair(tenant: str, stores: Stores) -> None:
    """After an admit failed: forget members whose jobs ended without their release (a lost release
    must not cost a tenant a slot for ever). Raises TooManyRequestsError when every member is live."""
    queued, running = stores.quotas.members(tenant)
    ended = {member for member in queued | running if has_ended(member, stores)}
    if not ended:
        raise TooManyRequestsError(
            f"tenant {tenant} has {len(queued)} jobs queued or running, its limit; retry when one ends",
            RETRY_AFTER_S,
        )
    stores.quotas.release(tenant, ended)


def start_running(tenant: str, holder: str, stores: Stores) -> bool:
    """Take a running slot for the job (again, if it has one: a retried task); False while the tenant
    runs its cap. Frees the slots of ended jobs before saying no."""
    if stores.quotas.start_running(tenant, holder):
        return True
    _, running = stores.quotas.members(tenant)
    ended = {member for member in running if has_ended(member, stores)}
    if not ended:
        return False
    stores.quotas.release(tenant, ended)
    return stores.quotas.start_running(tenant, holder)
