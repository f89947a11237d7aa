"""Every setting of catalog-sync, from defaults, a TOML file and ``CATALOG_SYNC_*`` variables.

Two layers. :class:`Settings` is the flat model that is loaded and validated: its field names
are the TOML keys and ``CATALOG_SYNC_*`` variables, so ``config show``, validation at start and
the README's table all describe the same thing; environment variables override the file, as
systemd drop-ins expect. Components never read it whole: each takes the one group of its
concern, a small frozen view built from it (``settings.api``, ``settings.catalog``,
``settings.events``, ``settings.fulfillment``, ``settings.merchant_requests``,
``settings.daemon``, ``settings.notify``), so what a component depends on is in its signature
and a reload hands each running service its own group again. The groups hold the defaults,
each with the reason for it; the flat model takes its defaults from them.
"""

from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass
from datetime import UTC, datetime
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

from catalog_sync.core.textstream import DEFAULT_LIMITS, Limits
from catalog_sync.support.clock import stamp
from catalog_sync.support.logs import register_secret

PRODUCTION_API: Final = "https://api.digitalriver.com"
DEFAULT_CONFIG_FILE: Final = Path("/etc/catalog-sync/catalog-sync.toml")
#: Requests per second the API allows one secret key (docs/digital-river-api.md §4).
TEST_KEY_RATE: Final = 25.0
LIVE_KEY_RATE: Final = 250.0
#: How a secret test-mode key begins; any other key is live (docs/digital-river-api.md §1).
TEST_KEY_PREFIX: Final = "sk_test_"
#: The file name systemd's ``LoadCredential=api-key:...`` gives the key under
#: ``$CREDENTIALS_DIRECTORY``.
CREDENTIAL_NAME: Final = "api-key"
#: The systemd credential holding the PostgreSQL password of a ``postgresql://`` state.
STATE_CREDENTIAL_NAME: Final = "state-password"
#: URL schemes of a PostgreSQL state (libpq accepts both); anything else is an SQLite path.
POSTGRES_URL_SCHEMES: Final = frozenset({"postgresql", "postgres"})
#: A key file larger than this holds more than a key (a link to the wrong file, say).
MAX_KEY_FILE_BYTES: Final = 4096
#: What an API key may hold: it is sent in an HTTP header, so printable ASCII without spaces.
_KEY_CHARACTERS: Final = re.compile(r"[\x21-\x7e]+")
_HIDDEN: Final = "(the value is not shown)"
#: The longest wait any setting may ask for: longer ones overflow timers and mean "never".
_YEAR: Final = 365 * 24 * 3600.0
_HOUR_MS: Final = 3_600_000

Seconds = Annotated[float, Field(gt=0, le=_YEAR)]
#: The longest first wait of a failed event or write, whatever the poll interval.
_MAX_RETRY_BASE: Final = 1.0


def is_test_key(key: str) -> bool:
    """Whether ``key`` is a test-mode key: the one place that tells the modes apart.

    The key, not the URL, decides the mode (docs/digital-river-api.md §1); the rate the API
    allows and the events the poller accepts both follow from it.
    """
    return key.startswith(TEST_KEY_PREFIX)


# -- the settings by concern --------------------------------------------------------------
# Built by the properties of ``Settings`` from the flat, validated values; a test may build
# one directly (they do not validate: that is the flat model's job).


