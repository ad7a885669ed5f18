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

import base64
import hashlib
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import paramiko

from ..display import human_bytes
from ..errors import ClusterctlError
from .facts import Fact
from .session import HostContext, Outcome, Session

MODES = ("direct", "relay", "pipeline")
READ_CHUNK = 1 << 20
STALL_TIMEOUT = 120  # seconds without any progress on a stream before the host counts as lost
PROGRESS_INTERVAL = 0.1
_TOKEN = re.compile(r"[A-Za-z0-9_.+-]+")
_RESULT = "clusterctl-transfer"


class TransferError(ClusterctlError):
    """A host did not end up with a verified copy."""


# -- the file on the controller ------------------------------------------------

@dataclass(frozen=True)
class LocalFile:
    path: Path
    size: int
    sha256: str

    @property
    def name(self) -> str:
        return self.path.name


_hash_cache: dict[tuple[str, int, int], str] = {}
_hash_lock = threading.Lock()


def local_file(path: Path | str) -> LocalFile:
    """The file's size and sha256; the hash is computed once per process while the file is unchanged."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    with _hash_lock:
        if key not in _hash_cache:
            digest = hashlib.sha256()
            with open(path, "rb") as fh:
                while chunk := fh.read(READ_CHUNK):
                    digest.update(chunk)
            _hash_cache[key] = digest.hexdigest()
    return LocalFile(path, st.st_size, _hash_cache[key])


# -- the file on a host --------------------------------------------------------

@dataclass(frozen=True)
class RemotePaths:
    """Where one file is staged on every host."""

    stage_dir: str
    name: str

    def __post_init__(self) -> None:
        # These go unquoted through nested shells (controller → host → next host).
        if not _TOKEN.fullmatch(self.name):
            raise TransferError(f"cannot stage {self.name!r}: file names may hold letters, digits and ._+- only")
        if not self.stage_dir.startswith("/") or not all(_TOKEN.fullmatch(p) for p in self.stage_dir.split("/")[1:]):
            raise TransferError(f"cannot stage into {self.stage_dir!r}: use an absolute path of letters, "
                                "digits and ._+-")

    @property
    def final(self) -> str:
        return f"{self.stage_dir}/{self.name}"

    @property
    def part(self) -> str:
        # One fixed name, not one per run: a crashed copy's leftover is overwritten, not piled up.
        return f"{self.stage_dir}/.{self.name}.clusterctl-part"

    @property
    def stamp(self) -> str:
        return f"{self.final}.sha256"

    @property
    def fact_name(self) -> str:
        return "staged." + re.sub(r"[^\w.-]", "_", self.final.strip("/"))


def staged_facts(remote: RemotePaths, size: int) -> dict[str, str]:
    """The gather snippet telling what the host holds at ``remote.final``.

    The file is hashed here only when its size is right and no current stamp
    vouches for it, so a converged host costs three stats.
    """
    f, s = remote.final, remote.stamp
    snippet = (
        f"[ -f {f} ] || exit 0; "
        f"echo size $(stat -c %s {f}); echo mtime $(stat -c %y {f}); "
        f"if [ -f {s} ]; then echo stamp-mtime $(stat -c %y {s}); echo stamp $(head -c 100 {s}); fi; "
        f"if [ \"$(stat -c %s {f})\" = {size} ] && {{ [ ! -f {s} ] || [ \"$(stat -c %y {s})\" != \"$(stat -c %y {f})\" ]; }}; "
        f"then echo hash $(sha256sum < {f}); fi"
    )
    return {remote.fact_name: snippet}


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


# -- the script each host runs -------------------------------------------------

# Run with bash on a host; arguments: DIR NAME SHA256 MODE ...
#   recv SELF [NEXT...]  bytes on stdin, written here and passed on to NEXT (which gets the rest of the chain)
#   pull SOURCE SELF     bytes fetched from SOURCE's verified copy
# Every host reports one line "clusterctl-transfer HOST ok|failed REASON|forward-failed NEXT REASON" on stdout.
_HOST_SCRIPT = r"""
set -u
code=$1 dir=$2 name=$3 want=$4 mode=$5; shift 5
final=$dir/$name part=$dir/.$name.clusterctl-part stamp=$dir/$name.sha256
if [ "$(id -u)" = 0 ]; then as_root=; else as_root="sudo -n"; fi
ssh_opts=(@NODE_SSH_OPTIONS@)
err=$(mktemp) && trap 'rm -f "$err"' EXIT
report() { printf 'clusterctl-transfer %s %s\n' "${self#*@}" "$*"; }
last_error() { e=$(tail -n 1 "$err" | tr -d '\r'); echo "${e:-connection lost}"; }
hash_of() {  # openssl uses the CPU's SHA instructions; coreutils' sha256sum is often 5x slower
  if command -v openssl >/dev/null; then $as_root openssl dgst -sha256 -r "$1"; else $as_root sha256sum "$1"; fi
}
keep_if_verified() {
  got=$(hash_of "$part" 2>/dev/null); got=${got%% *}
  if [ "$got" != "$want" ]; then
    $as_root rm -f "$part"
    report failed "hash mismatch after copy (got ${got:-nothing}, ${1:-the stream ended early?})"
  elif $as_root sh -c 'rm -f "$3" && mv -f "$1" "$2" && printf "%s  %s\n" "$4" "$5" > "$3.tmp" &&
                       touch -r "$2" "$3.tmp" && mv -f "$3.tmp" "$3"' _ "$part" "$final" "$stamp" "$want" "$name"; then
    report ok
  else
    report failed "could not rename the verified copy to $final"
  fi
}
case $mode in
recv)
  self=$1; shift
  if $as_root mkdir -p "$dir" && $as_root sh -c ': > "$1"' _ "$part"; then sink=$part; else sink=/dev/null; fi
  if [ $# -gt 0 ]; then
    next=$1; shift
    $as_root tee -p "$sink" | ssh "${ssh_opts[@]}" "$next" \
      "bash -c \"\$(echo $code | base64 -d)\" clusterctl-transfer $code $dir $name $want recv $next $*" 2>"$err"
    status=("${PIPESTATUS[@]}")
    [ "${status[1]}" = 0 ] || report forward-failed "${next#*@}" "$(last_error) (ssh exit ${status[1]})"
  else
    $as_root tee "$sink" >/dev/null
    status=($?)
  fi
  if [ "$sink" = /dev/null ]; then report failed "cannot write $part"
  elif [ "${status[0]}" != 0 ]; then $as_root rm -f "$part"; report failed "writing $part failed (disk full?)"
  else keep_if_verified
  fi
  ;;
pull)
  source=$1 self=$2
  if ! $as_root mkdir -p "$dir"; then report failed "cannot create $dir"; exit 0; fi
  ssh -n "${ssh_opts[@]}" "$source" "cat $final" 2>"$err" | $as_root sh -c 'cat > "$1"' _ "$part"
  status=("${PIPESTATUS[@]}")
  if [ "${status[0]}" != 0 ]; then
    $as_root rm -f "$part"; report failed "could not fetch from ${source#*@}: $(last_error) (ssh exit ${status[0]})"
  else keep_if_verified "copied from ${source#*@}"
  fi
  ;;
