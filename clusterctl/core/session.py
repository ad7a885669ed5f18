"""A run against the inventory: connections, the target filter, bounded parallelism, per-host results.

All remote work goes through a :class:`Session`. A step hands it a function of
one :class:`HostContext`; the session runs that function on every host in
parallel (at most ``forks`` at once), turns exceptions into a failed host
without stopping the others, skips hosts that failed an earlier step, and
reports every state change and remote command as an event.

The session also holds the run's one target filter: work that changes hosts
reaches only the hosts named by ``--hosts`` (``limit``), while reading facts
reaches every host a step names, because the facts that define the cluster
(every peer's keys, the ensemble's servers) come from all of them.
"""

from __future__ import annotations

import hashlib
import shlex
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Protocol, Sequence

from .. import remote
from ..errors import ClusterctlError, ConnectError, DryRunViolation, Interrupted, PrivilegeError, RemoteCommandError
from ..events import Reporter, State
from ..inventory import Host, Inventory
from ..run_options import DEFAULT_FORKS
from .channel import ChannelAborted, ChannelLost, CommandResult, execute, require_reason
from .facts import SCRIPT as FACTS_SCRIPT, Fact, FactQuery, gather_args, parse_facts

if TYPE_CHECKING:
    import fabric
    import paramiko

BECOME_SCRIPT = "become.sh"
BECOME_PASSWORD_ENV = "CLUSTERCTL_BECOME_PASSWORD"
COMMAND_TIMEOUT = 900.0
STREAM_CHUNK = 1 << 20
CREATE_ONLY_EXISTS = "create only: exit 3 says the file is there already; any other failure raises below"


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

    @property
    def succeeded(self) -> bool:
        return self.state in (State.OK, State.CHANGED, State.UNCHANGED)


@dataclass(frozen=True)
class Privilege:
    """How the login user does root's work on a host: root, nopasswd or password (sudo), or none (and why)."""

    mode: str
    reason: str = ""


@dataclass(frozen=True)
class Failure:
    step: str
    reason: str


class HostResults(dict):
    """host → :class:`Outcome` of one step, failed and skipped hosts included (like Fabric's GroupResult)."""

    @property
    def succeeded(self) -> dict[str, Outcome]:
        return {h: o for h, o in self.items() if o.succeeded}

    @property
    def failed(self) -> dict[str, Outcome]:
        return {h: o for h, o in self.items() if not o.succeeded}

    @property
    def changed(self) -> list[str]:
        return [h for h, o in self.items() if o.state == State.CHANGED]


class Remote(Protocol):
    """Where commands run: real hosts over SSH, or fake ones in unit tests."""

    def execute(self, host: Host, command: str, stdin: Iterable[bytes] | None, *, timeout: float,
                sent: Callable[[int], None] | None = None, sink: Callable[[bytes], None] | None = None
                ) -> CommandResult: ...

    def move(self, host: Host, address: str, deadline: float) -> bool: ...

    def close(self) -> None: ...