@dataclass(frozen=True)
class ApiSettings:
    """How the process's one client talks to Digital River (``settings.api``)."""

    key: SecretStr
    """The secret key, from ``api_key``, ``api_key_file`` or the systemd credential."""
    rate_limit: float
    """Requests per second for the whole process. Unset, the API's own limit for the key's
    mode: asking for more only earns 429s, asking for less wastes the budget."""
    base_url: str = PRODUCTION_API
    """Production: the key, not the URL, decides test or live mode, so one URL serves both."""
    max_concurrency: int = 16
    """Calls in flight are about rate x latency; sixteen keep the budget busy while answers
    take tens of milliseconds, and bound the connection pool (DR advises against many
    concurrent requests, docs/digital-river-api.md §4)."""
    request_timeout: float = 30.0
    """Long enough for a slow list page under load, short enough that a dead connection is
    noticed and retried (an unknown outcome is read back, never assumed)."""
    retry_attempts: int = 6
    """Six tries, the first included: with the backoffs below about 15 s of waiting, enough to
    ride out a brief 5xx or 429 spell while a run still reports a lasting failure promptly."""
    retry_initial_backoff: float = 0.5
    """A transient failure is tried again quickly, yet well after a round trip."""
    retry_max_backoff: float = 30.0
    """Caps the doubling, so a long outage is still probed twice a minute."""
    retry_jitter: float = 0.5
    """Up to half the backoff again, at random: tasks that failed together do not retry in
    lockstep (DR advises jitter, docs/digital-river-api.md §4)."""

    @property
    def live_mode(self) -> bool:
        """Whether the key is a live-mode key (see :func:`is_test_key`)."""
        return not is_test_key(self.key.get_secret_value())


@dataclass(frozen=True)
class CatalogSettings:
    """Catalog files, their runs and reports (``settings.catalog``)."""

    folder: Path = Path("catalogs")
    """Relative to the working folder, so a checkout works as is; the systemd unit sets an
    absolute path of its own."""
    reports: Path = Path("reports")
    """In the working folder too, beside the catalogs: where an operator looks first."""
    reports_keep: int = 50
    """About two days of hourly audits (fewer when files change often): enough to compare
    before and after a change, in a folder that stays small."""
    max_delete: float = 10.0
    """A prune removing more than a tenth of the remote pairs is likelier a missing file than
    intent; a larger one needs ``--max-delete``."""
    limits: Limits = DEFAULT_LIMITS
    """What a catalog file may hold; each limit's reason is on :class:`Limits`."""
    audit_interval: float = 3600.0
    """Hourly: drift made by hand is repaired within the hour, while the full read of every pair
    an audit makes stays a small share of the rate budget."""
    debounce_ms: int = 10
    """Files renamed in together (``mv *.csv catalogs/``) arrive within microseconds; 10 ms
    groups them into one run and adds next to nothing to a drop's latency. A file written in
    place waits ``settle_ms`` anyway."""
    settle_ms: int = 200
    """A file written in place must be quiet this long before it is read: it covers a writer's
    short pauses mid-file. A file renamed into place is complete and never waits for it."""


@dataclass(frozen=True)
class EventSettings:
    """The event poller (``settings.events``)."""

    poll_interval: float = 5.0
    """An accepted order gets its fulfillment order within seconds, at twelve small reads a
    minute: nothing against the rate budget."""
    overlap_seconds: float = 10.0
    """Events may become visible late or out of order (docs/digital-river-api.md §14.1); each
    sweep re-reads this far back, and a duplicate costs only an id lookup."""
    retention_warn_days: float = 7.0
    """The API keeps events 30 days; a week of lag still leaves three weeks to act."""
    start: str | None = None
    """Where a first start (no event cursor yet) begins acting on events: ``now``, a UTC time,
    or ``retained``. None lets the key decide: a test key takes ``retained``, a live key
    refuses to start, because acting on 30 days of another integration's history would
    capture and ship what it already handled. Fixed in the state at the first poll, so a
    later change (or a reload) moves nothing."""


@dataclass(frozen=True)
class FulfillmentSettings:
    """The fulfillment handler (``settings.fulfillment``)."""

    max_attempts: int = 8
    """With the first wait doubling, eight tries span about two minutes at the defaults
    (1 + 2 + ... + 64 s): a passing outage is ridden out, a lasting fault becomes a dead letter
    someone looks at instead of a retry that goes on for days."""
    retry_base: float = _MAX_RETRY_BASE
    """First wait before a failed event or write is tried again, and how often the idle handler
    looks for retries that fell due: the poll interval, at most a second, so a failure is
    retried about when the next events would be read anyway."""