esac
exit 0
"""
# Between hosts: never prompt, pin host keys (ssh-trust wrote them), notice a dead peer within
# half a minute, prefer the cipher with hardware support, and share one connection per pair
# (ControlMaster): the trust probe opens it, so a pipeline's hops start without a handshake each.
NODE_SSH_OPTIONS = ("-o BatchMode=yes -o StrictHostKeyChecking=yes -o ConnectTimeout=10 "
                    "-o ServerAliveInterval=5 -o ServerAliveCountMax=6 -o LogLevel=ERROR "
                    "-o Ciphers=aes128-gcm@openssh.com,chacha20-poly1305@openssh.com,aes128-ctr "
                    "-o ControlMaster=auto -o ControlPath=~/.ssh/clusterctl-mux-%C -o ControlPersist=30")
_HOST_SCRIPT_B64 = base64.b64encode(_HOST_SCRIPT.replace("@NODE_SSH_OPTIONS@", NODE_SSH_OPTIONS).encode()).decode()


def host_command(remote: RemotePaths, sha256: str, mode: str, *hosts: str) -> str:
    """The command line that runs the host script; it carries its own code to pass on down a chain."""
    for token in hosts:
        if not all(_TOKEN.fullmatch(part) for part in token.split("@")):
            raise TransferError(f"cannot address {token!r} between hosts")
    args = " ".join([remote.stage_dir, remote.name, sha256, mode, *hosts])
    return (f"bash -c \"$(echo {_HOST_SCRIPT_B64} | base64 -d)\" {_RESULT} "
            f"{_HOST_SCRIPT_B64} {args}")


@dataclass(frozen=True)
class HostReport:
    """One line a host's script printed: ``ok``, ``failed`` (detail: why) or ``forward-failed`` (detail: next, why)."""

    host: str
    verdict: str
    detail: str = ""


