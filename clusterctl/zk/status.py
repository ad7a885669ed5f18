"""What the ensemble is now: each server's role as it says itself, and the quorum that follows.

Each server is asked directly over its client port from the controller; when
that port cannot be reached from here (a firewall, another network) the same
question is asked on the node over SSH. A refused connection needs no second
opinion: the host answered and nothing listens, so the server is down.
Turning answers into roles and roles into a quorum verdict is pure.
"""

from __future__ import annotations

import functools

import time
from dataclasses import dataclass, field, replace
from typing import Callable

from ..core.session import HostContext, Outcome, Session
from ..errors import Interrupted
from ..inventory import ZkServer, ZooKeeperSpec
from ..quorum import has_quorum, quorum_size
from .fourlw import (REMOTE_SCRIPT, FourLetterWordError, Srvr, UnexpectedAnswer, ask, format_zxid, parse_mntr,
                     parse_remote_answers, parse_srvr, remote_ask_args, zxid_counter)

STEP = "zk-status"
ROLES = ("leader", "follower", "observer", "standalone", "looking", "down", "unknown")
VOTING_ROLES = frozenset({"leader", "follower", "standalone"})  # a voter in one of these is part of a quorum
SERVING_ROLES = VOTING_ROLES | {"observer"}
POLL_INTERVAL = 0.25


@dataclass(frozen=True)
class ServerStatus:
    """One server as it describes itself; ``role`` is down when it could not be asked."""

    host: str
    id: int
    observer: bool  # what the inventory says it should be
    role: str
    zxid: int | None = None
    connections: int | None = None
    latency: tuple[int, float, int] | None = None  # min/avg/max in ms
    outstanding: int | None = None
    node_count: int | None = None
    version: str = ""
    via: str = ""  # "client port" (from the controller) or "ssh" (asked on the node)
    error: str = ""
    synced_learners: tuple[int, int] | None = None  # (followers, observers) in sync, a leader's mntr
    notes: tuple[str, ...] = ()  # what the node says of its server beyond the four-letter words (restart needed)

    @property
    def serving(self) -> bool:
        return self.role in SERVING_ROLES

    def to_json(self) -> dict:
        data = {
            "host": self.host, "id": self.id, "role": self.role, "zxid": format_zxid(self.zxid),
            "observer": self.observer, "connections": self.connections,
            "latency": None if self.latency is None else dict(zip(("min", "avg", "max"), self.latency)),
            "outstanding": self.outstanding, "node_count": self.node_count, "version": self.version or None,
            "via": self.via or None, "error": self.error or None,
        }
        if self.synced_learners is not None:
            data["synced_followers"], data["synced_observers"] = self.synced_learners
        data["notes"] = list(self.notes)
        return data


@dataclass(frozen=True)
class QuorumState:
    voters: int
    up: int
    needed: int
    has_quorum: bool
    tolerates: int  # how many more voters may fail with the quorum holding

    def to_json(self) -> dict:
        return {"voters": self.voters, "up": self.up, "needed": self.needed,
                "has_quorum": self.has_quorum, "tolerates": self.tolerates}

    def describe(self) -> str:
        return (f"voters up {self.up} of {self.voters}, quorum needs {self.needed}, "
                f"tolerates {self.tolerates} more failure{'' if self.tolerates == 1 else 's'}")


def quorum_state(servers: list[ServerStatus]) -> QuorumState:
    """The quorum verdict from the servers' roles: voters taking part, of all voters (pure)."""
    voters = [s for s in servers if not s.observer]
    up = sum(s.role in VOTING_ROLES for s in voters)
    needed = quorum_size(len(voters))
    return QuorumState(len(voters), up, needed, has_quorum(len(voters), up), max(0, up - needed))


