"""Putting one local file on many hosts: skipped where already there, never half-there.

The file's sha256 is computed once on the controller. A host whose staged copy
is known to have that hash gets nothing. Bytes always land under a hidden
temporary name beside the target (``.<name>.clusterctl-part``) and are renamed
to the final name only after the host itself hashed them, so an interrupted
copy never leaves a truncated file under the final name.

How a host knows its copy is good without hashing it on every run: after a
verified rename, a stamp ``<name>.sha256`` (``sha256sum -c`` format) is
written beside the file and given the file's exact mtime. A later gather
trusts the stamp when the file's size is the package's and its nanosecond
mtime equals the stamp's; otherwise, if the size matches, it hashes the file
(once; the stamp is then written). What that trusts, like rsync's quick check
and make: nobody rewrote the file in place and then set its mtime back.

Three ways to move the bytes (``MODES``), chosen per run:

- ``direct``: the controller streams to every host in parallel;
- ``relay``: the controller streams once, to the first host; hosts then pull
  from hosts that hold a verified copy over their own SSH trust, along a
  binomial tree (:func:`relay_rounds`), so the copies double each round;
- ``pipeline``: one stream from the controller through a chain of hosts,
  each writing the bytes to disk while passing them on to the next, so N
  hosts have the file in about the time of one copy.

``auto`` picks pipeline when every host of the chain can SSH to the next one
(probed with BatchMode), direct otherwise.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..display import human_bytes
from ..errors import ConnectError, TransferError
from .facts import Fact, FactQuery, query
from .host_receive import SCRIPT, RemotePaths, chain_outcomes, parse_reports, probe_args, receive_args
from .local_hashes import sha256_of
from .session import HostContext, HostResults, Outcome, Session

MODES = ("direct", "relay", "pipeline")
READ_CHUNK = 1 << 20
STALL_TIMEOUT = 120  # seconds without any progress on a stream before the host counts as lost
PROGRESS_INTERVAL = 0.1


# -- the file on the controller ------------------------------------------------

@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


def local_file(path: Path | str) -> LocalFile:
    """The file's size and sha256 (hashed once while the file is unchanged: see local_hashes)."""
    path = Path(path)
    return LocalFile(path, path.stat().st_size, sha256_of(path))


# -- the file on a host --------------------------------------------------------

def staged_query(remote: RemotePaths, size: int) -> FactQuery:
    """What the host holds at ``remote.final`` (see fact_staged in remote/facts.sh).

    The file is hashed there only when its size is right and no current stamp
    vouches for it, so a converged host costs three stats.
    """
    return query(remote.fact_name, "staged", remote.final, remote.stamp, size)


@dataclass(frozen=True)
class StagedFile:
    """What a host holds under the final name, as its gather answered."""

    size: int | None = None  # None: no file
    mtime: str = ""
    stamp_mtime: str = ""
    stamp_sha256: str = ""
    hashed_sha256: str = ""  # set when the gather hashed the file itself

    @classmethod
    def from_fact(cls, fact: Fact) -> StagedFile:
        fields: dict[str, str] = {}
        for line in fact.lines:
            key, _, value = line.partition(" ")
            fields[key] = value.strip()
        if "size" not in fields:
            return cls()
        return cls(size=int(fields["size"]), mtime=fields.get("mtime", ""),
                   stamp_mtime=fields.get("stamp-mtime", ""),
                   stamp_sha256=fields.get("stamp", "").split(" ")[0],
                   hashed_sha256=fields.get("hash", "").split(" ")[0])

    @property
    def stamp_current(self) -> bool:
        return bool(self.stamp_sha256) and self.stamp_mtime == self.mtime

    @property
    def sha256(self) -> str | None:
        """The file's hash as far as the facts tell: the stamp's if current, else the one just computed."""
        if self.stamp_current:
            return self.stamp_sha256
        return self.hashed_sha256 or None


