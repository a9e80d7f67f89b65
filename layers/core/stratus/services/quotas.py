"""Per-tenant job limits: a cap on jobs accepted and not ended (beyond it: 429 with Retry-After) and a
cap on jobs running (beyond it a job waits in its state machine, queued, until a slot frees)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from stratus.errors import TooManyRequestsError
from stratus.services.holds import has_ended

if TYPE_CHECKING:
    from stratus.stores import Stores
    from stratus.stores.quotas import QuotaUsage

# Jobs take seconds to hours; a client that hit the queued cap tries again about this much later.
RETRY_AFTER_S = 30
# A waiting job asks for a slot again at least every MaxDelaySeconds (20 s) of the state machines'
# RunSlotsBusyError retry; an entry three times that old is of a job that no longer asks.
WAITING_STALE_S = 60


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


def start_running(tenant: str, holder: str, order: str, stores: Stores) -> bool:
    """Take a running slot for the job (again, if it has one: a retried task) when no job goes before it
    in the tenant's queue (``order``: stores.quotas.waiting_order); False while one does or the tenant
    runs its cap, and the job waits noted at ``order``. Frees the slots of ended jobs before saying no.

    Races, all settled by the quota item's conditional writes: two jobs granted the last slot at once
    (the cap's condition lets one in); a job that starts waiting, or changes priority, between another's
    read and its grant (as if it had come just after: the grant stands, it waits for the next slot); a
    job released while it is noted waiting (`wait` notes only queued members).
    """
    usage = stores.quotas.usage(tenant)
    if holder in usage.running:
        return True
    if not _ahead(tenant, holder, order, usage, stores) and _take_slot(tenant, holder, usage, stores):
        return True
    stores.quotas.wait(tenant, holder, order)
    return False


def _ahead(tenant: str, holder: str, order: str, usage: QuotaUsage, stores: Stores) -> set[str]:
    """The waiting jobs that go first: a higher priority, or as high and older, and still asking.

    An entry not refreshed for WAITING_STALE_S is of a job whose run no longer asks (ended without its
    release, or its run was stopped outside the API): it is forgotten rather than let it hold the queue
    for ever; a job that is still alive notes itself again at its next attempt.
    """
    ahead = {m for m, w in usage.waiting.items() if m != holder and (w.order, m) < (order, holder)}
    oldest_fresh = stores.clock() - WAITING_STALE_S
    stale = {m for m in ahead if usage.waiting[m].seen < oldest_fresh}
    if stale:
        ended = {m for m in stale if has_ended(m, stores)}
        stores.quotas.release(tenant, ended)
        stores.quotas.forget_waiting(tenant, stale - ended)
    return ahead - stale


def _take_slot(tenant: str, holder: str, usage: QuotaUsage, stores: Stores) -> bool:
    if stores.quotas.start_running(tenant, holder):
        return True
    ended = {member for member in usage.running if has_ended(member, stores)}
    if not ended:
        return False
    stores.quotas.release(tenant, ended)
    return stores.quotas.start_running(tenant, holder)
