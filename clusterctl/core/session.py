"""A run against the inventory: connections, bounded parallelism, per-host results.

All remote work goes through a :class:`Session`. A step hands it a function of
one :class:`HostContext`; the session runs that function on every host in
parallel (at most ``forks`` at once), turns exceptions into a failed host
without stopping the others, skips hosts that failed an earlier step, and
reports every state change and remote command as an event.
"""

from __future__ import annotations

import shlex
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

import fabric
import invoke

from ..errors import ClusterctlError
from ..events import Reporter, State
from ..inventory import Host, Inventory
from .connection import open_connection
from .facts import Fact, gather_script, parse_facts
from .hostkeys import KnownHosts

DEFAULT_FORKS = 32
COMMAND_TIMEOUT = 900


class RemoteCommandError(ClusterctlError):
    """A remote command exited non-zero."""

    def __init__(self, command: str, result: invoke.Result):
        self.result = result
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        first = command.strip().splitlines()[0][:80]
        super().__init__(f"'{first}' exited {result.exited}: {' | '.join(tail) or 'no output'}")


@dataclass(frozen=True)
class Outcome:
    """How one step ended on one host."""

    state: State
    detail: str = ""
    data: object = None

    @classmethod
    def changed(cls, detail: str = "", data: object = None) -> Outcome:
        return cls(State.CHANGED, detail, data)

    @classmethod
    def unchanged(cls, detail: str = "", data: object = None) -> Outcome:
        return cls(State.UNCHANGED, detail, data)

    @classmethod
    def failed(cls, detail: str, data: object = None) -> Outcome:
        return cls(State.FAILED, detail, data)

    @classmethod
    def ok(cls, detail: str = "", data: object = None) -> Outcome:
        return cls(State.OK, detail, data)


@dataclass(frozen=True)
class Failure:
    step: str
    reason: str


def run_with_input(conn: fabric.Connection, command: str, data: bytes, timeout: int) -> invoke.Result:
    """Run ``command`` with ``data`` as its stdin on the connection's own transport.

    Invoke feeds stdin from a polling thread in 1000-byte steps and can write
    after the remote side has closed; sending everything, then EOF, then
    reading is both faster and free of that race.
    """
    channel = conn.client.get_transport().open_session(timeout=timeout)
    try:
        channel.settimeout(timeout)
        channel.exec_command(command)
        channel.sendall(data)
        channel.shutdown_write()
        stdout = channel.makefile("rb").read()
        stderr = channel.makefile_stderr("rb").read()
        exited = channel.recv_exit_status()
    finally:
        channel.close()
    return invoke.Result(stdout=stdout.decode("utf-8", "replace"), stderr=stderr.decode("utf-8", "replace"),
                         command=command, exited=exited, hide=("stdout", "stderr"))


def remote_path(path: str) -> str:
    """``path`` quoted for the remote shell, with a leading ``~/`` meaning the user's home."""
    if path.startswith("~/"):
        return '"$HOME"/' + shlex.quote(path[2:])
    return shlex.quote(path)


class HostContext:
    """One host within one step: run commands and move files there."""

    def __init__(self, session: Session, host: Host, step: str):
        self.session, self.host, self.step = session, host, step

    @property
    def connection(self) -> fabric.Connection:
        return self.session.connection(self.host)

    def run(self, command: str, *, check: bool = True, input: str | bytes | None = None,
            sudo: bool = False, timeout: int = COMMAND_TIMEOUT) -> invoke.Result:
        """Run ``command`` in the host's shell; raise RemoteCommandError if it fails and ``check``."""
        if sudo and self.host.user != "root":
            command = "sudo -n sh -c " + shlex.quote(command)
        if input is None:
            result = self.connection.run(command, hide=True, warn=True, timeout=timeout, in_stream=False)
        else:
            data = input.encode() if isinstance(input, str) else input
            result = run_with_input(self.connection, command, data, timeout)
        output = (result.stdout + result.stderr).strip()
        self.session.reporter.command(self.host.name, self.step, command, result.exited, output)
        if check and not result.ok:
            raise RemoteCommandError(command, result)
        return result

    def write_file(self, path: str, content: str, *, mode: str = "644", sudo: bool = False) -> None:
        """Replace ``path`` atomically with ``content`` (a temp file beside it, then rename).

        Ownership follows the connecting user (or root with ``sudo``); a reader
        never sees a half-written file.
        """
        target, tmp = remote_path(path), remote_path(f"{path}.clusterctl-tmp")
        self.run(f"umask 077 && mkdir -p \"$(dirname {target})\" && cat > {tmp} && chmod {mode} {tmp} "
                 f"&& mv -f {tmp} {target}", input=content, sudo=sudo)

    def progress(self, done: int, total: int) -> None:
        self.session.reporter.progress(self.host.name, self.step, done, total)

    def note(self, detail: str) -> None:
        self.session.reporter.note(self.host.name, self.step, detail)


