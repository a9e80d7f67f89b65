"""Where the client finds its address and token (stratus_client.config)."""

from __future__ import annotations

import stat
from typing import TYPE_CHECKING

from stratus_client.config import DEFAULT_URL, Settings, config_path, resolve_settings, write_config

if TYPE_CHECKING:
    from pathlib import Path


def test_config_path_honours_xdg_config_home(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "stratus" / "config.json"


def test_write_config_is_readable_by_the_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "stratus" / "config.json"

    write_config(Settings(url="http://api", token="secret"), path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_settings(environ={"XDG_CONFIG_HOME": str(tmp_path)}).token == "secret"


def test_resolve_settings_prefers_arguments_then_environment_then_file(tmp_path: Path) -> None:
    write_config(Settings(url="http://file", token="file-token"), tmp_path / "stratus" / "config.json")
    environ = {"XDG_CONFIG_HOME": str(tmp_path), "STRATUS_URL": "http://env/"}

    from_env = resolve_settings(environ=environ)
    from_args = resolve_settings("http://arg", "arg-token", environ=environ)

    assert (from_env.url, from_env.token) == ("http://env", "file-token")
    assert (from_args.url, from_args.token) == ("http://arg", "arg-token")


def test_resolve_settings_defaults_to_make_dev_without_a_token(tmp_path: Path) -> None:
    settings = resolve_settings(environ={"XDG_CONFIG_HOME": str(tmp_path)})

    assert (settings.url, settings.token) == (DEFAULT_URL, None)


def test_resolve_settings_ignores_a_file_that_is_not_json(tmp_path: Path) -> None:
    path = tmp_path / "stratus" / "config.json"
    path.parent.mkdir()
    path.write_text("not json")

    assert resolve_settings(environ={"XDG_CONFIG_HOME": str(tmp_path)}).url == DEFAULT_URL