@dataclass(frozen=True)
class OrdersAuditSettings:
    """The orders audit (``settings.orders_audit``)."""

    interval: float = 3600.0
    """Hourly, like the catalog audit: a missed event costs at most an hour of uncaptured money,
    and the audit's reads (a few list pages per hundred orders) stay a small share of the rate
    budget. 0 turns the daemon's audit off (``orders audit`` still works by hand)."""
    grace: float = 3600.0
    """A shipment, an accepted order or a finished order is given an hour before it counts: the
    daemon handles events within seconds, so anything older was missed, not merely queued."""
    days: float = 7.0
    """Orders created in the last week: the span in which a missed event still matters to
    finance, well inside the 30 days the API keeps events."""


@dataclass(frozen=True)
class RequestSettings:
    """Merchant request files (``settings.merchant_requests``)."""

    folder: Path = Path("requests")
    """Relative to the working folder, as the catalogs folder is."""
    max_bytes: int = 1_048_576
    """A request file holds rows of ids and quantities; a mebibyte is thousands of them, and a
    larger file is a mistake that should not be read into memory."""
    settle_ms: int = CatalogSettings.settle_ms
    """The one settle time of both watched folders (see :attr:`CatalogSettings.settle_ms`)."""
    reports: Path = CatalogSettings.reports
    """The orders report goes beside the reconcile reports: one folder to look in."""


@dataclass(frozen=True)
class DaemonSettings:
    """What belongs to the ``run`` process itself (``settings.daemon``)."""

    stop_timeout: float = 20.0
    """Writes in flight get their answers (most within a second) and the unit's
    ``TimeoutStopSec`` (30 s) still sees a clean exit rather than a kill."""
    metrics_port: int | None = None
    """Off: a port is opened only when an operator asks for one."""
    lease_seconds: float = 15.0
    """How long a leader's lease runs without renewal: a standby takes over about this long
    after the leader died, and a leader that cannot renew stops acting before then. Fifteen
    seconds, renewed every five, ride out a slow database answer without a needless failover
    (the value client-go's leader election uses)."""
    instance_name: str = ""
    """This process's name in the lease, ``status`` and the User-Agent; empty means
    ``<hostname>-<pid>`` on PostgreSQL, ``<hostname>`` on SQLite (one daemon)."""