def parse_reports(output: str) -> list[HostReport]:
    """The report lines in a host script's output (a pipeline's carries every host's)."""
    reports = []
    for line in output.splitlines():
        fields = line.split(" ", 3)
        if len(fields) >= 3 and fields[0] == _RESULT:
            reports.append(HostReport(fields[1], fields[2], fields[3] if len(fields) > 3 else ""))
    return reports


def chain_outcomes(chain: Sequence[str], reports: list[HostReport], broken: str = "") -> dict[str, str | None]:
    """host → None when its copy is verified, else why not, for every host of a pipeline ``chain`` (pure).

    A host that sent no report never got the whole stream: its reason names
    the host before it that could not pass the stream on, when one said so.
    """
    verdicts = {r.host: r for r in reports if r.verdict in ("ok", "failed")}
    forwards = {r.host: r.detail for r in reports if r.verdict == "forward-failed"}
    reasons: dict[str, str | None] = {}
    cause = broken or "the stream broke before it arrived"
    for host in chain:
        report = verdicts.get(host)
        if report is None:
            reasons[host] = f"no verified copy: {cause}"
        else:
            reasons[host] = None if report.verdict == "ok" else report.detail
            cause = f"the stream broke after {host}"
        if host in forwards:
            nxt, _, why = forwards[host].partition(" ")
            cause = f"{host} could not pass it on to {nxt}: {why}"
    return reasons


# -- moving the bytes ----------------------------------------------------------

def _ssh_target(session: Session, name: str) -> str:
    return f"{session.inventory.hosts[name].user}@{name}"


def _stream(ctx: HostContext, command: str, local: LocalFile, progress_hosts: Sequence[str],
            shown: str) -> tuple[int, str, str]:
    """Run ``command`` on the host with the local file as its stdin; (exit status, stdout, stderr).

    One SSH channel on the run's connection, written in large chunks; byte
    progress is reported for every host in ``progress_hosts`` (a pipeline's
    hosts receive the stream at the pace the first one does).
    """
    session, step = ctx.session, ctx.step
    out, err = bytearray(), bytearray()
    done, last = 0, 0.0
    channel = None
    try:
        channel = ctx.connection.client.get_transport().open_session()
        channel.settimeout(STALL_TIMEOUT)
        channel.exec_command(command)
        with open(local.path, "rb") as fh:
            while chunk := fh.read(READ_CHUNK):
                channel.sendall(chunk)
                done += len(chunk)
                while channel.recv_ready():
                    out += channel.recv(65536)
                while channel.recv_stderr_ready():
                    err += channel.recv_stderr(65536)
                now = time.monotonic()
                if now - last >= PROGRESS_INTERVAL or done == local.size:
                    last = now
                    for host in progress_hosts:
                        session.reporter.progress(host, step, done, local.size)
        channel.shutdown_write()
        while data := channel.recv(65536):
            out += data
        while data := channel.recv_stderr(65536):
            err += data
        status = channel.recv_exit_status()
    except (OSError, EOFError, paramiko.SSHException) as exc:  # reset, closed, timed out, transport gone
        status = -1
        err += (f"connection lost after {human_bytes(done)} of {human_bytes(local.size)}: "
                f"{str(exc) or type(exc).__name__}").encode()
    finally:
        if channel is not None:
            channel.close()
    stdout, stderr = out.decode(errors="replace"), err.decode(errors="replace")
    session.reporter.command(ctx.host.name, step, shown, status, (stdout + stderr).strip())
    return status, stdout, stderr


def _send_chain(ctx: HostContext, chain: Sequence[str], remote: RemotePaths, local: LocalFile,
                mode_name: str) -> dict[str, str | None]:
    """Stream from the controller into ``chain`` (its first host is ctx's); host → None or why it failed."""
    targets = [_ssh_target(ctx.session, h) for h in chain]
    command = host_command(remote, local.sha256, "recv", *targets)
    shown = f"[{mode_name}: {local.name} {local.size} bytes] stage {remote.final} via {' → '.join(chain)}"
    status, stdout, stderr = _stream(ctx, command, local, chain, shown)
    broken = ""
    if status != 0:
        broken = (stderr.strip().splitlines() or [f"exit {status}"])[-1]
    return chain_outcomes(chain, parse_reports(stdout), broken)


