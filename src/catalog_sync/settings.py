"""Every setting of catalog-sync, from defaults, a TOML file and ``CATALOG_SYNC_*`` variables.

One model so that ``config show``, validation at start and the README's table all describe the
same thing; environment variables override the file, as systemd drop-ins expect.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Final

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PRODUCTION_API: Final = "https://api.digitalriver.com"
DEFAULT_CONFIG_FILE: Final = Path("/etc/catalog-sync/catalog-sync.toml")
#: Reference §4: requests per second per secret key.
TEST_KEY_RATE: Final = 25.0
LIVE_KEY_RATE: Final = 250.0
#: The file name systemd's ``LoadCredential=api-key:...`` gives the key under
#: ``$CREDENTIALS_DIRECTORY``.
CREDENTIAL_NAME: Final = "api-key"

Seconds = Annotated[float, Field(gt=0)]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


class Settings(BaseSettings):
    """The effective configuration. Field docs become the README's configuration table."""

    model_config = SettingsConfigDict(
        env_prefix="CATALOG_SYNC_",
        extra="forbid",
        validate_default=True,
        frozen=True,
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
        description="Requests/s for the whole process; default 25 for sk_test_ keys, 250 live.",
    )
    max_concurrency: int = Field(default=16, ge=1, description="Requests in flight at once.")
    request_timeout: Seconds = Field(default=30.0, description="Seconds before a call times out.")
    retry_attempts: int = Field(default=6, ge=1, description="Tries per call, first included.")
    retry_initial_backoff: Seconds = Field(default=0.5, description="First backoff, seconds.")
    retry_max_backoff: Seconds = Field(default=30.0, description="Longest backoff, seconds.")
    retry_jitter: float = Field(default=0.5, ge=0, description="Random share added to a backoff.")

    # -- catalog ----------------------------------------------------------------------------
    catalogs: Path = Field(default=Path("catalogs"), description="Folder of catalog files.")
    state: Path = Field(default=Path("state/catalog-sync.db"), description="SQLite state database.")
    reports: Path = Field(default=Path("reports"), description="Folder of reconcile reports.")
    reports_keep: int = Field(default=50, ge=1, description="Reports kept before pruning.")
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
    debounce_ms: int = Field(default=50, ge=1, description="Quiet time before a change applies.")
    settle_ms: int = Field(default=200, ge=0, description="A file must be unchanged this long.")
    poll_interval: Seconds = Field(default=5.0, description="Seconds between event polls.")
    requests: Path = Field(
        default=Path("requests"), description="Folder of merchant request files."
    )
    handler_max_attempts: int = Field(default=8, ge=1, description="Tries before dead letter.")
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
    notify_webhooks: list[str] = Field(
        default_factory=list,
        description="URLs notifications are POSTed to as JSON (retried); a JSON list in env.",
    )
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="Loopback port for /healthz and /metrics."
    )
    stop_timeout: Seconds = Field(default=20.0, description="Seconds to finish on SIGTERM.")

    @field_validator("api_base")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _key_sources_exclusive(self) -> Settings:
        if self.api_key is not None and self.api_key_file is not None:
            raise ValueError("set api_key or api_key_file, not both")
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
        if path is None and (cred_dir := os.environ.get("CREDENTIALS_DIRECTORY")):
            candidate = Path(cred_dir) / CREDENTIAL_NAME
            path = candidate if candidate.exists() else None
        if path is None:
            raise SettingsError(
                "no API key: set CATALOG_SYNC_API_KEY or CATALOG_SYNC_API_KEY_FILE "
                f"(or a systemd credential named {CREDENTIAL_NAME!r})"
            )
        try:
            text = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"api_key_file: cannot read {path}: {exc.strerror}") from None
        if not text:
            raise SettingsError(f"api_key_file: {path} is empty")
        return SecretStr(text)

    def effective_rate_limit(self) -> float:
        """Requests per second for this key: the setting, else the API's limit for the key."""
        if self.rate_limit is not None:
            return self.rate_limit
        is_test = self.resolved_api_key().get_secret_value().startswith("sk_test_")
        return TEST_KEY_RATE if is_test else LIVE_KEY_RATE


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
    _config_file_var["path"] = config_file
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        source = f" (from {config_file} and CATALOG_SYNC_* variables)" if config_file else ""
        raise SettingsError(f"invalid configuration{source}: {problems}") from None
    finally:
        _config_file_var["path"] = None