@dataclass(frozen=True)
class EnsembleStatus:
    servers: list[ServerStatus]
    quorum: QuorumState = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "quorum", quorum_state(self.servers))

    @property
    def leader(self) -> ServerStatus | None:
        """The leader (or the standalone server), if one answered."""
        return next((s for s in self.servers if s.role in ("leader", "standalone")), None)

    def server(self, host: str) -> ServerStatus:
        return next(s for s in self.servers if s.host == host)

    @property
    def settled(self) -> bool:
        """A quorum with a leader: the ensemble serves writes."""
        return self.quorum.has_quorum and self.leader is not None

    def to_json(self) -> dict:
        leader = self.leader
        return {"servers": [s.to_json() for s in self.servers], "quorum": self.quorum.to_json(),
                "leader": leader.host if leader else None}


def role_of(srvr: Srvr) -> str:
    """The role a srvr answer states; a server that is up but not serving is electing (looking)."""
    if srvr.mode is None:
        return "looking"
    # read-only mode: cut off from the quorum, serving stale reads; for a quorum that is looking.
    return srvr.mode if srvr.mode in ("leader", "follower", "observer", "standalone") else "looking"


def server_status(server: ZkServer, answers: dict[str, str | FourLetterWordError], via: str) -> ServerStatus:
    """One server's status from its four-letter-word answers (pure)."""
    base = {"host": server.host, "id": server.id, "observer": server.observer, "via": via}
    srvr_answer = answers.get("srvr")
    if srvr_answer is None or isinstance(srvr_answer, FourLetterWordError):
        return ServerStatus(role="down", error=str(srvr_answer or "not asked"), **base)
    try:
        srvr = parse_srvr(srvr_answer)
    except UnexpectedAnswer as exc:
        return ServerStatus(role="unknown", error=str(exc), **base)
    synced = None
    mntr_answer = answers.get("mntr")
    if srvr.mode == "leader" and isinstance(mntr_answer, str):
        try:
            mntr = parse_mntr(mntr_answer) or {}
        except UnexpectedAnswer:
            mntr = {}
        if "zk_synced_followers" in mntr:
            synced = (int(mntr["zk_synced_followers"]), int(mntr.get("zk_synced_observers", 0)))
    latency = None
    if srvr.latency_min is not None:
        latency = (srvr.latency_min, srvr.latency_avg, srvr.latency_max)
    return ServerStatus(role=role_of(srvr), zxid=srvr.zxid, connections=srvr.connections, latency=latency,
                        outstanding=srvr.outstanding, node_count=srvr.node_count, version=srvr.version,
                        synced_learners=synced, **base)


def allowed_words(spec: ZooKeeperSpec, detail: bool) -> list[str]:
    """srvr always; mntr too for a detailed status when the servers allow it."""
    if detail and ("mntr" in spec.four_letter_words or "*" in spec.four_letter_words):
        return ["srvr", "mntr"]
    return ["srvr"]


def word_endpoints(spec: ZooKeeperSpec, inventory=None) -> list[tuple[int, object]]:
    """Where the controller asks a server its four-letter words, in order: the plaintext client port, and
    where TLS clients are on, the TLS port with the controller's certificate (only that one with [tls]
    client = "required": the plaintext port then listens on each node's loopback alone; and the second
    choice while a TLS change is under way, when a server's plaintext port may already be closed)."""
    plaintext = [(spec.client_port, None)]
    if inventory is None or spec.tls.client == "off":
        return plaintext
    from ..tls.ca import existing_client_files
    files = existing_client_files(inventory)
    if files is None:
        return plaintext
    secure = [(spec.tls.secure_client_port, _tls_context(str(files.ca), str(files.cert), str(files.key)))]
    return secure if spec.tls.client == "required" else plaintext + secure


@functools.lru_cache(maxsize=4)
def _tls_context(ca: str, cert: str, key: str):
    import ssl
    context = ssl.create_default_context(cafile=ca)
    context.load_cert_chain(cert, key)
    return context


def ask_directly(address: str, port: int, words: list[str], tls=None) -> dict[str, str | FourLetterWordError]:
    """Each word's answer from the controller, or the error that stood in the way."""
    answers: dict[str, str | FourLetterWordError] = {}
    for word in words:
        try:
            answers[word] = ask(address, port, word, tls=tls)
        except FourLetterWordError as exc:
            answers[word] = exc
    return answers


