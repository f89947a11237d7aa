"""``catalog-sync run``: the long-running parts side by side in one event loop.

Wiring only. The daemon holds the instance lock, opens the state database and the one client
(one rate budget for every part), starts each :class:`~catalog_sync.service.Service` as a task,
and owns what belongs to the process: signals (SIGTERM/SIGINT stop, SIGHUP reloads the
configuration), systemd notifications and the watchdog, the metrics endpoint, and the stop
timeout. READY=1 is sent once the lock is held, the state is open and every service has been
started; the start-up reconcile is then under way, so a long first sync never trips systemd's
start timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol, runtime_checkable

from catalog_sync.audit import AuditService, CatalogRuns
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.instance_lock import InstanceLock
from catalog_sync.logs import get_logger
from catalog_sync.metrics import Metrics, metrics_app, metrics_server
from catalog_sync.reconcile import Reconciler
from catalog_sync.service import Service
from catalog_sync.settings import Settings, SettingsError
from catalog_sync.state import StateBackend, open_state
from catalog_sync.systemd_notify import SystemdNotifier, watchdog_interval
from catalog_sync.watch import CatalogCache, CatalogWatcher, wait_any

log = get_logger("daemon")

#: Settings a SIGHUP applies to the running daemon; any other change needs a restart (the
#: client, the state database, the folders and the metrics port are opened once).
LIVE_SETTINGS: Final = frozenset(
    {
        "audit_interval",
        "debounce_ms",
        "settle_ms",
        "poll_interval",
        "handler_max_attempts",
        "stop_timeout",
    }
)


@dataclass(frozen=True)
class DaemonContext:
    """What a service added to the daemon is built from."""

    settings: Settings
    client: DigitalRiverClient
    store: StateBackend
    metrics: Metrics


#: Builds one extra service (the event poller, the request transmitter) from the context.
ServiceFactory = Callable[[DaemonContext], Service]


@runtime_checkable
class Reconfigurable(Protocol):
    """A service that takes new settings on SIGHUP (only :data:`LIVE_SETTINGS` change)."""

    def apply_settings(self, settings: Settings) -> None:
        """Adopt the new settings from the next iteration on."""


def validate(settings: Settings) -> None:
    """Check at start (and on reload) what the settings model cannot: key and folders."""
    settings.resolved_api_key()
    if not settings.catalogs.is_dir():
        raise SettingsError(f"catalogs: {settings.catalogs} is not an existing folder")


class Daemon:
    """One ``catalog-sync run`` process."""

    def __init__(
        self,
        settings: Settings,
        *,
        reload: Callable[[], Settings],
        services: Sequence[ServiceFactory] = (),
        notifier: SystemdNotifier | None = None,
    ) -> None:
        """``reload`` builds fresh settings on SIGHUP; ``services`` adds parts to the loop."""
        self._settings = settings
        self._reload_settings = reload
        self._factories = tuple(services)
        self._notifier = notifier or SystemdNotifier()
        self._stop = asyncio.Event()
        self._services: list[Service] = []
        self._extras: list[Service] = []
        self._tasks: dict[asyncio.Task[None], Service] = {}

    def run(self) -> int:
        """Take the lock (or raise AlreadyRunningError), serve until stopped; the exit code."""
        with InstanceLock(self._settings.state):
            return asyncio.run(self._main())

    async def _main(self) -> int:
        settings = self._settings
        with open_state(settings) as store:
            async with DigitalRiverClient.from_settings(settings) as client:
                metrics = Metrics()
                client.on_response.append(metrics.observe_api_call)
                context = DaemonContext(settings, client, store, metrics)
                return await self._serve(context)

    async def _serve(self, context: DaemonContext) -> int:
        settings = context.settings
        reconciler = Reconciler(
            context.client,
            context.store,
            catalogs=settings.catalogs,
            reports=settings.reports,
            reports_keep=settings.reports_keep,
        )
        cache = CatalogCache(settings.catalogs)
        self._runs = CatalogRuns(
            reconciler, context.store, cache, context.metrics, on_finished=self._publish_status
        )
        self._watcher = CatalogWatcher(
            settings.catalogs,
            apply=self._runs.files_changed,
            startup=self._runs.startup,
            debounce_ms=settings.debounce_ms,
            settle_ms=settings.settle_ms,
        )
        self._audit = AuditService(self._runs, interval=settings.audit_interval)
        self._extras = [factory(context) for factory in self._factories]
        self._services = [self._watcher, self._audit, *self._extras]
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        self._tasks = {
            asyncio.create_task(s.run(self._stop), name=s.name): s for s in self._services
        }
        helpers = [asyncio.create_task(self._watchdog())]
        server = None
        if settings.metrics_port is not None:
            server = metrics_server(
                metrics_app(context.metrics, self._health), settings.metrics_port
            )
            helpers.append(asyncio.create_task(server.serve()))
        self._notifier.ready(self._status_text())
        log.info(
            "daemon started",
            services=[s.name for s in self._services],
            catalogs=str(settings.catalogs),
            metrics_port=settings.metrics_port,
        )
        failed = await self._until_stopped()
        await self._shutdown()
        if server is not None:
            server.should_exit = True
        for helper in helpers[1:]:
            await helper
        helpers[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await helpers[0]
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("daemon stopped", failed=failed)
        return 1 if failed else 0

    # -- lifecycle -------------------------------------------------------------------------
    def _install_signals(self, loop: asyncio.AbstractEventLoop) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self._on_stop_signal, sig)
        loop.add_signal_handler(signal.SIGHUP, self._reload)

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        log.info("stop requested", signal=sig.name)
        self._stop.set()

    async def _until_stopped(self) -> bool:
        """Wait for a stop signal or a service failing; whether one failed."""
        stopper = asyncio.create_task(wait_any(self._stop))
        running = set(self._tasks)
        failed = False
        while running and not self._stop.is_set():
            done, running = await asyncio.wait(
                running | {stopper}, return_when=asyncio.FIRST_COMPLETED
            )
            running.discard(stopper)
            for task in done - {stopper}:
                if task.cancelled() or task.exception() is not None:
                    failed = True
                    log.error(
                        "service failed; stopping",
                        service=self._tasks[task].name,
                        error=None if task.cancelled() else repr(task.exception()),
                    )
                    self._stop.set()
        stopper.cancel()
        return failed

    async def _shutdown(self) -> None:
        """Let services finish in-flight work for ``stop_timeout``, then cancel the rest."""
        self._stop.set()
        self._notifier.stopping()
        timeout = self._settings.stop_timeout
        _done, pending = await asyncio.wait(self._tasks, timeout=timeout)
        if pending:
            log.warning(
                "stop timeout reached; abandoning in-flight work",
                services=sorted(self._tasks[t].name for t in pending),
                seconds=timeout,
            )
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _watchdog(self) -> None:
        """Ping from the event loop itself: a stuck loop stops pinging and systemd restarts."""
        interval = watchdog_interval()
        if interval is None:
            return
        while True:
            self._notifier.watchdog()
            await asyncio.sleep(interval)

    # -- reload ----------------------------------------------------------------------------
    def _reload(self) -> None:
        """SIGHUP: re-read and re-validate; on error keep the running configuration."""
        self._notifier.reloading()
        try:
            new = self._reload_settings()
            validate(new)
        except SettingsError as exc:
            log.error(  # noqa: TRY400 - the message names the setting; a traceback adds nothing
                "configuration reload failed; keeping the running configuration", error=str(exc)
            )
            self._notifier.ready(self._status_text())
            return
        old = self._settings
        changed = {
            name for name in Settings.model_fields if getattr(new, name) != getattr(old, name)
        }
        if restart := sorted(changed - LIVE_SETTINGS):
            log.warning("these settings take effect after a restart", settings=restart)
        self._settings = old.model_copy(
            update={name: getattr(new, name) for name in changed & LIVE_SETTINGS}
        )
        self._watcher.reconfigure(debounce_ms=new.debounce_ms, settle_ms=new.settle_ms)
        self._audit.reconfigure(interval=new.audit_interval)
        for service in self._services:
            if isinstance(service, Reconfigurable):
                service.apply_settings(self._settings)
        log.info("configuration reloaded", changed=sorted(changed & LIVE_SETTINGS))
        self._notifier.ready(self._status_text())

    # -- reporting -------------------------------------------------------------------------
    def _status_text(self) -> str:
        parts = [self._runs.status_line()]
        parts.extend(s.status_line() for s in self._extras)
        return "; ".join(parts)

    def _publish_status(self, *_result: object) -> None:
        self._notifier.status(self._status_text())

    def _health(self) -> dict[str, object]:
        alive = {self._tasks[t].name: not t.done() for t in self._tasks}
        return {
            "ok": all(alive.values()) and not self._stop.is_set(),
            "services": {s.name: s.status_line() for s in self._services},
            "alive": alive,
            "last_run": self._runs.status_line(),
        }
