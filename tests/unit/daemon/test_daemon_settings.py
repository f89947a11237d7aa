"""Start-up validation and ``config show``: the settings checks the daemon adds."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from catalog_sync.cli.run import effective_settings
from catalog_sync.daemon.runner import validate
from catalog_sync.support.settings import Settings, SettingsError

KEY = SecretStr("sk_test_0123456789abcdef")


def test_missing_catalogs_folder_is_named(tmp_path: Path) -> None:
    """A catalogs folder that does not exist is refused with the setting's name."""
    settings = Settings(api_key=KEY, catalogs=tmp_path / "missing")
    with pytest.raises(SettingsError, match="catalogs:"):
        validate(settings)


def test_missing_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without any API key source the daemon refuses to start."""
    monkeypatch.delenv("CREDENTIALS_DIRECTORY", raising=False)
    with pytest.raises(SettingsError, match="no API key"):
        validate(Settings(catalogs=tmp_path))


def test_config_show_masks_the_key(tmp_path: Path) -> None:
    """The effective settings never contain the key itself."""
    values = effective_settings(Settings(api_key=KEY, catalogs=tmp_path))
    assert values["api_key"] == "**********"
    assert KEY.get_secret_value() not in str(values)