def ask_directly_at(address: str, endpoints: list[tuple[int, object]],
                    words: list[str]) -> dict[str, str | FourLetterWordError]:
    """:func:`ask_directly` at the first of ``endpoints`` (port, TLS) that does not refuse."""
    for port, tls in endpoints:
        answers = ask_directly(address, port, words, tls)
        first = answers[words[0]]
        if not (isinstance(first, FourLetterWordError) and first.refused):
            break
    return answers


def ask_server(ctx: HostContext, port: int, words: list[str],
               direct: list[tuple[int, object]] | None = None) -> tuple[dict[str, str | FourLetterWordError], str]:
    """Ask from the controller (at ``direct``, :func:`word_endpoints`, else at ``port``); over SSH on the
    node when that is out of our reach (the node asks its own plaintext ``port``, which listens on the node
    alone when clients must use TLS)."""
    answers = ask_directly_at(ctx.host.address, direct or [(port, None)], words)
    first = answers[words[0]]
    if not isinstance(first, FourLetterWordError) or first.refused:
        return answers, "client port"
    try:
        result = ctx.run_script(REMOTE_SCRIPT, *remote_ask_args(port, words), timeout=15,
                                allow_failure="a server that does not answer on the node is down: said below")
        if result.ok:
            return parse_remote_answers(result.stdout), "ssh"
        reason = (result.stderr or result.stdout).strip().splitlines()[-1:] or [f"exit {result.exited}"]
        answers[words[0]] = FourLetterWordError(f"{first}; on the node: {reason[0]}")
    except Exception as exc:  # an unreachable node is a down server, not a failed run
        answers[words[0]] = FourLetterWordError(f"{first}; over SSH: {exc}")
    return answers, ""


def probe(session: Session, *, detail: bool = False) -> EnsembleStatus:
    """Every server's status, asked in parallel; never fails a host (a silent server is down).

    A host that failed an earlier step of the run is still asked over its
    client port (its server may well be running), but not over SSH.
    """
    spec = session.inventory.zookeeper
    words = allowed_words(spec, detail)
    servers = {s.host: s for s in spec.servers}

    direct = word_endpoints(spec, session.inventory)

    def one(ctx: HostContext) -> Outcome:
        answers, via = ask_server(ctx, spec.client_port, words, direct)
        return Outcome.ok(data=server_status(servers[ctx.host.name], answers, via))

    outcomes = session.for_each(STEP, session.live_hosts(servers), one, report=False, changes_host=False)
    statuses = []
    for host, server in servers.items():
        if host in outcomes and outcomes[host].data is not None:  # not when interrupted: asked directly then
            statuses.append(outcomes[host].data)
            continue
        answers = ask_directly_at(session.inventory.hosts[host].address, direct, words)
        status = server_status(server, answers, "client port")
        failure = session.failures.get(host)
        if status.role == "down" and failure:
            status = replace(status, error=f"{status.error} (failed in {failure.step} this run)")
        statuses.append(status)
    return EnsembleStatus(statuses)


@dataclass(frozen=True)
class Waited:
    status: EnsembleStatus
    elapsed: float
    met: bool


