"""The data bucket's key layout: every S3 key Stratus writes is built here."""

from __future__ import annotations

from urllib.parse import quote

UPLOADS_PREFIX = "uploads/"


def upload_key(file_id: str) -> str:
    """Key for presigned uploads; ObjectCreated under this prefix triggers ingestion."""
    return f"{UPLOADS_PREFIX}{file_id}"


def file_key(file_id: str) -> str:
    """Key for files stored by the API or the worker (no ingestion needed)."""
    return f"files/{file_id}"


def asset_key(digest: str) -> str:
    """Assets are stored once per content, whichever algorithms, versions and checkpoints use them."""
    return f"assets/sha256/{digest}"


def code_key(owner: str, name: str, major: int, digest: str) -> str:
    """A version's code (the package without assets), addressed by content under its owner's prefix."""
    return f"algorithms/{quote(owner, safe='')}/{name}/{major}/code-{digest}.zip"


def environment_key(digest: str) -> str:
    """An environment's packages (a zip of its site-packages), by its content address: written once."""
    return f"envs/{digest}.zip"


def session_prefix(tenant: str, token: str) -> str:
    """S3 prefix of one session; the tenant is part of it so a guessed token reaches only one's own."""
    return f"sessions/{quote(tenant, safe='')}/{quote(token, safe='')}/"


def session_item_key(tenant: str, token: str, key: str) -> str:
    """Key of one session item."""
    return session_prefix(tenant, token) + quote(key, safe="")


def campaign_plot_key(tenant: str, campaign_id: str) -> str:
    """The latest plot of a campaign (a PNG, replaced after each round with new results)."""
    return f"campaigns/{quote(tenant, safe='')}/{campaign_id}/plot.png"
