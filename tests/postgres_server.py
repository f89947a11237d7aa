"""A throwaway PostgreSQL server for the tests: one cluster per session, one database per test.

The cluster lives in a temporary folder (``initdb`` + ``pg_ctl`` on a free loopback port, trust
authentication, fsync off: it is thrown away) and is stopped when the session ends. The server
binaries come from ``PATH`` or Debian's ``/usr/lib/postgresql/<version>/bin``;
``scripts/system-deps.sh`` (run by ``make test``) installs them on a fresh machine. PostgreSQL
refuses to run as root, so as root the cluster belongs to the ``postgres`` user (or ``nobody``)
and its commands run through ``runuser``.

Without binaries the PostgreSQL tests skip, saying why; with ``CI=true`` they fail instead, so
a CI run never passes without having run them.
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Final

import psycopg
import pytest

#: Users that may own the cluster when the tests run as root, in order of preference.
_SERVICE_USERS: Final = ("postgres", "nobody")
_SUPERUSER: Final = "postgres"
#: The superuser's password: TCP connections authenticate with SCRAM, as a real server's do,
#: so the tests of where the password comes from are real.
PASSWORD: Final = "throwaway-test-password"


def server_binaries(
    path: str | None = None, debian_root: Path = Path("/usr/lib/postgresql")
) -> Path | None:
    """The folder holding ``initdb`` and ``pg_ctl`` (None: not installed).

    ``path`` is searched first (default: ``PATH``), then Debian's folders, the newest version.
    """
    found = shutil.which("pg_ctl", path=path)
    if found is not None and shutil.which("initdb", path=path) is not None:
        return Path(found).resolve().parent
    versions = [
        tool.parent
        for tool in debian_root.glob("*/bin/pg_ctl")
        if tool.parent.parent.name.isdigit() and (tool.parent / "initdb").exists()
    ]
    return max(versions, key=lambda folder: int(folder.parent.name), default=None)


def require_binaries(binaries: Path | None, *, ci: bool) -> Path:
    """``binaries``, or the test stops saying why: skipped on a workstation, failed in CI."""
    if binaries is not None:
        return binaries
    reason = "PostgreSQL server binaries not found; run scripts/system-deps.sh as root"
    if ci:
        pytest.fail(reason)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PostgresServer:
    """One running cluster; :meth:`new_database` gives each test an empty database."""

    def __init__(self, binaries: Path) -> None:
        self._binaries = binaries
        self._root = Path(tempfile.mkdtemp(prefix="catalog-sync-pg-"))
        self._data = self._root / "data"
        self.port = _free_port()
        self._owner: str | None = None
        self._databases = 0
        if os.getuid() == 0:
            self._owner = next(u for u in _SERVICE_USERS if _user_exists(u))
            self._root.chmod(0o755)
            self._data.mkdir(mode=0o700)
            entry = pwd.getpwnam(self._owner)
            os.chown(self._data, entry.pw_uid, entry.pw_gid)
        password_file = self._root / "password"
        password_file.write_text(PASSWORD)
        if self._owner is not None:
            password_file.chmod(0o644)
        self._run(
            "initdb",
            f"--pwfile={password_file}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-D",
            str(self._data),
            "-U",
            _SUPERUSER,
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=''"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        log = self._data / "server.log"
        self._run("pg_ctl", "-D", str(self._data), "-l", str(log), "-o", options, "-w", "start")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self._binaries / tool), *args]
        if self._owner is not None:
            command = ["runuser", "-u", self._owner, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self._root)

    def url(self, database: str = "postgres", *, password: str | None = PASSWORD) -> str:
        """The URL of ``database`` on this server, with ``password`` (None: without one)."""
        user = _SUPERUSER if password is None else f"{_SUPERUSER}:{password}"
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """Create an empty database; returns its URL."""
        self._databases += 1
        name = f"test_{os.getpid()}_{self._databases}"
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}".encode())
        return self.url(name)

    def restart(self) -> None:
        """Restart the server (fast shutdown: sessions are cut, committed data stays), as an
        operator's restart or a failover of the database would; same port and data."""
        log = self._data / "server.log"
        self._run("pg_ctl", "-D", str(self._data), "-l", str(log), "-m", "fast", "-w", "restart")

    def stop(self) -> None:
        """Stop the server (fast: the data is thrown away) and remove its folder."""
        if self._data.exists():
            self._run("pg_ctl", "-D", str(self._data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self._root, ignore_errors=True)


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


_SHARED: list[PostgresServer] = []


def shared_server() -> PostgresServer:
    """The session's server, started on first use (skipped without binaries; failed in CI)."""
    if not _SHARED:
        ci = os.environ.get("CI", "").lower() == "true"
        _SHARED.append(PostgresServer(require_binaries(server_binaries(), ci=ci)))
        atexit.register(stop_shared_server)
    return _SHARED[0]


def stop_shared_server() -> None:
    """Stop the session's server, if one was started."""
    while _SHARED:
        _SHARED.pop().stop()


def new_postgres_database(_folder: Path) -> str:
    """A fresh, empty database on the session's server (a ``BACKENDS`` entry)."""
    return shared_server().new_database()
