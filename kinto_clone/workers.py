"""Several server processes behind one listening socket (``kinto start --workers N``).

waitress serves requests on Python threads, so one process uses one core however
many the machine has.  The parent process here binds the listening sockets, builds
the application once (so that a bad configuration fails before anything forks),
closes its database connections, and forks ``N`` workers that all accept on the
same sockets: the kernel spreads connections among them.  The parent only
supervises: a worker that dies is replaced, and ``SIGTERM``/``SIGINT`` stop them
all.  Workers share nothing but the database, which is why the memory backends
(whose data lives in each process) are refused.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping
from typing import Any

import waitress
from waitress.adjustments import Adjustments

from kinto_clone.core.live.hub import CONCURRENT_READS
from kinto_clone.core.live.serving import ParkingMap

logger = logging.getLogger(__name__)

WORKERS_OPTION = "workers"
# A worker that dies sooner than this after its start counts as a failed start;
# that many in a row mean the workers cannot run at all.
QUICK_DEATH_SECONDS = 2.0
MAX_QUICK_DEATHS = 5
STOP_TIMEOUT_SECONDS = 10.0
# Connections PostgreSQL keeps for itself and for tools (psql, migrations).
CONNECTION_HEADROOM = 5


class WorkersError(Exception):
    """A ``--workers`` set-up the operator must change; printed as one line."""


def worker_count(value: str | int | None) -> int:
    """``--workers`` or ``[server:main] workers``; 1 when neither is given."""
    if value in (None, ""):
        return 1
    try:
        count = int(value)
    except (TypeError, ValueError):
        raise WorkersError(f"workers = {value!r} is not a whole number") from None
    if count < 1:
        raise WorkersError(f"workers = {count}: at least one worker is needed")
    return count


def refuse_per_process_backends(registry: Any, count: int) -> None:
    """Memory backends keep their data in each process: N workers would be N servers."""
    for kind in ("storage", "permission", "cache"):
        backend = getattr(registry, kind, None)
        if backend is not None and type(backend).__module__.endswith(".memory"):
            raise WorkersError(
                f"--workers {count}: the memory {kind} backend keeps its data inside one "
                "process; use the SQLite or PostgreSQL backends, or a single worker"
            )


def pool_defaults(
    settings: Mapping[str, str], count: int, threads: int, max_connections: int | None
) -> dict[str, str]:
    """Pool settings keeping ``count`` workers under PostgreSQL's ``max_connections``.

    A request holds one connection, so a worker needs ``threads`` of them, plus
    one per concurrent read of its live subscribers (whose threads come on top
    of ``threads``: :data:`~kinto_clone.core.live.hub.CONCURRENT_READS`);
    settings the operator gave win.  With ``max_connections`` known, the share
    of each worker is capped so that all of them together leave some headroom.
    """
    per_worker = threads + CONCURRENT_READS
    if max_connections is not None:
        budget = max(count, max_connections - CONNECTION_HEADROOM)
        per_worker = max(1, min(per_worker, budget // count))
    defaults: dict[str, str] = {}
    for kind in ("storage", "permission", "cache"):
        if not settings.get(f"{kind}_pool_size"):
            defaults[f"{kind}_pool_size"] = str(per_worker)
        if not settings.get(f"{kind}_max_overflow"):
            defaults[f"{kind}_max_overflow"] = "0"
    return defaults


def bind_sockets(options: Mapping[str, Any]) -> list[socket.socket]:
    """The listening sockets waitress would bind for ``options``, bound here once."""
    if options.get("unix_socket"):
        raise WorkersError("--workers is not supported with unix_socket; listen on TCP")
    adjustments = Adjustments(**options)
    sockets = []
    for family, socktype, proto, sockaddr in adjustments.listen:
        sock = socket.socket(family, socktype, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        try:
            sock.bind(sockaddr)
        except OSError as error:
            sock.close()
            raise WorkersError(f"cannot listen on {sockaddr[0]}:{sockaddr[1]}: {error}") from None
        sock.listen(adjustments.backlog)
        sockets.append(sock)
    return sockets


def _server_options(options: Mapping[str, Any], sockets: list[socket.socket]) -> dict[str, Any]:
    served = {k: v for k, v in options.items() if k not in ("host", "port", "listen")}
    served["sockets"] = sockets
    return served


class Supervisor:
    """Forks the workers, replaces the ones that die, stops them all on a signal."""

    def __init__(
        self,
        app: Callable[..., Any],
        options: Mapping[str, Any],
        sockets: list[socket.socket],
        count: int,
        before_fork: Callable[[], None],
    ) -> None:
        self.app = app
        self.options = _server_options(options, sockets)
        self.count = count
        self.before_fork = before_fork
        self.children: dict[int, float] = {}
        self.stopping = False
        self.quick_deaths = 0

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        self.before_fork()
        for _ in range(self.count):
            self._spawn()
        while self.children:
            try:
                pid, status = os.wait()
            except ChildProcessError:
                break
            except InterruptedError:
                continue
            started = self.children.pop(pid, None)
            if started is None or self.stopping:
                continue
            self._on_death(pid, status, started)
            if self.quick_deaths >= MAX_QUICK_DEATHS:
                logger.error("Workers keep dying at start-up; stopping.")
                self._stop_children()
                return 1
            self._spawn()
        return 0

    def _on_death(self, pid: int, status: int, started: float) -> None:
        if time.monotonic() - started < QUICK_DEATH_SECONDS:
            self.quick_deaths += 1
            time.sleep(min(2.0, 0.1 * 2**self.quick_deaths))
        else:
            self.quick_deaths = 0
        logger.warning("Worker %s exited (%s); starting another.", pid, _describe_status(status))

    def _spawn(self) -> None:
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = self._serve()
            finally:
                os._exit(code)
        self.children[pid] = time.monotonic()

    def _serve(self) -> int:
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, _exit_worker)
        try:
            server = waitress.create_server(self.app, map=ParkingMap(), **self.options)
            server.run()
        except SystemExit as stop:
            return stop.code if isinstance(stop.code, int) else 0
        except Exception:
            logger.exception("Worker %s failed", os.getpid())
            return 1
        return 0

    def _stop(self, signum: int, frame: object) -> None:
        self.stopping = True
        self._stop_children()

    def _stop_children(self) -> None:
        self.stopping = True
        for pid in list(self.children):
            _signal(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while self.children and time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                self.children.clear()
                break
            if pid:
                self.children.pop(pid, None)
            else:
                time.sleep(0.05)
        for pid in list(self.children):
            _signal(pid, signal.SIGKILL)


def _exit_worker(signum: int, frame: object) -> None:
    # waitress shuts its threads down cleanly on SystemExit.
    raise SystemExit(0)


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _describe_status(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def close_connections(registry: Any) -> None:
    """Close the parent's pooled connections: a forked child must open its own."""
    for engine in getattr(registry, "sql_engines", {}).values():
        engine.dispose()


def postgresql_max_connections(url: str) -> int | None:
    """``max_connections`` of the PostgreSQL server at ``url``; None if not PostgreSQL."""
    if not url.startswith(("postgres://", "postgresql")):
        return None
    import sqlalchemy as sa

    from kinto_clone.core.sql.dialects import POSTGRESQL

    engine = sa.create_engine(POSTGRESQL.url(url, "kinto.storage_url"), poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as connection:
            return int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
    except sa.exc.SQLAlchemyError as error:
        logger.warning("Cannot read max_connections: %s", getattr(error, "orig", error))
        return None
    finally:
        engine.dispose()
