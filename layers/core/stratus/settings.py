"""Runtime settings, read from the environment once per process."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

# API Gateway hands binary bodies to Lambda base64-encoded inside a 6 MB invocation payload,
# so the largest raw body that fits is about 4.4 MB; stay under it.
DEFAULT_MAX_DIRECT_UPLOAD_BYTES = 4 * 1024 * 1024


class Settings(BaseSettings):
    """Every environment variable Stratus reads; names match template.yaml."""

    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore")

    table_name: str
    data_bucket: str
    stage: str = "dev"
    file_lifetime_days: float = Field(default=1.0, gt=0)
    max_direct_upload_bytes: int = Field(default=DEFAULT_MAX_DIRECT_UPLOAD_BYTES, gt=0)
    # Downloads above this size are answered with a redirect to a presigned URL (Lambda's 6 MB response).
    max_direct_download_bytes: int = Field(default=DEFAULT_MAX_DIRECT_UPLOAD_BYTES, gt=0)
    multipart_threshold_bytes: int = Field(default=64 * 1024 * 1024, ge=5 * 1024 * 1024)
    multipart_part_bytes: int = Field(default=16 * 1024 * 1024, ge=5 * 1024 * 1024)
    max_upload_bytes: int = Field(default=50 * 1024**3, gt=0)
    presigned_url_seconds: int = Field(default=3600, gt=0, le=7 * 24 * 3600)
    # Sign-in (the authorizer only): the OIDC issuer of people's JWTs, the app clients they may be issued
    # for (comma-separated), where its keys are (default: the issuer's .well-known), the tenant's claim.
    oidc_issuer: str | None = None
    oidc_audiences: str | None = None
    jwks_url: str | None = None
    tenant_claim: str = "custom:tenant"
    # Per tenant: jobs accepted and not ended (beyond: 429), and jobs running (beyond: they wait queued).
    max_queued_jobs: int = Field(default=100, ge=1)
    max_running_jobs: int = Field(default=10, ge=1)
    # Signs page cursors (template.yaml's CursorSecret). Only the API lists pages and create_app refuses to
    # start without it; the other functions and the worker never see it.
    cursor_secret: SecretStr | None = None
    # Only the API starts executions; the other functions and the worker run without it.
    execution_state_machine_arn: str | None = None
    training_state_machine_arn: str | None = None
    workflow_state_machine_arn: str | None = None
    campaign_state_machine_arn: str | None = None
    # Webhooks (issue 10 §6): the queue events go to (the API, the steps function, the webhooks function
    # and the worker send to it; elsewhere unset, and a job's events are dropped with a warning), whether
    # receivers may be private, loopback or link-local addresses (the local stack's tests), and the first
    # retry's delay (doubling per retry).
    webhook_queue_url: str | None = None
    allow_private_webhook_targets: bool = False
    webhook_retry_base_seconds: int = Field(default=30, ge=1, le=900)
    # Declared dependencies (the API only): environments are built for the worker's interpreter, named by
    # its tag (template.yaml WorkerPythonTag; unset: this interpreter's, as on the local stack where the
    # API and the worker are one), by Batch jobs of this definition on this queue.
    worker_python_tag: str | None = Field(default=None, pattern=r"^cp[0-9]{2,3}-[a-z0-9]+_[a-z0-9_]+$")
    environment_build_job_queue: str | None = None
    environment_build_job_definition: str | None = None

    @property
    def file_lifetime_seconds(self) -> int:
        """File lifetime as whole seconds."""
        return int(self.file_lifetime_days * 86400)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache)."""
    return Settings()  # required fields come from the environment
