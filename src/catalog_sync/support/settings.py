"""Every setting of catalog-sync, from defaults, a TOML file and ``CATALOG_SYNC_*`` variables.

One model so that ``config show``, validation at start and the README's table all describe the
same thing; environment variables override the file, as systemd drop-ins expect.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)
from pydantic_settings import SettingsError as SourceError

from catalog_sync.support.logs import register_secret

PRODUCTION_API: Final = "https://api.digitalriver.com"
DEFAULT_CONFIG_FILE: Final = Path("/etc/catalog-sync/catalog-sync.toml")
#: docs/digital-river-api.md §4: requests per second per secret key.
TEST_KEY_RATE: Final = 25.0
LIVE_KEY_RATE: Final = 250.0
#: The file name systemd's ``LoadCredential=api-key:...`` gives the key under
#: ``$CREDENTIALS_DIRECTORY``.
CREDENTIAL_NAME: Final = "api-key"
#: A key file larger than this holds more than a key (a link to the wrong file, say).
MAX_KEY_FILE_BYTES: Final = 4096
#: What an API key may hold: it is sent in an HTTP header, so printable ASCII without spaces.
_KEY_CHARACTERS: Final = re.compile(r"[\x21-\x7e]+")
_HIDDEN: Final = "(the value is not shown)"
#: The longest wait any setting may ask for: longer ones overflow timers and mean "never".
_YEAR: Final = 365 * 24 * 3600.0
_HOUR_MS: Final = 3_600_000

Seconds = Annotated[float, Field(gt=0, le=_YEAR)]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    """The effective configuration. Field docs become the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="CATALOG_SYNC_",
        extra="forbid",
        validate_default=True,
        frozen=True,
        allow_inf_nan=False,
    )

    # -- Digital River ---------------------------------------------------------------------
    api_key: SecretStr | None = Field(
        default=None, description="Secret API key (sk_test_... or live)."
    )
    api_key_file: Path | None = Field(
        default=None,
        description="File holding the key (systemd credential); used when api_key is unset.",
    )
    api_base: str = Field(default=PRODUCTION_API, description="Base URL of the API.")
    rate_limit: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Requests/s for the whole process; default 25 for sk_test_ keys, 250 live.",
    )
    max_concurrency: int = Field(
        default=16, ge=1, le=1000, description="Requests in flight at once."
    )
    request_timeout: Seconds = Field(default=30.0, description="Seconds before a call times out.")
    retry_attempts: int = Field(
        default=6, ge=1, le=100, description="Tries per call, first included."
    )
    retry_initial_backoff: Seconds = Field(default=0.5, description="First backoff, seconds.")
    retry_max_backoff: Seconds = Field(default=30.0, description="Longest backoff, seconds.")
    retry_jitter: float = Field(
        default=0.5, ge=0, le=10, description="Random share added to a backoff."
    )

    # -- catalog ----------------------------------------------------------------------------
    catalogs: Path = Field(default=Path("catalogs"), description="Folder of catalog files.")
    state: Path = Field(default=Path("state/catalog-sync.db"), description="SQLite state database.")
    reports: Path = Field(default=Path("reports"), description="Folder of reconcile reports.")
    reports_keep: int = Field(
        default=50, ge=1, le=100_000, description="Reports kept before pruning."
    )
    max_delete: float = Field(
        default=10.0, ge=0, le=100, description="Largest share (%) of pairs --prune may delete."
    )

    # -- catalog file limits: a file over one is a fatal problem of that file, found while
    # streaming it, so no file can hold the daemon's memory or its event loop ----------------
    catalog_max_file_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Largest catalog file, in bytes."
    )
    catalog_max_line_chars: int = Field(
        default=1024 * 1024,
        ge=1,
        description="Longest line of a CSV/JSONL catalog, CSV row or JSON record, in characters.",
    )
    catalog_max_field_chars: int = Field(
        default=64 * 1024,
        ge=1,
        le=131072,
        description="Longest CSV cell or JSON string of a catalog, in characters (at most 131072).",
    )

    # -- daemon -----------------------------------------------------------------------------
    audit_interval: Seconds = Field(default=3600.0, description="Seconds between full audits.")
    debounce_ms: int = Field(
        default=50, ge=1, le=_HOUR_MS, description="Quiet time before a change applies."
    )
    settle_ms: int = Field(
        default=200, ge=0, le=_HOUR_MS, description="A file must be unchanged this long."
    )
    poll_interval: Seconds = Field(default=5.0, description="Seconds between event polls.")
    requests: Path = Field(
        default=Path("requests"), description="Folder of merchant request files."
    )
    handler_max_attempts: int = Field(
        default=8, ge=1, le=1000, description="Tries before dead letter."
    )
    event_overlap_seconds: Seconds = Field(
        default=10.0,
        description="Re-read events this far behind the newest seen (late, out-of-order events).",
    )
    event_retention_warn_days: Annotated[float, Field(gt=0, lt=30)] = Field(
        default=7.0,
        description="Warn when event handling lags this many days (the API keeps 30 days).",
    )
    notify_jsonl: Path | None = Field(
        default=None, description="JSONL file notifications are appended to."
    )
    notify_webhooks: list[SecretStr] = Field(
        default_factory=list,
        description="URLs notifications are POSTed to as JSON (retried); a JSON list in env.",
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Loopback port for /healthz and /metrics."
    )
    stop_timeout: Seconds = Field(default=20.0, description="Seconds to finish on SIGTERM.")

    # -- merchant request files -------------------------------------------------------------
    request_max_bytes: int = Field(
        default=1_048_576,
        ge=1,
        le=64 * 1_048_576,
        description="Largest request file read, in bytes (1 MiB); a larger one is rejected.",
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def _clean_key(cls, value: Any) -> Any:
        """A key from a CRLF env file or a pasted line arrives with whitespace around it."""
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        return clean_api_key(value) if isinstance(value, str) else value

    @field_validator("api_base", mode="before")
    @classmethod
    def _check_base(cls, value: Any) -> Any:
        return check_url(value).rstrip("/") if isinstance(value, str) else value

    @field_validator("notify_webhooks", mode="before")
    @classmethod
    def _check_webhooks(cls, value: Any) -> Any:
        """Each URL is checked here, so a bad one stops the start, not the first notice."""
        if not isinstance(value, (list, tuple)):
            return value  # the type check names what is wrong
        checked: list[str] = []
        for number, url in enumerate(value, start=1):
            text = url.get_secret_value() if isinstance(url, SecretStr) else url
            if not isinstance(text, str):
                raise ValueError(f"entry {number} is not a string")  # noqa: TRY004 - one message
            try:
                checked.append(check_url(text))
            except ValueError as exc:
                raise ValueError(f"entry {number}: {exc}") from None
        return checked

    @field_validator(
        "api_key_file", "catalogs", "state", "reports", "requests", "notify_jsonl", mode="before"
    )
    @classmethod
    def _usable_path(cls, value: Any) -> Any:
        """An empty path means the working folder, a NUL cannot be opened: both are typos."""
        if isinstance(value, str) and (not value or "\x00" in value):
            raise ValueError("must be a non-empty path without NUL characters")
        return value

    @model_validator(mode="after")
    def _key_sources_exclusive(self) -> Settings:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set api_key or api_key_file, not both")
        return self

    @model_validator(mode="after")
    def _register_secrets(self) -> Settings:
        """Tell the redactor at once, before anything could log or raise with a secret."""
        if self.api_key is not None:
            register_secret(self.api_key.get_secret_value())
        for url in self.notify_webhooks:
            for part in url_secrets(url.get_secret_value()):
                register_secret(part)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order of precedence: explicit arguments, environment, then the TOML file."""
        del dotenv_settings, file_secret_settings
        toml_file = _config_file_var.get("path")
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)

    def resolved_api_key(self) -> SecretStr:
        """Return the key from the variable, the key file, or the systemd credential."""
        if self.api_key is not None:
            return self.api_key
        path = self.api_key_file
        setting = "api_key_file"
        if path is None and (cred_dir := os.environ.get("CREDENTIALS_DIRECTORY")):
            candidate = Path(cred_dir) / CREDENTIAL_NAME
            path = candidate if candidate.exists() else None
            setting = f"systemd credential {CREDENTIAL_NAME}"
        if path is None:
            raise SettingsError(
                "no API key: set CATALOG_SYNC_API_KEY or CATALOG_SYNC_API_KEY_FILE "
                f"(or a systemd credential named {CREDENTIAL_NAME!r})"
            )
        try:
            key = clean_api_key(_read_key_file(path))
        except OSError as exc:
            raise SettingsError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise SettingsError(f"{setting}: {path}: {exc}") from None
        register_secret(key)
        return SecretStr(key)

    def effective_rate_limit(self) -> float:
        """Requests per second for this key: the setting, else the API's limit for the key."""
        if self.rate_limit is not None:
            return self.rate_limit
        is_test = self.resolved_api_key().get_secret_value().startswith("sk_test_")
        return TEST_KEY_RATE if is_test else LIVE_KEY_RATE


def clean_api_key(text: str) -> str:
    """The key without surrounding whitespace; refused if it cannot be sent as is.

    The messages never quote the key: they end up on a terminal and in the journal.
    """
    key = text.strip()
    if not key:
        raise ValueError("is empty")
    if not _KEY_CHARACTERS.fullmatch(key):
        raise ValueError(f"must be printable ASCII without spaces or control characters {_HIDDEN}")
    return key


def check_url(text: str) -> str:
    """``text`` stripped, if it is an http(s) URL with a host; the error never quotes it."""
    url = text.strip()
    if not url.isprintable() or any(char.isspace() for char in url):
        raise ValueError(f"must be a URL without spaces or control characters {_HIDDEN}")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises for a port out of range or not a number
    except ValueError:
        raise ValueError(f"is not a valid URL {_HIDDEN}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http:// or https:// URL with a host {_HIDDEN}")
    return url


def webhook_label(url: str) -> str:
    """How a webhook is shown anywhere: its scheme and host, nothing after.

    Slack-style webhooks keep their secret in the path, others in the user part or the
    query; the host alone says which service it is and gives nothing away.
    """
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}/..."


