"""Where the client finds the API and its token: arguments, then STRATUS_URL/STRATUS_TOKEN, then the
config file `stratus login` writes."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict

# `make dev` serves here; the README's curl examples default to it too.
DEFAULT_URL = "http://127.0.0.1:8000"
URL_VARIABLE = "STRATUS_URL"
TOKEN_VARIABLE = "STRATUS_TOKEN"
# The file holds a bearer token: only its owner may read it.
CONFIG_MODE = 0o600


class Settings(BaseModel):
    """The API's address and the bearer token to send it."""

    model_config = ConfigDict(extra="ignore")

    url: str = DEFAULT_URL
    token: str | None = None


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """`$XDG_CONFIG_HOME/stratus/config.json`, else `~/.config/stratus/config.json`."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "stratus" / "config.json"


def read_config(path: Path) -> Settings | None:
    """The saved settings, or None when there is no file. A file that is not ours is ignored."""
    try:
        return Settings.model_validate(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except ValueError:
        return None


def write_config(settings: Settings, path: Path) -> None:
    """Save the settings, readable by the owner only (the file is created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, CONFIG_MODE)
    with os.fdopen(descriptor, "w") as handle:
        json.dump(settings.model_dump(), handle, indent=2)
    temporary.chmod(CONFIG_MODE)  # an existing .tmp keeps its old mode through O_CREAT
    temporary.replace(path)


def resolve_settings(
    url: str | None = None, token: str | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Each value from the arguments, else the environment, else the config file, else the default."""
    environ = os.environ if environ is None else environ
    saved = read_config(config_path(environ)) or Settings()
    return Settings(
        url=(url or environ.get(URL_VARIABLE) or saved.url).rstrip("/"),
        token=token or environ.get(TOKEN_VARIABLE) or saved.token,
    )