class SshRemote:
    """Commands on real hosts, over the run's one Fabric connection to each."""

    def __init__(self, session: Session):
        self.session = session
        self._connections: dict[str, fabric.Connection] = {}
        self._keys: dict[str, paramiko.PKey] = {}  # host → the host key its first connection of the run showed
        self._moved: dict[str, str] = {}  # host → the address it moved to during the run
        self._jumps: dict[tuple, fabric.Connection] = {}  # chain of bastions (a prefix of one) → its last hop
        self._locks: dict = {}
        self._guard = threading.Lock()
        self._early: dict[str, Exception | None] = {}  # host → None once asked early, or what opening it raised
        self._early_slots = threading.BoundedSemaphore(max(1, session.forks))
        self._closed = False

    def connect_early(self, hosts: Iterable[Host]) -> None:
        """Start opening the connections to ``hosts`` in the background (``forks`` at a time), so that they are
        up when their first command comes: the run meanwhile decides what to ask them. A connection that
        fails fails that first command, with the same error, rather than being tried twice."""
        for host in hosts:
            with self._guard:
                if self._closed or host.name in self._early or host.name in self._connections:
                    continue
                self._early[host.name] = None
            threading.Thread(target=self._open_early, args=(host,), name=f"clusterctl-connect-{host.name}",
                             daemon=True).start()

    def _open_early(self, host: Host) -> None:
        with self._early_slots:
            if self._closed or self.session.stopping.is_set():
                return
            try:
                self.connection(host, early=True)
            except Exception:  # kept by connection() for the first command, which reports it as its own
                pass

    def connection(self, host: Host, *, early: bool = False) -> fabric.Connection:
        """The run's one connection to ``host``, opened on first use (through its bastions, if it has any)."""
        with self._guard:
            lock = self._locks.setdefault(host.name, threading.Lock())
        with lock:
            if not early:
                with self._guard:
                    failed, self._early[host.name] = self._early.get(host.name), None
                if failed is not None:
                    raise failed
            conn = self._connections.get(host.name)
            if conn is None or not conn.is_connected:
                from .connection import open_connection  # fabric and paramiko: loaded once a run connects
                try:
                    gateway = self.jump(host) if host.jump else None
                    at = replace(host, address=self._moved[host.name]) if host.name in self._moved else host
                    conn = open_connection(at, self.session.known_hosts, self.session.password, gateway)
                except Exception as exc:
                    if early:  # kept, under the host's lock, for the command that waits on it
                        with self._guard:
                            self._early[host.name] = exc
                    raise
                if self._closed:  # the run ended while this was opened early: nothing will use it
                    conn.close()
                    return conn
                self._connections[host.name] = conn
                self._keys.setdefault(host.name, conn.client.get_transport().get_remote_server_key())
            return conn

    def jump(self, host: Host) -> fabric.Connection:
        """The last bastion on the way to ``host``: one connection per chain, shared by every host behind it."""
        chain = host.jump
        with self._guard:
            lock = self._locks.setdefault(("jump", chain), threading.Lock())
        with lock:
            conn = self._jumps.get(chain)
            if conn is None or not conn.is_connected:
                from .connection import open_jump  # fabric and paramiko: loaded once a run connects
                via = None
                for i, hop in enumerate(chain):
                    prefix = chain[:i + 1]
                    known = self._jumps.get(prefix)
                    via = known if known is not None and known.is_connected else \
                        open_jump(hop, via, host, self.session.known_hosts)
                    self._jumps[prefix] = via
                conn = via
            return conn

    def execute(self, host: Host, command: str, stdin: Iterable[bytes] | None, *, timeout: float,
                sent: Callable[[int], None] | None = None, sink: Callable[[bytes], None] | None = None
                ) -> CommandResult:
        transport = self.connection(host).client.get_transport()
        try:
            return execute(transport, command, stdin, timeout=timeout, sent=sent, abort=self.session.aborting,
                           sink=sink)
        except ChannelAborted:
            raise Interrupted("cut off by the interrupt") from None
        except ChannelLost as exc:
            self.drop(host.name)
            raise ConnectError(f"lost the connection to {self._moved.get(host.name, host.address)}: {exc}") from None

    def move(self, host: Host, address: str, deadline: float) -> bool:
        """Reach ``host`` at ``address`` (its address is changing) by ``deadline``; whether it was reached.

        The host must show the key it showed on the run's first connection to
        it (see :func:`open_moved`), through the same bastions, with the same
        login; that connection then is the run's, and the host's commands
        (through sudo too) go to ``address`` from then on. The connection at
        the old address is dropped either way: the address change ended it.
        """
        expected = self._keys.get(host.name)
        if expected is None:
            raise ConnectError(f"{host.name}: its host key is not known yet; connect before moving it")
        with self._guard:
            lock = self._locks.setdefault(host.name, threading.Lock())
        from .connection import open_moved  # fabric and paramiko: loaded once a run connects
        with lock:
            self.drop(host.name)
            gateway = self.jump(host) if host.jump else None
            conn = open_moved(host, address, expected, self.session.known_hosts, self.session.password, deadline,
                              gateway)
            if conn is None:
                return False
            with self._guard:
                self._moved[host.name] = address
                self._connections[host.name] = conn
            return True

    def drop(self, name: str) -> None:
        """Forget the connection to ``name`` (it died, or its address changed); the next use opens one."""
        with self._guard:
            conn = self._connections.pop(name, None)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        with self._guard:
            self._closed = True
            connections, self._connections = list(self._connections.values()), {}
            jumps, self._jumps = list(self._jumps.values()), {}
        for conn in connections + jumps[::-1]:
            conn.close()


