"""SampleStore: sample records (Compox's sample-store)."""

from __future__ import annotations

from stratus.models.samples import SampleRecord
from stratus.stores.base import TenantRecordStore


class SampleStore(TenantRecordStore[SampleRecord]):
    """Samples: created with their files' holds in one transaction (services.samples)."""

    kind = "sample"
    id_field = "sample_id"
    model = SampleRecord