def _pull(ctx: HostContext, source: str, remote: RemotePaths, local: LocalFile) -> str | None:
    """The host fetches the verified copy of ``source`` over node-to-node SSH; None or why it failed."""
    command = host_command(remote, local.sha256, "pull", _ssh_target(ctx.session, source),
                           _ssh_target(ctx.session, ctx.host.name))
    ctx.progress(0, local.size)
    result = ctx.run(command, check=False)
    mine = [r for r in parse_reports(result.stdout) if r.host == ctx.host.name]
    if mine and mine[-1].verdict == "ok":
        ctx.progress(local.size, local.size)
        return None
    return (mine and mine[-1].detail) or f"no report from the copy (exit {result.exited}): {(result.stderr or '').strip()[-200:]}"


def _write_stamp(ctx: HostContext, remote: RemotePaths, local: LocalFile) -> None:
    ctx.run(f"printf '%s  %s\\n' {local.sha256} {remote.name} > {remote.stamp}.tmp && "
            f"touch -r {remote.final} {remote.stamp}.tmp && mv -f {remote.stamp}.tmp {remote.stamp}", sudo=True)


def open_chain(session: Session, chain: Sequence[str]) -> bool:
    """Whether every host of ``chain`` can SSH to the next one without a prompt, probed in parallel.

    The probe leaves the shared connection of each pair open for a while
    (ControlPersist), so the pipeline's hops then start at once.
    """
    successor = dict(zip(chain, chain[1:]))
    probe = f"ssh -n {NODE_SSH_OPTIONS} {{target}} true"

    def check(ctx: HostContext) -> Outcome:
        result = ctx.run(probe.format(target=_ssh_target(session, successor[ctx.host.name])), check=False)
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


def distribute(session: Session, step: str, hosts: Sequence[str], local_path: Path | str, stage_dir: str,
               mode: str = "auto") -> dict[str, Outcome]:
    """Make ``stage_dir/<file name>`` on every live host in ``hosts`` a verified copy of ``local_path``.

    Returns host → Outcome: unchanged where a verified copy was there already,
    changed where it was copied; a host that did not end up with a verified
    copy is a failed host of ``step`` with the reason. The facts come from
    :meth:`Session.gather` (cached when the step asked them already).
    """
    local = local_file(local_path)
    remote = RemotePaths(stage_dir, local.name)
    gathered = session.gather(step, hosts, lambda h: staged_facts(remote, local.size))
    actions = {h: staging_action(StagedFile.from_fact(f[remote.fact_name]), local) for h, f in gathered.items()}
    targets = [h for h in hosts if actions.get(h) == COPY]
    holders = [h for h in hosts if actions.get(h) in (KEEP, STAMP)]
    chosen = choose_mode(session, mode, targets)
    mover = _Movers(session, remote, local, chosen, targets, holders)

    def stage(ctx: HostContext) -> Outcome:
        name = ctx.host.name
        if actions[name] == KEEP:
            return Outcome.unchanged("already staged")
        if actions[name] == STAMP:
            _write_stamp(ctx, remote, local)
            session.forget_facts(name)
            return Outcome.unchanged("already staged (hash checked, stamp written)")
        started = time.monotonic()
        reason = mover.copy(ctx)
        session.forget_facts(name)
        if reason:
            raise TransferError(reason)
        return Outcome.changed(f"{human_bytes(local.size)} via {chosen}, {time.monotonic() - started:.1f}s")

    # Sources before their targets, so no host waits on one that the bounded pool has not started.
    order = holders + mover.order
    return session.for_each(step, [h for h in order if h in actions], stage)


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
        return self.chain_result.get(ctx.host.name, "the pipeline did not run")

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


__all__ = ["COPY", "KEEP", "MODES", "STAMP", "Copy", "HostReport", "LocalFile", "RemotePaths", "StagedFile", "TransferError",
           "choose_mode", "distribute", "local_file", "relay_edges", "relay_rounds", "staged_facts",
           "staging_action"]