def wait_for(session: Session, condition: Callable[[EnsembleStatus], bool], timeout: float, *,
             hopeless: Callable[[EnsembleStatus], bool] | None = None,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> Waited:
    """Probe until ``condition`` holds, ``timeout`` seconds pass or ``hopeless`` says it never will.

    Returns the last status either way.
    """
    start = clock()
    while True:
        if session is not None and session.stopping.is_set():
            raise Interrupted("the wait for the ensemble was interrupted")
        status = probe(session)
        elapsed = clock() - start
        if condition(status):
            return Waited(status, elapsed, True)
        if elapsed >= timeout or (hopeless is not None and hopeless(status)):
            return Waited(status, elapsed, False)
        sleep(POLL_INTERVAL)


def caught_up(server_zxid: int | None, leader_zxid: int | None) -> bool:
    """Whether a learner has every transaction the leader had when it was sampled (pure).

    A leader that has taken no write in its epoch yet reports ``epoch << 32``,
    a zxid no learner shows until the next write; then all committed history
    is from earlier epochs, which a learner receives before it starts serving.
    """
    if leader_zxid is None or zxid_counter(leader_zxid) == 0:
        return True
    return server_zxid is not None and server_zxid >= leader_zxid


def describe(server: ServerStatus) -> str:
    """What a server reports, in a few words: ``looking at 0x300000000 (...)``."""
    zxid = f" at {format_zxid(server.zxid)}" if server.zxid is not None else ""
    error = f" ({server.error})" if server.error else ""
    what = "up but not serving yet (looking: electing or syncing)" if server.role == "looking" else server.role
    return f"{what}{zxid}{error}"


def lagging(status: EnsembleStatus, hosts: list[str], leader_zxid: int | None) -> dict[str, str]:
    """host → what it reports, for each of ``hosts`` not serving or behind ``leader_zxid`` (pure).

    Empty when every one of them serves clients (as leader, follower,
    observer or standalone) and has applied what the leader had at
    ``leader_zxid``.
    """
    behind = {}
    for host in hosts:
        server = status.server(host)
        if not server.serving:
            behind[host] = describe(server)
        elif not caught_up(server.zxid, leader_zxid):
            behind[host] = (f"serving as {server.role} but behind the leader "
                            f"({format_zxid(server.zxid)} < {format_zxid(leader_zxid)})")
    return behind


def serving_steadily(before: EnsembleStatus | None, now: EnsembleStatus, hosts: list[str]) -> bool:
    """Whether ``hosts`` serve in two probes in a row, under the same leader, caught up with it (pure).

    One probe is not enough: a learner can attach to a leader that is still
    gathering its quorum and fall back to looking when that leader gives up;
    the same leader twice, with every host serving both times and caught up
    with the zxid the leader had the first time, rules that out.
    """
    if before is None or not (before.settled and now.settled):
        return False
    if before.leader.host != now.leader.host:
        return False
    return not lagging(before, hosts, None) and not lagging(now, hosts, before.leader.zxid)


def wait_until_serving(session: Session, hosts: list[str], timeout: float, *,
                       hopeless: Callable[[EnsembleStatus], bool] | None = None,
                       clock: Callable[[], float] = time.monotonic,
                       sleep: Callable[[float], None] = time.sleep, started: bool = True) -> Waited:
    """Probe until every one of ``hosts`` serves clients steadily (:func:`serving_steadily`).

    Returns the last status; ``met`` is False after ``timeout`` seconds or
    once ``hopeless`` says it will never happen. With ``started`` False (the
    run started or restarted none of them), a first probe that finds them all
    serving under a settled leader is enough: the second probe guards against
    a learner just started falling back to looking, and none was. Any later
    probe needs its predecessor as usual.
    """
    previous: list[EnsembleStatus] = []

    def steady(status: EnsembleStatus) -> bool:
        before = previous[0] if previous else None
        first = not previous
        previous[:] = [status]
        if first and not started:
            return status.settled and not lagging(status, hosts, None)
        return serving_steadily(before, status, hosts)

    return wait_for(session, steady, timeout, hopeless=hopeless, clock=clock, sleep=sleep)


def role_changes(before: EnsembleStatus | None, now: EnsembleStatus) -> list[str]:
    """What changed between two looks at the ensemble, in words: a server's role, a new leader (pure)."""
    if before is None:
        return []
    out = []
    was = {s.host: s.role for s in before.servers}
    for s in now.servers:
        if s.host in was and was[s.host] != s.role:
            out.append(f"{s.host}: {was[s.host]} → {s.role}")
    old, new = before.leader, now.leader
    if (old and old.host) != (new and new.host):
        out.append(f"leader: {old.host if old else 'none'} → {new.host if new else 'none (electing)'}")
    return out