def _chunks(parts: Iterable[bytes | Path]) -> Iterator[bytes]:
    for part in parts:
        if isinstance(part, Path):
            with open(part, "rb") as fh:
                while chunk := fh.read(STREAM_CHUNK):
                    yield chunk
        elif part:
            yield part


# The remote scripts (and actions) that only read: all a dry run may run.
READ_ONLY_SCRIPTS = {"facts.sh": None, "zk_node.py": None, BECOME_SCRIPT: None, "jdk.sh": {"exe"},
                     "zk_backup.sh": {"list"},
                     # Loads a server's data through links in a scratch directory it removes: writes nothing
                     # of the server's.
                     "zk_recover.sh": {"lastzxid"}}


def reads_only(name: str, args: Sequence[object]) -> bool:
    """Whether running remote script ``name`` with ``args`` changes nothing on the host (pure)."""
    if name not in READ_ONLY_SCRIPTS:
        return False
    actions = READ_ONLY_SCRIPTS[name]
    return actions is None or (bool(args) and str(args[0]) in actions)


class HostContext:
    """One host within one step: run clusterctl's remote scripts there and write its files."""

    def __init__(self, session: Session, host: Host, step: str):
        self.session, self.host, self.step = session, host, step

    def run_script(self, name: str, *args: object, payload: bytes | Path | Sequence[bytes | Path] | None = None,
                   allow_failure: str | None = None, become: bool | str = False, timeout: float = COMMAND_TIMEOUT,
                   sent: Callable[[int], None] | None = None,
                   sink: Callable[[bytes], None] | None = None, secret_output: bool = False) -> CommandResult:
        """Run the remote script ``name`` with positional ``args``; ``payload`` follows it on stdin.

        ``secret_output``: what it prints may hold secrets (files collected as they are, redacted later on
        the controller): the run log says how long it was, never what it said.

        ``payload`` may be several parts (bytes or local files, streamed one
        after the other). With ``sink`` the script's stdout goes to it as it
        comes (see :func:`~clusterctl.core.channel.execute`), not into the result.

        ``become`` True runs it as root, a name as that user (through sudo
        when the login user is not root; see :meth:`Session.privilege`).
        Raises RemoteCommandError if it exits non-zero, unless ``allow_failure``
        says why the caller reads the exit status itself (a reason, never just
        a flag: an ignored result has to be written down as such).
        """
        require_reason(allow_failure)
        if self.session.stopping.is_set():
            raise Interrupted("not started: the run was interrupted")
        if self.session.dry_run and not reads_only(name, args):
            raise DryRunViolation(f"a dry run tried to run {name} {' '.join(map(str, args[:1]))} on "
                                  f"{self.host.name}: refused, nothing was changed")
        script = remote.load(name)
        prefix, secret = self.session.become_prefix(self.host, "root" if become is True else (become or None))
        command = prefix + script.command_line([str(a) for a in args])
        parts = [] if payload is None else list(payload) if isinstance(payload, (list, tuple)) else [payload]
        stdin = _chunks([secret, script.text, *parts])
        lead = len(secret) + len(script.text)
        on_sent = None if sent is None else (lambda done: sent(done - lead) if done > lead else None)
        more = {"sink": sink} if sink is not None else {}  # fakes of Remote need not know of sinks
        result = self.session.remote.execute(self.host, command, stdin, timeout=timeout, sent=on_sent, **more)
        shown = " ".join([name, *(a if len(a) < 200 else f"<{len(a)} characters>" for a in map(str, args))])
        output = (result.stdout + result.stderr).strip()
        if secret_output:
            output = f"<{len(output)} characters, not logged: they may hold secrets>"
        self.session.reporter.command(self.host.name, self.step, shown, result.exited, output)
        if not result.ok and allow_failure is None:
            raise RemoteCommandError(name, result)
        return result

    def move_to(self, address: str, deadline: float) -> bool:
        """Reach this host at ``address``, where its address is changing; False if not by ``deadline``.

        The same host key there as on the run's connection proves it is the
        same host (see :meth:`SshRemote.move`); from then on the run's commands
        to the host (as root too, through its bastions) go to ``address``.
        Either way the connection at the old address is dropped.
        """
        return self.session.remote.move(self.host, address, deadline)

    def write_file(self, path: str, content: str | bytes, *, mode: str = "644", owner: str = "-",
                   group: str = "-", dir_mode: str = "-", become: bool = False, create_only: bool = False) -> bool:
        """Replace ``path`` with ``content``, all or nothing (see remote/write_file.sh); True when written.

        Owner and mode are set before the file takes the name; ``-`` keeps the
        current file's owner or group (the writer's for a new file). With
        ``create_only`` an existing file is left as it is and False returned.
        """
        data = content.encode() if isinstance(content, str) else content
        args = [path, mode, owner, group, len(data), hashlib.sha256(data).hexdigest(), dir_mode]
        result = self.run_script("write_file.sh", *args, *(["new"] if create_only else []), payload=data,
                                 become=become, allow_failure=CREATE_ONLY_EXISTS if create_only else None)
        if create_only and result.exited not in (0, 3):
            raise RemoteCommandError("write_file.sh", result)
        return result.exited == 0

    def progress(self, done: int, total: int) -> None:
        self.session.reporter.progress(self.host.name, self.step, done, total)

    def note(self, detail: str) -> None:
        self.session.reporter.note(self.host.name, self.step, detail)


