"""The ``state`` setting: an SQLite path or a PostgreSQL URL, and the database password."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from catalog_sync.support import logs
from catalog_sync.support.settings import Settings, SettingsError, load_settings

URL = "postgresql://catalog@db.example:5432/catalog_sync"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [*os.environ]:
        if name.startswith("CATALOG_SYNC_") or name == "CREDENTIALS_DIRECTORY":
            monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize("url", [URL, URL.replace("postgresql", "postgres", 1)])
def test_a_postgresql_url_stays_a_url(url: str) -> None:
    """The URL reaches the backend as written; there is no state file then."""
    settings = Settings(state=url)
    assert (settings.state, settings.state_file) == (url, None)


def test_a_path_is_the_sqlite_file() -> None:
    """Any other text is the SQLite database's path, as before."""
    settings = Settings(state="var/state.db")
    assert settings.state_file == Path("var/state.db")


def test_an_sqlite_url_is_its_path() -> None:
    """``sqlite:///path`` names the same file as the plain path."""
    assert Settings(state="sqlite:///srv/state.db").state_file == Path("/srv/state.db")


def test_an_unknown_scheme_is_refused() -> None:
    """A URL of a backend catalog-sync does not have fails at load, naming the setting."""
    with pytest.raises(SettingsError, match=r"state: must be a path, sqlite:///path or a post"):
        load_settings(state="mysql://db/x")


def test_the_url_password_is_never_logged() -> None:
    """A password written in the URL is registered with the redactor at load."""
    Settings(state="postgresql://catalog:s3cr3t-pw@db/x")
    assert "s3cr3t-pw" not in logs.redact("refused: postgresql://catalog:s3cr3t-pw@db/x")


def test_the_password_file_is_read(tmp_path: Path) -> None:
    """``state_password_file`` gives the password without the editor's line break."""
    secret = tmp_path / "pw"
    secret.write_text("from-the-file\n")
    assert Settings(state=URL, state_password_file=secret).state_password() == "from-the-file"


def test_the_systemd_credential_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Under systemd, the credential ``state-password`` is the password file."""
    (tmp_path / "state-password").write_text("from-systemd")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert Settings(state=URL).state_password() == "from-systemd"


def test_no_password_source_leaves_it_to_libpq() -> None:
    """Without a file or credential, the URL, PGPASSWORD or .pgpass decide (libpq reads them)."""
    assert Settings(state=URL).state_password() is None


def test_an_unreadable_password_file_names_the_setting(tmp_path: Path) -> None:
    """A folder given as the password file: an error naming the setting, no traceback."""
    with pytest.raises(SettingsError, match=r"state_password_file: .* not a regular file"):
        Settings(state=URL, state_password_file=tmp_path).state_password()