# What a host needs: nothing, only a stamp for a copy that turned out good, or the bytes.
KEEP, STAMP, COPY = "keep", "stamp", "copy"


def staging_action(staged: StagedFile, local: LocalFile) -> str:
    """KEEP, STAMP or COPY for one host (pure)."""
    if staged.size != local.size or staged.sha256 != local.sha256:
        return COPY
    return KEEP if staged.stamp_current else STAMP


# -- schedules (pure) ----------------------------------------------------------

@dataclass(frozen=True)
class Copy:
    source: str | None  # None: the controller
    target: str


def relay_rounds(targets: Sequence[str], holders: Sequence[str] = ()) -> list[list[Copy]]:
    """Rounds of copies that reach every target exactly once, the number of copies doubling each round.

    Without ``holders`` (hosts that already have a verified copy) the controller
    sends once, to the first target, in a round of its own; from then on every
    host that has the file sends it to one new target per round. N targets
    thus take 1 + ceil(log2 N) rounds, H holders ceil(log2((N + H) / H)).
    """
    pending = list(targets)
    sources = list(holders)
    rounds: list[list[Copy]] = []
    if not sources and pending:
        first = pending.pop(0)
        rounds.append([Copy(None, first)])
        sources.append(first)
    while pending:
        batch = [Copy(source, pending.pop(0)) for source in sources[:len(pending)]]
        rounds.append(batch)
        sources += [c.target for c in batch]
    return rounds


@dataclass(frozen=True)
class RelayEdge:
    source: str | None
    after: str | None  # the source's previous target: a source sends to one target at a time


def relay_edges(rounds: list[list[Copy]]) -> dict[str, RelayEdge]:
    """target → where it copies from, and whose copy from the same source must finish first."""
    last_sent: dict[str | None, str] = {}
    edges = {}
    for batch in rounds:
        for copy in batch:
            edges[copy.target] = RelayEdge(copy.source, last_sent.get(copy.source))
            last_sent[copy.source] = copy.target
    return edges


# -- moving the bytes ----------------------------------------------------------

def _ssh_target(session: Session, name: str) -> str:
    return f"{session.inventory.hosts[name].user}@{name}"