class Session:
    """Connections, the target filter, facts and per-host results for one run of clusterctl."""

    def __init__(self, inventory: Inventory, reporter: Reporter | None = None, *, forks: int = DEFAULT_FORKS,
                 password: str | None = None, limit: Iterable[str] | None = None,
                 remote_factory: Callable[[Session], Remote] = SshRemote, become_password: str | None = None,
                 dry_run: bool = False):
        self.inventory = inventory
        # A dry run reads and never writes: only the scripts of READ_ONLY_SCRIPTS run, and host keys seen
        # for the first time are not added to known_hosts.
        self.dry_run = dry_run
        self.reporter = reporter or Reporter()
        self.forks = max(1, forks)
        self.password = password
        self.become_password = become_password
        self._privileges: dict[str, Privilege] = {}
        self._privilege_locks: dict[str, threading.Lock] = {}
        self._privilege_lock = threading.Lock()
        self.limit = frozenset(limit) if limit else None
        from .hostkeys import KnownHosts  # paramiko's: loaded by a session, not by every import of this module
        self.known_hosts = KnownHosts(inventory.cluster.known_hosts, remember=not dry_run)
        self.failures: dict[str, Failure] = {}
        self.stopping = threading.Event()  # set on an interrupt: no new work starts
        self.aborting = threading.Event()  # set on a second interrupt: work in flight is cut off
        self._facts: dict[str, dict[str, Fact]] = {}
        self._facts_lock = threading.Lock()
        self.remote = remote_factory(self)

    def close(self) -> None:
        self.remote.close()

    # -- privilege --------------------------------------------------------
    def privilege(self, host: Host) -> Privilege:
        """How the login user does root's work on ``host``, found out once per run (and the password checked)."""
        with self._privilege_lock:
            lock = self._privilege_locks.setdefault(host.name, threading.Lock())
        with lock:
            known = self._privileges.get(host.name)
            if known is not None:
                return known
            known = self._find_privilege(host)
            self._privileges[host.name] = known
            return known

    def _find_privilege(self, host: Host) -> Privilege:
        if host.user == "root":
            return Privilege("root")
        if host.become == "none":
            return Privilege("none", "the inventory says become = \"none\"")
        said = self._ask_become(host, "probe")
        mode, _, reason = said.partition(" ")
        if mode == "password":
            if self.become_password is None:
                return Privilege("none", f"sudo asks {host.user} for a password: pass --ask-become-pass or set "
                                         f"{BECOME_PASSWORD_ENV}")
            # Checked once, alone, so that a wrong password fails here, before anything changes.
            verdict = self._ask_become(host, "check", self.become_password.encode() + b"\n")
            if verdict != "ok":
                return Privilege("none", f"sudo rejected the password of {host.user}: "
                                         f"{verdict.removeprefix('rejected ') or 'no answer'}")
        if mode in ("nopasswd", "password"):
            return Privilege(mode)
        return Privilege("none", f"{host.user} cannot use sudo: {reason or said or 'no answer'}")

    def _ask_become(self, host: Host, action: str, secret: bytes = b"") -> str:
        """become.sh's answer to ``action`` as the login user (``secret`` after the script on stdin)."""
        script = remote.load(BECOME_SCRIPT)
        result = self.remote.execute(host, script.command_line([action]), [script.text, secret], timeout=30)
        if not result.ok:  # it answers every question with exit 0: anything else is a broken host
            raise RemoteCommandError(f"{BECOME_SCRIPT} {action}", result)
        return result.stdout.strip()

    def become_prefix(self, host: Host, user: str | None) -> tuple[str, bytes]:
        """(what goes before the command, what goes before the script on stdin) to run as ``user``.

        None or the login user: nothing. A sudo password travels on stdin,
        read by ``sudo -S`` itself: never in an argument, a log or an error.
        """
        if user is None or user == host.user:
            return "", b""
        if host.user == "root":
            return f"runuser -u {shlex.quote(user)} -- ", b""
        way = self.privilege(host)
        if way.mode == "none":
            raise PrivilegeError(f"{host.name}: {way.reason}")
        target = "" if user == "root" else f"-u {shlex.quote(user)} "
        if way.mode == "nopasswd":
            return f"sudo -n -H {target}", b""
        return f"sudo -S -k -p '' -H {target}", self.become_password.encode() + b"\n"

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- the target filter ----------------------------------------------
    def live_hosts(self, names: Iterable[str]) -> list[str]:
        """The names that have not failed an earlier step."""
        return [n for n in names if n not in self.failures]

    @property
    def limited(self) -> bool:
        """Whether --hosts narrows what this run may change."""
        return self.limit is not None

    def targets(self, names: Iterable[str]) -> list[str]:
        """The names that work changing hosts may reach: within --hosts, and not failed earlier."""
        return [n for n in self.live_hosts(names) if self.limit is None or n in self.limit]

    # -- facts ----------------------------------------------------------
    def gather(self, step: str, hosts: Iterable[str],
               queries: Callable[[Host], list[FactQuery]]) -> dict[str, dict[str, Fact]]:
        """Facts of every live host named (--hosts does not narrow reading), one command per host.

        Fact names are global (prefix them with the step's topic); an answer is
        kept until :meth:`forget_facts` drops it after the host changed.
        """
        names = self.live_hosts(hosts)
        with self._facts_lock:
            new = [self.inventory.hosts[n] for n in names if n not in self._facts]
        connect_early = getattr(self.remote, "connect_early", None)
        if connect_early is not None and new and not self.stopping.is_set():
            connect_early(new)  # while the queries are worked out (reading the packages, rendering)
        wanted = {name: queries(self.inventory.hosts[name]) for name in names}

        def unanswered() -> list[str]:  # with the lock held
            return [n for n, qs in wanted.items() if n not in self.failures
                    and not {q.name for q in qs} <= self._facts.get(n, {}).keys()]

        with self._facts_lock:
            missing = unanswered()

        def ask(ctx: HostContext) -> Outcome:
            with self._facts_lock:
                known = self._facts.get(ctx.host.name, {})
                todo = [q for q in wanted[ctx.host.name] if q.name not in known]
            # As root where the login user is not: the facts read files only root (or the service) may read.
            as_root = ctx.host.user != "root" and self.privilege(ctx.host).mode != "none"
            result = ctx.run_script(FACTS_SCRIPT, *gather_args(todo), become=as_root,
                                    allow_failure="answers are checked one by one below: a missing one fails "
                                                  "the host with the script's output")
            answers = parse_facts(result.stdout)
            absent = sorted({q.name for q in todo} - answers.keys())
            if absent:
                raise ClusterctlError(f"gathering facts failed (no answer for {', '.join(absent)}): "
                                      f"{(result.stderr or result.stdout).strip()[-200:]}")
            with self._facts_lock:
                self._facts.setdefault(ctx.host.name, {}).update(answers)
            return Outcome.ok()

        self.for_each(step, missing, ask, report=False, changes_host=False)
        with self._facts_lock:
            unasked = unanswered()
            if unasked:  # the interrupt kept them from answering: nothing may be decided on their facts
                raise Interrupted(f"not asked: the run was interrupted ({', '.join(unasked)})")
            return {name: {q.name: self._facts[name][q.name] for q in wanted[name]}
                    for name in wanted if name not in self.failures}

    def forget_facts(self, host: str, topic: str = "") -> None:
        """Drop what ``host`` answered (only the facts named ``topic``… when given): it changed."""
        with self._facts_lock:
            known = self._facts.get(host, {})
            for name in [n for n in known if n.startswith(topic)]:
                del known[name]

    # -- running work on hosts ------------------------------------------
    def fail(self, host: str, step: str, reason: str) -> None:
        self.failures.setdefault(host, Failure(step, reason))
        self.reporter.state(host, step, State.FAILED, reason)

    def for_each(self, step: str, hosts: Iterable[str], work: Callable[[HostContext], Outcome], *,
                 report: bool = True, changes_host: bool = True) -> HostResults:
        """Run ``work`` on every target host in parallel; return every host's outcome.

        Work that changes a host reaches the targets: the live hosts among
        ``hosts`` within --hosts (the one filter, :meth:`targets`). Work that
        changes no host (``changes_host`` False: asking, reading, talking to
        ZooKeeper) reaches every live host named: --hosts narrows what a run
        changes, never what it reads. A host
        whose work raises is recorded as failed (with the reason) and later
        steps skip it; the other hosts carry on. After an interrupt no new
        host is started; hosts not reached are reported as interrupted.
        """
        names = list(hosts)
        results = HostResults()
        for name in names:
            if name in self.failures:
                results[name] = Outcome(State.SKIPPED, f"failed in {self.failures[name].step}")
                if report:
                    self.reporter.state(name, step, State.SKIPPED, results[name].detail)
        live = self.targets(names) if changes_host else self.live_hosts(names)
        if report:
            for name in live:
                self.reporter.state(name, step, State.PENDING)

        def one(name: str) -> None:
            if self.stopping.is_set():
                results[name] = Outcome(State.INTERRUPTED, "not started: the run was interrupted")
                self.reporter.state(name, step, State.INTERRUPTED, results[name].detail)
                return
            ctx = HostContext(self, self.inventory.hosts[name], step)
            if report:
                self.reporter.state(name, step, State.RUNNING)
            try:
                outcome = work(ctx)
            except Interrupted as exc:
                outcome = Outcome(State.INTERRUPTED, str(exc))
            except ClusterctlError as exc:
                outcome = Outcome.failed(str(exc))
            except Exception as exc:  # a host's fault must not end the other hosts' run
                first_line = next((line for line in str(exc).splitlines() if line.strip()), "")
                outcome = Outcome.failed(f"{type(exc).__name__}: {first_line}".rstrip(": "))
            results[name] = outcome
            if outcome.state == State.FAILED:
                self.fail(name, step, outcome.detail)
            elif outcome.state == State.INTERRUPTED:
                self.reporter.state(name, step, State.INTERRUPTED, outcome.detail)
            elif report:
                self.reporter.state(name, step, outcome.state, outcome.detail)

        if len(live) == 1:
            one(live[0])
        elif live:
            with ThreadPoolExecutor(max_workers=min(self.forks, len(live)),
                                    thread_name_prefix=f"clusterctl-{step}") as pool:
                list(pool.map(one, live))
        return results
