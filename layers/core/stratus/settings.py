"""Runtime settings, read from the environment once per process."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
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
    default_tenant: str = "local"
    # Only the API starts executions; the other functions and the worker run without it.
    execution_state_machine_arn: str | None = None
    training_state_machine_arn: str | None = None

    @property
    def file_lifetime_seconds(self) -> int:
        """File lifetime as whole seconds."""
        return int(self.file_lifetime_days * 86400)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; tests clear the cache)."""
    return Settings()  # required fields come from the environment