def url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL that give it away, for the redactor.

    The whole URL, its user part, password, path, query and each query value, fragment, and
    the Basic credentials an HTTP client sends for a user part (a server may echo them).
    """
    parts = urlsplit(url)
    found = [url, url.split("#", 1)[0], url.split("?", 1)[0], parts.path, parts.query]
    found.append(parts.fragment)
    if parts.username is not None or parts.password is not None:
        user, password = unquote(parts.username or ""), unquote(parts.password or "")
        found += [parts.netloc.rsplit("@", 1)[0], password, f"{user}:{password}"]
        found.append(base64.b64encode(f"{user}:{password}".encode()).decode())
    found += [value for _name, value in parse_qsl(parts.query, keep_blank_values=True)]
    return [part for part in found if part and part != "/"]


def _read_key_file(path: Path) -> str:
    """The text of a key file; only a small regular file is read (never a FIFO or a device)."""
    if not path.is_file():
        raise ValueError("is not a regular file")
    with path.open("rb") as handle:
        data = handle.read(MAX_KEY_FILE_BYTES + 1)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise ValueError(f"is larger than {MAX_KEY_FILE_BYTES} bytes; it must hold only the key")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"is not UTF-8 text {_HIDDEN}") from None


_config_file_var: dict[str, Path | None] = {"path": None}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from ``config_file`` (or the default file when it exists) and the env.

    Raises :class:`SettingsError` naming each bad setting, so the daemon refuses to start with
    a message an operator can act on instead of a traceback.
    """
    from pydantic import ValidationError  # noqa: PLC0415 - keeps the module import light

    if config_file is None and DEFAULT_CONFIG_FILE.exists():
        config_file = DEFAULT_CONFIG_FILE
    if config_file is not None and not config_file.exists():
        raise SettingsError(f"config file {config_file} does not exist")
    if config_file is not None and not config_file.is_file():
        raise SettingsError(f"config file {config_file} is not a regular file")
    source = f" (from {config_file} and CATALOG_SYNC_* variables)" if config_file else ""
    _config_file_var["path"] = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: "
            f"{err['msg'].removeprefix('Value error, ')}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration{source}: {problems}") from None
    except SourceError as exc:
        # A variable that is not JSON where JSON is expected (lists); the text names the
        # field and the source, never the value.
        field = re.search(r'field "(\w+)"', str(exc))
        name = field.group(1) if field else "settings"
        raise SettingsError(
            f"invalid configuration{source}: {name}: not valid JSON "
            f'(a list is written like ["https://..."]) {_HIDDEN}'
        ) from None
    except (OSError, ValueError) as exc:
        if config_file is None:
            raise
        # The TOML file could not be read or parsed (not UTF-8, a syntax error).
        reason = exc.strerror if isinstance(exc, OSError) else str(exc)
        raise SettingsError(f"config file {config_file}: {reason}") from None
    finally:
        _config_file_var["path"] = None