class Session:
    """Connections and results for one run of clusterctl."""

    def __init__(self, inventory: Inventory, reporter: Reporter | None = None, *,
                 forks: int = DEFAULT_FORKS, password: str | None = None):
        self.inventory = inventory
        self.reporter = reporter or Reporter()
        self.forks = max(1, forks)
        self.password = password
        self.known_hosts = KnownHosts(inventory.cluster.known_hosts)
        self.failures: dict[str, Failure] = {}
        self._connections: dict[str, fabric.Connection] = {}
        self._locks: dict[str, threading.Lock] = {name: threading.Lock() for name in inventory.hosts}
        self._facts: dict[str, dict[str, Fact]] = {}
        self.changes_made = 0  # CHANGED outcomes so far: later checks run only when something changed

    # -- connections ----------------------------------------------------
    def connection(self, host: Host) -> fabric.Connection:
        """The run's one connection to ``host``, opened on first use."""
        with self._locks[host.name]:
            conn = self._connections.get(host.name)
            if conn is None or not conn.is_connected:
                conn = open_connection(host, self.known_hosts, self.password)
                self._connections[host.name] = conn
            return conn

    def drop_connection(self, name: str) -> None:
        """Forget the connection to ``name`` (its address changed); the next use opens a new one."""
        with self._locks[name]:
            conn = self._connections.pop(name, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        for conn in self._connections.values():
            conn.close()
        self._connections.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- facts ----------------------------------------------------------
    def gather(self, step: str, hosts: Iterable[str],
               snippets: Callable[[Host], dict[str, str]]) -> dict[str, dict[str, Fact]]:
        """Facts for every live host, asked in one command per host unless already known.

        Fact names are global (prefix them with the step); an answer is kept
        until :meth:`forget_facts` drops it after the host changed.
        """
        wanted = {name: snippets(self.inventory.hosts[name]) for name in self.live_hosts(hosts)}
        missing = [name for name, s in wanted.items() if not s.keys() <= self._facts.get(name, {}).keys()]

        def ask(ctx: HostContext) -> Outcome:
            result = ctx.run(gather_script(wanted[ctx.host.name]), check=False)
            self._facts.setdefault(ctx.host.name, {}).update(parse_facts(result.stdout))
            absent = wanted[ctx.host.name].keys() - self._facts[ctx.host.name].keys()
            if absent:
                raise ClusterctlError(f"gathering facts failed (no answer for {', '.join(sorted(absent))}): "
                                      f"{(result.stderr or result.stdout).strip()[-200:]}")
            return Outcome.ok()

        self.for_each(step, missing, ask, report=False)
        return {name: {k: self._facts[name][k] for k in wanted[name]}
                for name in wanted if name not in self.failures}

    def prefetch(self, hosts: Iterable[str], snippets: Callable[[Host], dict[str, str]]) -> None:
        """Ask many steps' facts at once, so each step later finds its answers cached."""
        self.gather("gather", hosts, snippets)

    def forget_facts(self, host: str) -> None:
        self._facts.pop(host, None)

    # -- running steps --------------------------------------------------
    def live_hosts(self, names: Iterable[str]) -> list[str]:
        """The names that have not failed an earlier step."""
        return [n for n in names if n not in self.failures]

    def fail(self, host: str, step: str, reason: str) -> None:
        self.failures.setdefault(host, Failure(step, reason))
        self.reporter.state(host, step, State.FAILED, reason)

    def for_each(self, step: str, hosts: Iterable[str],
                 work: Callable[[HostContext], Outcome], *, report: bool = True) -> dict[str, Outcome]:
        """Run ``work`` on every live host in parallel; return the outcomes of those that finished.

        A host whose work raises is recorded as failed (with the reason) and
        later steps skip it; the other hosts carry on.
        """
        names = list(hosts)
        for name in names:
            if name in self.failures:
                self.reporter.state(name, step, State.SKIPPED, f"failed in {self.failures[name].step}")
        live = self.live_hosts(names)
        if report:
            for name in live:
                self.reporter.state(name, step, State.PENDING)
        outcomes: dict[str, Outcome] = {}

        def one(name: str) -> None:
            ctx = HostContext(self, self.inventory.hosts[name], step)
            if report:
                self.reporter.state(name, step, State.RUNNING)
            try:
                outcome = work(ctx)
            except ClusterctlError as exc:
                self.fail(name, step, str(exc))
            except Exception as exc:  # a host's fault must not end the other hosts' run
                first_line = next((line for line in str(exc).splitlines() if line.strip()), "")
                self.fail(name, step, f"{type(exc).__name__}: {first_line}".rstrip(": "))
            else:
                outcomes[name] = outcome
                if outcome.state == State.FAILED:
                    self.fail(name, step, outcome.detail)
                elif report:
                    self.reporter.state(name, step, outcome.state, outcome.detail)

        if len(live) == 1:
            one(live[0])
        elif live:
            with ThreadPoolExecutor(max_workers=min(self.forks, len(live)),
                                    thread_name_prefix=f"clusterctl-{step}") as pool:
                list(pool.map(one, live))
        self.changes_made += sum(o.state == State.CHANGED for o in outcomes.values())
        return outcomes