def _send_chain(ctx: HostContext, chain: Sequence[str], remote: RemotePaths, local: LocalFile,
                mode_name: str) -> dict[str, str | None]:
    """Stream from the controller into ``chain`` (its first host is ctx's); host → None or why it failed.

    Byte progress is reported for every host of the chain: a pipeline's hosts
    receive the stream at the pace the first one does.
    """
    targets = [_ssh_target(ctx.session, h) for h in chain]
    last = [0.0]

    def sent(done: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_INTERVAL or done == local.size:
            last[0] = now
            for host in chain:
                ctx.session.reporter.progress(host, ctx.step, done, local.size)

    try:
        result = ctx.run_script(SCRIPT, *receive_args(remote, local.sha256, "recv", *targets), payload=local.path,
                                sent=sent, timeout=STALL_TIMEOUT,
                                allow_failure="each host of the chain reports its own copy; a broken chain is "
                                              "named from the exit status below")
    except ConnectError as exc:  # the host went away mid-stream
        return {h: f"no verified copy: {exc}" for h in chain}
    broken = ""
    if result.exited != 0:
        broken = (result.stderr.strip().splitlines() or [f"exit {result.exited}"])[-1]
    return chain_outcomes(chain, parse_reports(result.stdout), broken)


def _pull(ctx: HostContext, source: str, remote: RemotePaths, local: LocalFile) -> str | None:
    """The host fetches the verified copy of ``source`` over node-to-node SSH; None or why it failed."""
    ctx.progress(0, local.size)
    result = ctx.run_script(SCRIPT, *receive_args(remote, local.sha256, "pull", _ssh_target(ctx.session, source),
                                                  _ssh_target(ctx.session, ctx.host.name)),
                            allow_failure="the copy's own report is the verdict; without one, the exit status "
                                          "is the reason given below")
    mine = [r for r in parse_reports(result.stdout) if r.host == ctx.host.name]
    if mine and mine[-1].verdict == "ok":
        ctx.progress(local.size, local.size)
        return None
    return (mine and mine[-1].detail) or f"no report from the copy (exit {result.exited}): {(result.stderr or '').strip()[-200:]}"


def _write_stamp(ctx: HostContext, remote: RemotePaths, local: LocalFile) -> None:
    ctx.run_script(SCRIPT, *receive_args(remote, local.sha256, "stamp"))


def open_chain(session: Session, chain: Sequence[str]) -> bool:
    """Whether every host of ``chain`` can SSH to the next one without a prompt, probed in parallel.

    The probe leaves the shared connection of each pair open for a while
    (ControlPersist), so the pipeline's hops then start at once.
    """
    successor = dict(zip(chain, chain[1:]))

    def check(ctx: HostContext) -> Outcome:
        result = ctx.run_script(SCRIPT, *probe_args(_ssh_target(session, successor[ctx.host.name])),
                                allow_failure="the probe's exit status is its answer: no hop, no pipeline")
        return Outcome.ok(data=result.ok)

    outcomes = session.for_each("transfer-probe", list(successor), check, report=False)
    return len(outcomes) == len(successor) and all(o.data for o in outcomes.values())


def choose_mode(session: Session, mode: str, targets: Sequence[str]) -> str:
    """The mode to use: ``mode`` itself unless auto; direct for a single target."""
    if mode not in MODES + ("auto",):
        raise TransferError(f"unknown distribution mode {mode!r}: choose auto, {', '.join(MODES)}")
    if len(targets) <= 1:
        return "direct"
    if mode in ("auto", "pipeline"):
        trusted = open_chain(session, targets)
        if mode == "auto":
            return "pipeline" if trusted else "direct"
    return mode


def distribute(session: Session, step: str, actions: dict[str, str], local_path: Path | str, stage_dir: str,
               mode: str = "auto") -> HostResults:
    """Make ``stage_dir/<file name>`` a verified copy of ``local_path`` on the hosts of ``actions``.

    ``actions`` is the staging decision already made for each host (KEEP,
    STAMP or COPY, from :func:`staging_action`): it is carried out, not made
    again. Returns host → Outcome: unchanged where a verified copy was there
    already, changed where it was copied; a host that did not end up with a
    verified copy is a failed host of ``step`` with the reason.
    """
    local = local_file(local_path)
    remote = RemotePaths(stage_dir, local.name)
    hosts = session.targets(actions)
    targets = [h for h in hosts if actions[h] == COPY]
    holders = [h for h in hosts if actions[h] in (KEEP, STAMP)]
    chosen = choose_mode(session, mode, targets)
    mover = _Movers(session, remote, local, chosen, targets, holders)

    def stage(ctx: HostContext) -> Outcome:
        name = ctx.host.name
        if actions[name] == KEEP:
            return Outcome.unchanged("already staged")
        if actions[name] == STAMP:
            _write_stamp(ctx, remote, local)
            return Outcome.unchanged("already staged (hash checked, stamp written)")
        started = time.monotonic()
        reason = mover.copy(ctx)
        if reason:
            raise TransferError(reason)
        return Outcome.changed(f"{human_bytes(local.size)} via {chosen}, {time.monotonic() - started:.1f}s")

    # Sources before their targets, so no host waits on one that the bounded pool has not started.
    return session.for_each(step, holders + mover.order, stage)


class _Movers:
    """The copies of one distribute call, shared by the hosts' worker threads."""

    def __init__(self, session: Session, remote: RemotePaths, local: LocalFile, mode: str,
                 targets: list[str], holders: list[str]):
        self.session, self.remote, self.local, self.mode = session, remote, local, mode
        self.done = {h: threading.Event() for h in targets}
        self.verified: set[str] = set(holders)
        self.holders = list(holders)
        self.order = list(targets)
        self.chain_result: dict[str, str | None] = {}
        if mode == "relay":
            self.edges = relay_edges(relay_rounds(targets, holders))
            self.order = sorted(targets, key=list(self.edges).index)

    def copy(self, ctx: HostContext) -> str | None:
        name = ctx.host.name
        try:
            reason = getattr(self, self.mode)(ctx)
            if reason is None:
                self.verified.add(name)
            return reason
        finally:
            self.done[name].set()

    def direct(self, ctx: HostContext) -> str | None:
        return _send_chain(ctx, [ctx.host.name], self.remote, self.local, "direct")[ctx.host.name]

    def pipeline(self, ctx: HostContext) -> str | None:
        head = self.order[0]
        if ctx.host.name == head:
            try:
                self.chain_result = _send_chain(ctx, self.order, self.remote, self.local, "pipeline")
            except Exception as exc:
                self.chain_result = {h: f"no verified copy: the pipeline's first host {head} failed: {exc}"
                                     for h in self.order}
                raise
        else:
            self.done[head].wait()
        reason = self.chain_result.get(ctx.host.name, "the pipeline did not run")
        if reason is None:
            return None
        # The chain broke at or before this host: a host that is itself alive
        # still gets its copy, straight from the controller; a dead one fails here.
        retry = _send_chain(ctx, [ctx.host.name], self.remote, self.local, "direct")[ctx.host.name]
        return None if retry is None else f"{reason}; direct retry: {retry}"

    def relay(self, ctx: HostContext) -> str | None:
        edge = self.edges[ctx.host.name]
        if edge.after is not None:
            self.done[edge.after].wait()
        if edge.source is None:
            return _send_chain(ctx, [ctx.host.name], self.remote, self.local, "relay")[ctx.host.name]
        if edge.source in self.done:
            self.done[edge.source].wait()
        source = edge.source
        if source not in self.verified:
            # Its source has no copy (it failed): take any host that has one rather than give up.
            source = next((h for h in self.holders + self.order if h in self.verified), None)
            if source is None:
                return f"no verified copy to relay from ({edge.source} failed)"
        return _pull(ctx, source, self.remote, self.local)


# -- the other way: a file of a host onto the controller ----------------------------

def fetch(ctx: HostContext, local: Path, script: str, *args: object, become: bool | str = False,
          timeout: float = STALL_TIMEOUT, expected: int = 0) -> LocalFile:
    """Stream what remote ``script`` ``args`` writes on stdout into ``local``; its size and sha256.

    The bytes go to disk as they come, hashed on the way, never held in
    memory; they land under ``.<name>.part`` beside ``local`` and take its
    name only once the script has exited 0. ``timeout`` is how long the
    stream may stall, not how long it may take; ``expected`` (the size the
    host listed) is the progress shown's total.
    """
    local.parent.mkdir(parents=True, exist_ok=True)
    part = local.with_name(f".{local.name}.part")
    digest, size, last = hashlib.sha256(), [0], [0.0]
    with open(part, "wb") as out:
        def sink(chunk: bytes) -> None:
            out.write(chunk)
            digest.update(chunk)
            size[0] += len(chunk)
            now = time.monotonic()
            if now - last[0] >= PROGRESS_INTERVAL:
                last[0] = now
                ctx.progress(size[0], max(expected, size[0]))

        try:
            ctx.run_script(script, *args, become=become, timeout=timeout, sink=sink)
        except BaseException:
            part.unlink(missing_ok=True)
            raise
    part.rename(local)
    return LocalFile(local, size[0], digest.hexdigest())


__all__ = ["COPY", "KEEP", "MODES", "STAMP", "Copy", "LocalFile", "RemotePaths", "StagedFile", "TransferError",
           "choose_mode", "distribute", "fetch", "local_file", "relay_edges", "relay_rounds", "staged_query",
           "staging_action"]