@dataclass(frozen=True)
class NotifySettings:
    """Where notifications go besides the state database (``settings.notify``)."""

    jsonl: Path | None = None
    """Off: nothing is written outside the state unless asked."""
    webhooks: tuple[SecretStr, ...] = ()
    """None: nothing is sent to another host unless asked."""


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
    api_base: str = Field(default=ApiSettings.base_url, description="Base URL of the API.")
    rate_limit: float | None = Field(
        default=None,
        gt=0,
        le=1_000_000,
        description="Requests/s for the whole process; default 25 for sk_test_ keys, 250 live.",
    )
    max_concurrency: int = Field(
        default=ApiSettings.max_concurrency,
        ge=1,
        le=1000,
        description="Requests in flight at once.",
    )
    request_timeout: Seconds = Field(
        default=ApiSettings.request_timeout, description="Seconds before a call times out."
    )
    retry_attempts: int = Field(
        default=ApiSettings.retry_attempts,
        ge=1,
        le=100,
        description="Tries per call, first included.",
    )
    retry_initial_backoff: Seconds = Field(
        default=ApiSettings.retry_initial_backoff, description="First backoff, seconds."
    )
    retry_max_backoff: Seconds = Field(
        default=ApiSettings.retry_max_backoff, description="Longest backoff, seconds."
    )
    retry_jitter: float = Field(
        default=ApiSettings.retry_jitter,
        ge=0,
        le=10,
        description="Random share added to a backoff.",
    )

    # -- catalog ----------------------------------------------------------------------------
    catalogs: Path = Field(default=CatalogSettings.folder, description="Folder of catalog files.")
    state: Path | str = Field(
        default=Path("state/catalog-sync.db"),
        description="SQLite state database (a path), or a postgresql:// URL shared by several "
        "instances.",
    )
    state_password_file: Path | None = Field(
        default=None,
        description="File holding the PostgreSQL password when the URL has none (else "
        "PGPASSWORD, .pgpass, or the systemd credential state-password).",
    )
    reports: Path = Field(
        default=CatalogSettings.reports, description="Folder of reconcile reports."
    )
    reports_keep: int = Field(
        default=CatalogSettings.reports_keep,
        ge=1,
        le=100_000,
        description="Reports kept before pruning.",
    )
    max_delete: float = Field(
        default=CatalogSettings.max_delete,
        ge=0,
        le=100,
        description="Largest share (%) of pairs --prune may delete.",
    )

    # -- catalog file limits: a file over one is a fatal problem of that file, found while
    # streaming it, so no file can hold the daemon's memory or its event loop ----------------
    catalog_max_file_bytes: int = Field(
        default=DEFAULT_LIMITS.file_bytes, ge=1, description="Largest catalog file, in bytes."
    )
    catalog_max_line_chars: int = Field(
        default=DEFAULT_LIMITS.line_chars,
        ge=1,
        description="Longest line of a CSV/JSONL catalog, CSV row or JSON record, in characters.",
    )
    catalog_max_field_chars: int = Field(
        default=DEFAULT_LIMITS.field_chars,
        ge=1,
        le=131072,
        description="Longest CSV cell or JSON string of a catalog, in characters (at most 131072).",
    )

    # -- daemon -----------------------------------------------------------------------------
    audit_interval: Seconds = Field(
        default=CatalogSettings.audit_interval, description="Seconds between full audits."
    )
    debounce_ms: int = Field(
        default=CatalogSettings.debounce_ms,
        ge=1,
        le=_HOUR_MS,
        description="Quiet time before a change applies.",
    )
    settle_ms: int = Field(
        default=CatalogSettings.settle_ms,
        ge=0,
        le=_HOUR_MS,
        description="A file must be unchanged this long.",
    )
    poll_interval: Seconds = Field(
        default=EventSettings.poll_interval, description="Seconds between event polls."
    )
    orders_audit_interval: Annotated[float, Field(ge=0, le=_YEAR)] = Field(
        default=OrdersAuditSettings.interval,
        description="Seconds between the daemon's orders audits (0: off).",
    )
    orders_audit_grace: Annotated[float, Field(ge=0, le=_YEAR)] = Field(
        default=OrdersAuditSettings.grace,
        description="Seconds a shipment, accepted order or finished order waits before the "
        "orders audit counts it.",
    )
    orders_audit_days: Annotated[float, Field(gt=0, le=365)] = Field(
        default=OrdersAuditSettings.days,
        description="The orders audit looks at orders created in the last this many days.",
    )
    requests: Path = Field(
        default=RequestSettings.folder, description="Folder of merchant request files."
    )
    handler_max_attempts: int = Field(
        default=FulfillmentSettings.max_attempts,
        ge=1,
        le=1000,
        description="Tries before dead letter.",
    )
    event_overlap_seconds: Seconds = Field(
        default=EventSettings.overlap_seconds,
        description="Re-read events this far behind the newest seen (late, out-of-order events).",
    )
    event_retention_warn_days: Annotated[float, Field(gt=0, lt=30)] = Field(
        default=EventSettings.retention_warn_days,
        description="Warn when event handling lags this many days (the API keeps 30 days).",
    )
    events_start: str | None = Field(
        default=EventSettings.start,
        description="First start only: act on events after `now`, an ISO time (UTC unless an "
        "offset is given), or `retained` (all the API keeps, 30 days); required with a live key.",
    )
    notify_jsonl: Path | None = Field(
        default=NotifySettings.jsonl, description="JSONL file notifications are appended to."
    )
    notify_webhooks: list[SecretStr] = Field(
        default_factory=list,
        description="URLs notifications are POSTed to as JSON (retried); a JSON list in env.",
    )
    metrics_port: int | None = Field(
        default=DaemonSettings.metrics_port,
        ge=0,
        le=65535,
        description="Loopback port for /healthz and /metrics.",
    )
    lease_seconds: float = Field(
        default=DaemonSettings.lease_seconds,
        ge=1,
        le=3600,
        description="Leader lease, seconds; renewed every third of it (several instances).",
    )
    instance_name: str = Field(
        default=DaemonSettings.instance_name,
        max_length=100,
        pattern=r"^[A-Za-z0-9._-]*$",
        description="This instance's name in the lease, status and User-Agent; "
        "default <hostname>-<pid> (PostgreSQL) or <hostname> (SQLite).",
    )
    stop_timeout: Seconds = Field(
        default=DaemonSettings.stop_timeout, description="Seconds to finish on SIGTERM."
    )

    # -- merchant request files -------------------------------------------------------------
    request_max_bytes: int = Field(
        default=RequestSettings.max_bytes,
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

    @field_validator("events_start", mode="before")
    @classmethod
    def _check_events_start(cls, value: Any) -> Any:
        """``now``, ``retained`` or a time, normalised to a stored time (UTC)."""
        return events_start_of(value) if isinstance(value, str) else value

    @field_validator(
        "api_key_file",
        "catalogs",
        "state_password_file",
        "reports",
        "requests",
        "notify_jsonl",
        mode="before",
    )
    @classmethod
    def _usable_path(cls, value: Any) -> Any:
        """An empty path means the working folder, a NUL cannot be opened: both are typos."""
        if isinstance(value, str) and (not value or "\x00" in value):
            raise ValueError("must be a non-empty path without NUL characters")
        return value

    @field_validator("state", mode="before")
    @classmethod
    def _state_location(cls, value: Any) -> Any:
        """A ``postgresql://`` URL stays a URL; ``sqlite:///path`` and any other text a path
        (non-empty, without NUL, as every path setting)."""
        if isinstance(value, str):
            if not value or "\x00" in value:
                raise ValueError("must be a non-empty path without NUL characters")
            scheme, separator, rest = value.partition("://")
            if separator and scheme in POSTGRES_URL_SCHEMES:
                return value
            if separator and scheme == "sqlite":
                return Path(rest)
            if separator:
                raise ValueError("must be a path, sqlite:///path or a postgresql:// URL")
            return Path(value)
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
        if isinstance(self.state, str):
            for part in database_url_secrets(self.state):
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
            key = clean_api_key(read_secret_file(path))
        except OSError as exc:
            raise SettingsError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise SettingsError(f"{setting}: {path}: {exc}") from None
        register_secret(key)
        return SecretStr(key)

    @property
    def state_file(self) -> Path | None:
        """The SQLite database file, or ``None`` when the state is a PostgreSQL server: what
        only a file has (its lock, its folder's permissions, whether it exists yet) asks this."""
        return self.state if isinstance(self.state, Path) else None

    def state_password(self) -> str | None:
        """The PostgreSQL password from ``state_password_file`` or the systemd credential
        ``state-password``; ``None`` leaves it to the URL, ``PGPASSWORD`` or ``.pgpass``."""
        path = self.state_password_file
        setting = "state_password_file"
        if path is None and (cred_dir := os.environ.get("CREDENTIALS_DIRECTORY")):
            candidate = Path(cred_dir) / STATE_CREDENTIAL_NAME
            path = candidate if candidate.exists() else None
            setting = f"systemd credential {STATE_CREDENTIAL_NAME}"
        if path is None:
            return None
        try:
            return read_password_file(path)
        except OSError as exc:
            raise SettingsError(f"{setting}: cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:
            raise SettingsError(f"{setting}: {path}: {exc}") from None

    # -- the groups: how components read settings (only `state` is read flat, by open_state) -
    @property
    def api(self) -> ApiSettings:
        """The client's settings; resolving the key, so this raises :class:`SettingsError`
        when there is none (commands that never call the API do not ask for this group)."""
        key = self.resolved_api_key()
        rate = self.rate_limit
        if rate is None:
            rate = TEST_KEY_RATE if is_test_key(key.get_secret_value()) else LIVE_KEY_RATE
        return ApiSettings(
            key=key,
            rate_limit=rate,
            base_url=self.api_base,
            max_concurrency=self.max_concurrency,
            request_timeout=self.request_timeout,
            retry_attempts=self.retry_attempts,
            retry_initial_backoff=self.retry_initial_backoff,
            retry_max_backoff=self.retry_max_backoff,
            retry_jitter=self.retry_jitter,
        )

    @property
    def catalog(self) -> CatalogSettings:
        """The catalog watcher, runs, audit and reports."""
        return CatalogSettings(
            folder=self.catalogs,
            reports=self.reports,
            reports_keep=self.reports_keep,
            max_delete=self.max_delete,
            limits=Limits(
                file_bytes=self.catalog_max_file_bytes,
                line_chars=self.catalog_max_line_chars,
                field_chars=self.catalog_max_field_chars,
            ),
            audit_interval=self.audit_interval,
            debounce_ms=self.debounce_ms,
            settle_ms=self.settle_ms,
        )

    @property
    def events(self) -> EventSettings:
        """The event poller."""
        return EventSettings(
            poll_interval=self.poll_interval,
            overlap_seconds=self.event_overlap_seconds,
            retention_warn_days=self.event_retention_warn_days,
            start=self.events_start,
        )

    @property
    def fulfillment(self) -> FulfillmentSettings:
        """The fulfillment handler; its first retry wait follows the poll interval."""
        return FulfillmentSettings(
            max_attempts=self.handler_max_attempts,
            retry_base=min(self.poll_interval, _MAX_RETRY_BASE),
        )

    @property
    def orders_audit(self) -> OrdersAuditSettings:
        """The orders audit."""
        return OrdersAuditSettings(
            interval=self.orders_audit_interval,
            grace=self.orders_audit_grace,
            days=self.orders_audit_days,
        )

    @property
    def merchant_requests(self) -> RequestSettings:
        """The merchant request folder (``requests`` is the folder's own setting)."""
        return RequestSettings(
            folder=self.requests,
            max_bytes=self.request_max_bytes,
            settle_ms=self.settle_ms,
            reports=self.reports,
        )

    @property
    def daemon(self) -> DaemonSettings:
        """The ``run`` process."""
        return DaemonSettings(
            stop_timeout=self.stop_timeout,
            metrics_port=self.metrics_port,
            lease_seconds=self.lease_seconds,
            instance_name=self.instance_name,
        )

    @property
    def notify(self) -> NotifySettings:
        """The notification sinks."""
        return NotifySettings(jsonl=self.notify_jsonl, webhooks=tuple(self.notify_webhooks))


#: ``events_start`` values that are not a time.
EVENTS_START_NOW: Final = "now"
EVENTS_START_RETAINED: Final = "retained"


def events_start_of(text: str) -> str:
    """``now`` or ``retained`` as they are, or a time as a stored UTC time; else ValueError.

    A time without an offset is UTC, as everywhere in catalog-sync; one in the future would
    act on nothing until then, which is what it says.
    """
    word = text.strip().lower()
    if word in {EVENTS_START_NOW, EVENTS_START_RETAINED}:
        return word
    try:
        moment = datetime.fromisoformat(text.strip())
        return stamp(moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC))
    except (ValueError, OverflowError):  # not a time, or one UTC cannot hold (year 0 or 10000)
        raise ValueError(
            "must be now, retained, or an ISO time such as 2025-01-31T00:00:00Z"
        ) from None


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


def database_url_secrets(url: str) -> list[str]:
    """The password of a ``postgresql://`` URL (user part or ``?password=``), as written and
    decoded, for the redactor: the rest of the URL (user, host, database) is shown freely."""
    parts = urlsplit(url)
    found = [parts.password or ""]
    found += [value for name, value in parse_qsl(parts.query) if name == "password"]
    found += [unquote(value) for value in found]
    return [value for value in found if value]


def read_secret_file(path: Path) -> str:
    """The text of a key or password file; only a small regular file is read (never a FIFO or
    a device)."""
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


def read_password_file(path: Path) -> str:
    """The password in ``path`` without the line break an editor or ``echo`` adds; registered
    with the redactor before anything could show it. OSError or ValueError as
    :func:`read_secret_file`."""
    password = read_secret_file(path).rstrip("\r\n")
    if not password:
        raise ValueError("is empty")
    register_secret(password)
    return password


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
