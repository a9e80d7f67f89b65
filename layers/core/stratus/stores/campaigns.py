"""CampaignStore: campaign records and their trials (items under the campaign's key)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from boto3.dynamodb.conditions import Attr

from stratus.errors import IllegalTransitionError
from stratus.models.campaigns import (
    CAMPAIGN_TRANSITIONS,
    CampaignRecord,
    CampaignStatus,
    TrialRecord,
    TrialStatus,
)
from stratus.stores.base import Item, StatusRecordStore, record_key, to_item

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from boto3.dynamodb.conditions import ConditionBase

TRIAL_PREFIX = "trial#"
KIND = "campaign"


def trial_key(campaign_id: str, number: int) -> Item:
    """Primary key of one trial: under the campaign's partition (one Query reads them all), zero-padded
    so the sort key's order is the trials' order."""
    return {"pk": record_key(KIND, campaign_id)["pk"], "sk": f"{TRIAL_PREFIX}{number:06d}"}


class CampaignStore(StatusRecordStore[CampaignRecord]):
    """Campaign records: status changes are conditional writes along CAMPAIGN_TRANSITIONS; trials are
    items of their own (a 1,000-trial campaign would not fit DynamoDB's 400 KB item)."""

    kind = KIND
    id_field = "campaign_id"
    model = CampaignRecord
    transitions = CAMPAIGN_TRANSITIONS

    def trials(self, campaign_id: str) -> list[TrialRecord]:
        """The campaign's trials in order (one strongly consistent Query, paged)."""
        items = self._query_items(record_key(self.kind, campaign_id)["pk"], TRIAL_PREFIX)
        return sorted((TrialRecord.model_validate(i) for i in items), key=lambda t: t.number)

    def add_trials(self, record: CampaignRecord, trials: list[TrialRecord], run: str) -> None:
        """Store new trials (numbered after ``record.trial_count``) in one transaction with the count's
        change and the check that ``run`` still drives the RUNNING campaign: two runs (or a retried task
        and a pause) can never both add trials. Raises IllegalTransitionError."""
        count = record.trial_count + len(trials)
        writes: list[dict[str, Any]] = [
            {"Put": {"Item": self._trial_item(t), "Condition": Attr("pk").not_exists()}} for t in trials
        ]
        guard = self.is_driving(run) & Attr("trial_count").eq(record.trial_count)
        writes.append(
            {
                "Update": {
                    "Key": self.key(record.campaign_id),
                    "UpdateExpression": "SET #count = :count, #updated = :updated",
                    "ExpressionAttributeNames": {"#count": "trial_count", "#updated": "updated_at"},
                    "ExpressionAttributeValues": to_item({":count": count, ":updated": self._clock()}),
                    "Condition": guard,
                }
            }
        )
        if self.transact(writes) is not None:
            raise IllegalTransitionError(
                f"campaign {record.campaign_id} changed (paused, cancelled or driven by another run); "
                "no trial was added"
            )

    def start_trial(self, trial: TrialRecord, run_ids: Mapping[str, str], run: str) -> TrialRecord:
        """PENDING → RUNNING with its run (``run_ids``: its `execution_id` or `workflow_id`), in one
        transaction with the check that ``run`` still drives the RUNNING campaign: a pause or cancel that
        came first wins. Raises IllegalTransitionError."""
        now = self._clock()
        values = {"status": TrialStatus.RUNNING.value, "started_at": now, "updated_at": now, **run_ids}
        # Placeholders of their own: the condition's builder numbers #n0, :v0, … in the same item.
        names = {f"#f{i}": name for i, name in enumerate(values)}
        update = {
            "Update": {
                "Key": trial_key(trial.campaign_id, trial.number),
                "UpdateExpression": "SET " + ", ".join(f"#f{i} = :f{i}" for i in range(len(values))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": to_item({f":f{i}": v for i, v in enumerate(values.values())}),
                "Condition": Attr("status").eq(TrialStatus.PENDING.value),
            }
        }
        check = {"ConditionCheck": {"Key": self.key(trial.campaign_id), "Condition": self.is_driving(run)}}
        if self.transact([update, check]) is not None:
            raise IllegalTransitionError(
                f"trial {trial.number} did not start: it changed, or the campaign was paused or cancelled"
            )
        return trial.model_copy(update={**values, "status": TrialStatus.RUNNING})

    def update_trial(
        self, trial: TrialRecord, values: Mapping[str, Any], allowed: Iterable[TrialStatus]
    ) -> TrialRecord:
        """Set ``values`` on a trial whose status is in ``allowed``.

        Raises NotFoundError, IllegalTransitionError.
        """
        item = self._update_guarded(
            trial_key(trial.campaign_id, trial.number),
            f"trial {trial.number}",
            {"updated_at": self._clock(), **values},
            allowed_statuses=[s.value for s in allowed],
        )
        return TrialRecord.model_validate(item)

    def update(
        self,
        campaign_id: str,
        values: Mapping[str, Any],
        condition: ConditionBase | None = None,
    ) -> CampaignRecord:
        """Set ``values`` (while ``condition`` holds). Raises NotFoundError, IllegalTransitionError."""
        return self._update(campaign_id, {"updated_at": self._clock(), **values}, condition=condition)

    def runner_is(self, run: str) -> ConditionBase:
        """The condition that ``run`` is the campaign's current runner."""
        return Attr("runner").eq(run)

    def is_driving(self, run: str) -> ConditionBase:
        """The condition that ``run`` drives the campaign now: RUNNING, its runner, and still active."""
        return (
            Attr("status").eq(CampaignStatus.RUNNING.value)
            & Attr("runner").eq(run)
            & Attr("runner_active").eq(True)
        )

    def remove(self, campaign_id: str, tenant: str) -> CampaignRecord:
        """Delete the campaign, then its trials. Raises NotFoundError."""
        record = self.delete(campaign_id, tenant)
        with self._table.batch_writer() as batch:
            for trial in self.trials(campaign_id):
                batch.delete_item(Key=trial_key(campaign_id, trial.number))
        return record

    def _trial_item(self, trial: TrialRecord) -> Item:
        return to_item({**trial_key(trial.campaign_id, trial.number), **trial.model_dump(mode="json")})
