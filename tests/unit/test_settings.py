"""Settings: sources, precedence, key resolution and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from catalog_sync.settings import LIVE_KEY_RATE, TEST_KEY_RATE, SettingsError, load_settings

KEY = "sk_test_0123456789abcdef0123456789abcdef"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CATALOG_SYNC_API_KEY", "CATALOG_SYNC_API_KEY_FILE", "CREDENTIALS_DIRECTORY"):
        monkeypatch.delenv(name, raising=False)


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A CATALOG_SYNC_* variable wins over the same setting in the TOML file."""
    config = tmp_path / "c.toml"
    config.write_text('poll_interval = 9\ncatalogs = "/srv/catalogs"\n')
    monkeypatch.setenv("CATALOG_SYNC_POLL_INTERVAL", "2")
    settings = load_settings(config)
    assert settings.poll_interval == 2
    assert settings.catalogs == Path("/srv/catalogs")


def test_bad_setting_is_named(tmp_path: Path) -> None:
    """An invalid value fails at load with a message naming the setting."""
    config = tmp_path / "c.toml"
    config.write_text("max_delete = 150\n")
    with pytest.raises(SettingsError, match="max_delete"):
        load_settings(config)


def test_unknown_setting_is_refused(tmp_path: Path) -> None:
    """A misspelt setting in the file is an error, not silently ignored."""
    config = tmp_path / "c.toml"
    config.write_text("pol_interval = 3\n")
    with pytest.raises(SettingsError, match="pol_interval"):
        load_settings(config)


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """Naming a config file that does not exist is reported, not ignored."""
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_key_file_is_read(tmp_path: Path) -> None:
    """The key can come from a file, as systemd credentials deliver it."""
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    settings = load_settings(api_key_file=key_file)
    assert settings.resolved_api_key().get_secret_value() == KEY


def test_systemd_credential_is_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a key setting, $CREDENTIALS_DIRECTORY/api-key is used."""
    (tmp_path / "api-key").write_text(KEY)
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert load_settings().resolved_api_key().get_secret_value() == KEY


def test_missing_key_says_how_to_set_it() -> None:
    """No key anywhere is an error that names the variables to set."""
    with pytest.raises(SettingsError, match="CATALOG_SYNC_API_KEY"):
        load_settings().resolved_api_key()


def test_key_not_in_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    """The settings' repr masks the key."""
    monkeypatch.setenv("CATALOG_SYNC_API_KEY", KEY)
    assert KEY not in repr(load_settings())


@pytest.mark.parametrize(
    ("key", "rate"), [(KEY, TEST_KEY_RATE), ("sk_live_0123456789abcdef", LIVE_KEY_RATE)]
)
def test_rate_limit_defaults_by_key_kind(key: str, rate: float) -> None:
    """Test keys get the API's 25/s, other keys its live 250/s."""
    assert load_settings(api_key=key).effective_rate_limit() == rate


def test_rate_limit_setting_overrides_default() -> None:
    """An explicit rate limit is used as is."""
    assert load_settings(api_key=KEY, rate_limit=10).effective_rate_limit() == 10
