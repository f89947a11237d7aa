"""``catalog-sync run``: the long-running parts side by side in one event loop.

Wiring only. The daemon holds the instance lock (SQLite) or joins the deployment sharing a
PostgreSQL state, opens the state database and the one client (one rate budget for every
part). It serves ``/healthz`` and ``/metrics`` at once, as a standby; only while it holds the
leader lease (:mod:`catalog_sync.daemon.leadership`) does it run the services: each
:class:`~catalog_sync.daemon.service.Service` is started as a task when it becomes leader and
cancelled when it loses the lease (the state's fence and the client's write guard refuse
whatever a cancelled task still tries), generically for every service, however added
(supervised: a service that fails is logged and started again, the others keep serving), and
owns what belongs to the process: signals (SIGTERM/SIGINT stop, SIGHUP reloads the
configuration), systemd notifications and the watchdog, the metrics endpoint, and the stop
timeout. READY=1 is sent once the lock is held, the state is open and every service has been
started; the start-up reconcile is then under way, so a long first sync never trips systemd's
start timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from catalog_sync.catalog.reconcile import Reconciler
from catalog_sync.catalog.runs import AuditService, CatalogRuns
from catalog_sync.catalog.watcher import CatalogCache, CatalogWatcher
from catalog_sync.daemon.instance_lock import DAEMON_COMMAND, InstanceLock
from catalog_sync.daemon.leadership import Change, Leadership, default_instance_name
from catalog_sync.daemon.service import Service
from catalog_sync.daemon.systemd_notify import SystemdNotifier, watchdog_interval
from catalog_sync.dr import DigitalRiverClient
from catalog_sync.state import NotificationRecord, StateBackend, StateError, open_state
from catalog_sync.support.clock import now_stamp
from catalog_sync.support.logs import get_logger
from catalog_sync.support.metrics import Metrics, MetricsServer, bind_metrics_socket, metrics_routes
from catalog_sync.support.notifications import Notifier
from catalog_sync.support.settings import Settings, SettingsError
from catalog_sync.support.waits import wait_any

log = get_logger("daemon")

#: A failed service is started again after this pause, doubled at each failure in a row...
RESTART_DELAY: Final = 1.0
#: ...up to this; a service that then ran this long without failing starts over from the first.
RESTART_DELAY_MAX: Final = 60.0

#: Settings a SIGHUP applies to the running daemon; any other change needs a restart (the
#: client, the state database, the folders and the metrics port are opened once). Each is
#: read by a running service from its group, which the service's ``reconfigure`` replaces.
LIVE_SETTINGS: Final = frozenset(
    {
        "audit_interval",  # the audit
        "debounce_ms",  # the catalog watcher
        "settle_ms",  # the catalog watcher and the request transmitter
        "poll_interval",  # the poller; the handler's first retry wait follows it
        "handler_max_attempts",  # the handler
        "request_max_bytes",  # the request transmitter
        "stop_timeout",  # the daemon itself
    }
)

#: Hands one running service its group of the settings after a reload, e.g.
#: ``lambda s: poller.reconfigure(s.events)``.
Reconfigure = Callable[[Settings], None]


@dataclass(frozen=True)
class DaemonContext:
    """What a service added to the daemon is built from."""

    settings: Settings
    client: DigitalRiverClient
    store: StateBackend
    metrics: Metrics
    reconfigures: list[Reconfigure] = field(default_factory=list)

    def on_reload(self, reconfigure: Reconfigure) -> None:
        """Have ``reconfigure`` called with the running settings after each SIGHUP that
        validates: a service registers the call that hands it its own group."""
        self.reconfigures.append(reconfigure)


#: Builds one extra service (the event poller, the request transmitter) from the context.
ServiceFactory = Callable[[DaemonContext], Service]


def validate(settings: Settings) -> None:
    """Check at start (and on reload) what the settings model cannot: key and folders."""
    settings.resolved_api_key()
    folder = settings.catalog.folder
    if not folder.is_dir():
        raise SettingsError(f"catalogs: {folder} is not an existing folder")


class Daemon:
    """One ``catalog-sync run`` process."""

    def __init__(
        self,
        settings: Settings,
        *,
        reload: Callable[[], Settings],
        services: Sequence[ServiceFactory] = (),
        notifier: SystemdNotifier | None = None,
        restart_delay: float = RESTART_DELAY,
    ) -> None:
        """``reload`` builds fresh settings on SIGHUP; ``services`` adds parts to the loop;
        ``restart_delay`` is the first pause before a failed service is started again."""
        self._settings = settings
        self._reload_settings = reload
        self._reconfigures: list[Reconfigure] = []
        self._factories = tuple(services)
        self._notifier = notifier or SystemdNotifier()
        self._restart_delay = restart_delay
        self._stop = asyncio.Event()
        self._services: list[Service] = []
        self._extras: list[Service] = []
        self._tasks: dict[asyncio.Task[None], Service] = {}
        self._metrics_socket: socket.socket | None = None
        self._leadership: Leadership | None = None
        #: Failures of each service so far, and the services waiting to be started again.
        self.restarts: Counter[str] = Counter()
        self._down: set[str] = set()

    def run(self) -> int:
        """Take the lock (or raise AlreadyRunningError), serve until stopped; the exit code.

        The metrics port is bound right after the lock, before anything starts: a busy port
        raises :class:`~catalog_sync.support.metrics.MetricsPortError` (exit 2) before READY=1 and
        before "daemon started".
        """
        with InstanceLock(self._settings.state, command=DAEMON_COMMAND):
            port = self._settings.daemon.metrics_port
            self._metrics_socket = None if port is None else bind_metrics_socket(port)
            try:
                return asyncio.run(self._main())
            finally:
                if self._metrics_socket is not None:
                    self._metrics_socket.close()

    async def _main(self) -> int:
        settings = self._settings
        name = settings.daemon.instance_name or default_instance_name()
        with open_state(settings) as store:
            if settings.state_file is not None:
                # The file's lock is held: whoever held the lease before is gone.
                previous = store.lease()
                if previous.holder is not None:
                    store.release_lease(previous.holder, previous.epoch)
            async with DigitalRiverClient.from_settings(settings.api, instance=name) as client:
                metrics = Metrics()
                client.on_response.append(metrics.observe_api_call)
                leadership = Leadership(
                    store, name=name, lease_seconds=settings.daemon.lease_seconds, metrics=metrics
                )
                client.write_guard = leadership.check
                self._leadership = leadership
                self._announcer = Notifier.from_settings(settings.notify)
                context = DaemonContext(settings, client, store, metrics)
                try:
                    return await self._serve(context)
                finally:
                    leadership.release()
                    await self._announcer.aclose()

    async def _serve(self, context: DaemonContext) -> int:
        catalog = context.settings.catalog
        reconciler = Reconciler(
            context.client,
            context.store,
            catalogs=catalog.folder,
            reports=catalog.reports,
            reports_keep=catalog.reports_keep,
            limits=catalog.limits,
        )
        cache = CatalogCache(catalog.folder, catalog.limits)
        self._runs = CatalogRuns(
            reconciler, context.store, cache, context.metrics, on_finished=self._publish_status
        )
        watcher = CatalogWatcher(
            catalog, apply=self._runs.files_changed, startup=self._runs.startup
        )
        audit = AuditService(self._runs, catalog)
        context.on_reload(lambda s: watcher.reconfigure(s.catalog))
        context.on_reload(lambda s: audit.reconfigure(s.catalog))
        self._extras = [factory(context) for factory in self._factories]
        self._reconfigures = context.reconfigures
        self._services = [watcher, audit, *self._extras]
        loop = asyncio.get_running_loop()
        self._install_signals(loop)
        self._store = context.store
        await self._renew()
        helpers = [asyncio.create_task(self._watchdog())]
        server = None
        if self._metrics_socket is not None:
            server = MetricsServer(
                metrics_routes(context.metrics, self._health), self._metrics_socket
            )
            helpers.append(asyncio.create_task(server.serve()))
        self._notifier.ready(self._status_text())
        log.info(
            "daemon started",
            services=[s.name for s in self._services],
            catalogs=str(catalog.folder),
            metrics_port=None if server is None else server.port,
            instance=self._lead().name,
            role=self._lead().role,
        )
        failed = await self._until_stopped()
        await self._shutdown()
        if server is not None:
            server.close()
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

    async def _supervised(self, service: Service) -> None:
        """Run ``service`` until it returns; each failure is logged and it is started again.

        No input (a file, a row, an event) may stop the daemon: a service that meets one it
        cannot handle fails alone, says so with its traceback, and serves again after a pause
        that grows while it keeps failing, so a persistent fault does not spin.
        """
        loop = asyncio.get_running_loop()
        delay = self._restart_delay
        while not self._stop.is_set():
            started = loop.time()
            try:
                await service.run(self._stop)
            except Exception:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    # Cancelled (the lease was lost) and the service failed while stopping:
                    # the fence refused its last commit, say. It must not start again.
                    raise asyncio.CancelledError from None
                self.restarts[service.name] += 1
                if loop.time() - started >= RESTART_DELAY_MAX:
                    delay = self._restart_delay
                log.exception(
                    "service failed; starting it again", service=service.name, seconds=delay
                )
            else:
                return
            self._down.add(service.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)
            self._down.discard(service.name)
            delay = min(delay * 2, RESTART_DELAY_MAX)

    async def _until_stopped(self) -> bool:
        """Renew the lease, lead or stand by, until a stop signal or a service ending
        abnormally; whether one did.

        The lease is asked for every third of its duration, and sooner when the local
        deadline comes first (a leader whose renewals fail steps down at its deadline).
        Supervised services end only when they return; what still ends one here (cancelled
        by anything but a change of role, or a ``BaseException`` no supervisor should catch)
        stops the daemon.
        """
        stopper = asyncio.create_task(wait_any(self._stop))
        failed = False
        while not self._stop.is_set():
            leadership = self._lead()
            wait = leadership.ask_every
            if leadership.acting:
                wait = min(wait, leadership.seconds_left())
            running = {t for t in self._tasks if not t.done()}
            done, _ = await asyncio.wait(
                running | {stopper}, timeout=wait, return_when=asyncio.FIRST_COMPLETED
            )
            for task in done - {stopper}:
                if task.cancelled() or task.exception() is not None:
                    failed = True
                    log.error(
                        "service failed; stopping",
                        service=self._tasks[task].name,
                        error=None if task.cancelled() else repr(task.exception()),
                    )
                    self._stop.set()
            if not self._stop.is_set() and not done:
                await self._renew()
        stopper.cancel()
        return failed

    # -- leadership ------------------------------------------------------------------------
    def _lead(self) -> Leadership:
        assert self._leadership is not None
        return self._leadership

    async def _renew(self) -> None:
        """Ask for the lease; start the services on becoming leader, cancel them on losing
        the lease (a new term of this same instance restarts them)."""
        change = self._lead().renew()
        if change is None:
            return
        if self._tasks:
            await self._end_term()
        if change.became_leader:
            self._tasks = {
                asyncio.create_task(self._supervised(s), name=s.name): s for s in self._services
            }
        await self._announce(change)

    async def _end_term(self) -> None:
        """Cancel every service at once; the fence and the write guard refuse the rest."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = {}
        self._down.clear()

    async def _announce(self, change: Change) -> None:
        """Log and notify a change of role (kind ``leadership``)."""
        name = self._lead().name
        if change.became_leader:
            taken = "" if change.taken_from is None else f" from {change.taken_from}"
            message = f"instance {name} took the lease (epoch {change.epoch}){taken}"
            log.info(
                "leadership taken", instance=name, epoch=change.epoch, taken_from=change.taken_from
            )
        else:
            message = f"instance {name} lost the lease (epoch {change.epoch}); standing by"
            log.warning("leadership lost", instance=name, epoch=change.epoch)
        record = NotificationRecord(now_stamp(), "leadership", message, None, None)
        try:
            self._store.add_notifications([record])
        except StateError as exc:
            log.warning("leadership notice not stored", error=str(exc))
        await self._announcer.notify(record)

    async def _shutdown(self) -> None:
        """Let services finish in-flight work for ``stop_timeout``, then cancel the rest."""
        self._stop.set()
        self._notifier.stopping()
        timeout = self._settings.daemon.stop_timeout
        if not self._tasks:
            return  # a standby has nothing in flight
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
        """SIGHUP: re-read and re-validate; on error keep the running configuration.

        Otherwise the live settings that changed replace the running ones and every service is
        handed its group again; any other change is only logged, as needing a restart.
        """
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
        for reconfigure in self._reconfigures:
            reconfigure(self._settings)
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
        alive = {s.name: not t.done() and s.name not in self._down for t, s in self._tasks.items()}
        leadership = self._lead()
        return {
            "ok": all(alive.values()) and not self._stop.is_set(),
            "role": leadership.role,
            "instance": leadership.name,
            "epoch": leadership.epoch,
            "services": {s.name: s.status_line() for s in self._tasks.values()},
            "alive": alive,
            "restarts": dict(self.restarts),
            "last_run": self._runs.status_line(),
        }
