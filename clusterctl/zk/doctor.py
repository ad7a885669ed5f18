"""The doctor's judgement: what each server node answered (its facts) in, findings out; pure.

A finding is one problem, where it is (a server, or the ensemble), how bad
(warning or critical), the evidence, and what to do. No finding at all is a
healthy ensemble. The facts come from remote/zk_node.py doctor, one run per node
(see :mod:`clusterctl.steps.doctor`); thresholds from the inventory's
``[doctor]`` (:class:`~clusterctl.inventory.DoctorSpec`).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..inventory import DoctorSpec, Inventory, ZkServer
from ..render.key_values import parse_key_values
from ..render.zoo_cfg import changed_settings, render_zoo_cfg
from ..tls.certs import first_pem, parse
from ..tls.phases import written_state
from .fourlw import FourLetterWordError, UnexpectedAnswer, parse_mntr
from .status import EnsembleStatus, ServerStatus, server_status

WARNING, CRITICAL = "warning", "critical"
ENSEMBLE = "ensemble"
DEFAULT_JUTE_MAXBUFFER = "default (0xfffff, 1 MiB - 1)"
# What `conf` reports of the running configuration, and the inventory's value for each.
RUNNING_SETTINGS = {"tickTime": lambda spec: spec.tick_time, "initLimit": lambda spec: spec.init_limit,
                    "syncLimit": lambda spec: spec.sync_limit, "clientPort": lambda spec: spec.client_port}


@dataclass(frozen=True)
class Finding:
    """One problem: ``where`` a server's host or "ensemble"; ``check`` names the check that found it."""

    where: str
    check: str
    severity: str  # warning | critical
    summary: str
    evidence: str
    fix: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class NodeFacts:
    """What one server node answered: remote/zk_node.py doctor's lines by name (values, or errors as strings)."""

    host: str
    answers: dict[str, str | FourLetterWordError] = field(default_factory=dict)  # four-letter words
    values: dict[str, object] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    clock_offset: float | None = None  # the node's clock minus the controller's, in seconds
    unreachable: str = ""  # why the node could not be asked over SSH (its words were asked directly then)

    def get(self, name: str, default=None):
        return self.values.get(name, default)


def parse_node_output(host: str, output: str, received_at: float) -> NodeFacts:
    """remote/zk_node.py doctor's JSON lines as NodeFacts; ``received_at`` is the controller's clock then."""
    values: dict[str, object] = {}
    errors: dict[str, str] = {}
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        item = json.loads(line)
        if item.get("error") is not None:
            errors[item["name"]] = str(item["error"])
        else:
            values[item["name"]] = item.get("value")
    answers: dict[str, str | FourLetterWordError] = {}
    for word, value in (values.pop("fourlw", None) or {}).items():
        answers[word] = value if isinstance(value, str) else FourLetterWordError(
            f"on the node: {value.get('error')}", refused=bool(value.get("refused")))
    clock = values.get("clock")
    offset = float(clock) - received_at if isinstance(clock, (int, float)) else None
    return NodeFacts(host, answers, values, errors, offset)


@dataclass(frozen=True)
class Report:
    findings: list[Finding]
    status: EnsembleStatus

    @property
    def verdict(self) -> str:
        """healthy, warnings or critical: the worst finding."""
        severities = {f.severity for f in self.findings}
        return CRITICAL if CRITICAL in severities else "warnings" if severities else "healthy"

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "findings": [f.to_json() for f in self.findings],
                "quorum": self.status.quorum.to_json(),
                "leader": self.status.leader.host if self.status.leader else None}


# -- reading the facts -------------------------------------------------------------------------

def mntr_of(facts: NodeFacts) -> dict[str, str]:
    answer = facts.answers.get("mntr")
    if not isinstance(answer, str):
        return {}
    try:
        return parse_mntr(answer) or {}
    except UnexpectedAnswer:
        return {}


def number(values: dict[str, str], key: str) -> float | None:
    try:
        return float(values[key])
    except (KeyError, ValueError):
        return None


def heap_bytes(xmx: str | None) -> int | None:
    """-Xmx's value in bytes ("128m" → 134217728); None when unknown."""
    if not xmx:
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    text = xmx.lower()
    try:
        return int(text[:-1]) * units[text[-1]] if text[-1] in units else int(text)
    except ValueError:
        return None


def mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def pct(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


# -- the checks ----------------------------------------------------------------------------------
# Each takes the context and returns its findings; a check that lacks its facts says nothing.

@dataclass(frozen=True)
class Context:
    inventory: Inventory
    limits: DoctorSpec
    facts: dict[str, NodeFacts]  # host → what its node answered
    status: EnsembleStatus
    backup_age_hours: float | None = None  # the newest backup's age on this controller; None: there is none
    now: datetime.datetime = field(default_factory=lambda: datetime.datetime.now(datetime.timezone.utc))

    @property
    def serving(self) -> list[ServerStatus]:
        return [s for s in self.status.servers if s.serving]


def check_servers(ctx: Context) -> list[Finding]:
    """Every server runs and serves; a node not reachable over SSH is said (its node checks are skipped)."""
    out = []
    for s in ctx.status.servers:
        facts = ctx.facts.get(s.host)
        if s.role == "down":
            out.append(Finding(s.host, "server", CRITICAL, f"server {s.id} is down",
                               s.error or "it does not answer on its client port",
                               f"see `journalctl -u zookeeper` on {s.host}, start it with "
                               f"`clusterctl zk start {s.host}`"))
        elif not s.serving:
            out.append(Finding(s.host, "server", CRITICAL, f"server {s.id} does not serve ({s.role})",
                               s.error or "srvr says it is not currently serving requests",
                               "it is electing or syncing; if that lasts, read its log for why"))
        if facts is not None and facts.unreachable:
            out.append(Finding(s.host, "node", WARNING, f"{s.host} could not be asked over SSH",
                               facts.unreachable, "check SSH to the node; its disk, logs and process were not "
                                                  "checked"))
    return out


def check_quorum(ctx: Context) -> list[Finding]:
    q = ctx.status.quorum
    if not q.has_quorum:
        return [Finding(ENSEMBLE, "quorum", CRITICAL, "no quorum: the ensemble serves no requests", q.describe(),
                        "bring voters back (clusterctl zk start)")]
    leaders = [s.host for s in ctx.status.servers if s.role in ("leader", "standalone")]
    if not leaders:
        return [Finding(ENSEMBLE, "leader", CRITICAL, "no leader", q.describe(), "wait for the election to end; "
                        "if it does not, read the servers' logs")]
    if len(leaders) > 1:
        return [Finding(ENSEMBLE, "leader", CRITICAL, f"{len(leaders)} servers say they lead",
                        ", ".join(leaders), "a split ensemble: check each server's membership (zk status)")]
    if q.tolerates == 0:
        return [Finding(ENSEMBLE, "quorum", WARNING, "quorum margin: no more voter may fail", q.describe(),
                        "bring the missing voters back before any maintenance")]
    return []


def check_sync(ctx: Context) -> list[Finding]:
    """The leader's learners in sync: every serving follower and observer, and no pending syncs."""
    leader = ctx.status.leader
    if leader is None or leader.host not in ctx.facts:
        return []
    mntr = mntr_of(ctx.facts[leader.host])
    out = []
    for role, key in (("follower", "zk_synced_followers"), ("observer", "zk_synced_observers")):
        synced = number(mntr, key)
        serving = sum(1 for s in ctx.status.servers if s.role == role)
        if synced is not None and synced < serving:
            out.append(Finding(leader.host, "sync", WARNING, f"{role}s in sync: {int(synced)} of {serving} serving",
                               f"the leader's mntr {key} {int(synced)}", f"a {role} is catching up or stuck; "
                               f"if it lasts, read its log"))
    pending = number(mntr, "zk_pending_syncs")
    if pending:
        out.append(Finding(leader.host, "sync", WARNING, f"{int(pending)} pending syncs on the leader",
                           f"mntr zk_pending_syncs {int(pending)}", "learners are behind; check their disks and "
                           "the network"))
    return out


def check_load(ctx: Context) -> list[Finding]:
    """Outstanding requests and latency, per serving server."""
    lim, out = ctx.limits, []
    for s in ctx.serving:
        mntr = mntr_of(ctx.facts[s.host]) if s.host in ctx.facts else {}
        outstanding = number(mntr, "zk_outstanding_requests")
        if outstanding is None:
            outstanding = s.outstanding
        if outstanding is not None and outstanding >= lim.outstanding_warning:
            severity = CRITICAL if outstanding >= lim.outstanding_critical else WARNING
            threshold = lim.outstanding_critical if severity == CRITICAL else lim.outstanding_warning
            out.append(Finding(s.host, "outstanding", severity, f"{int(outstanding)} outstanding requests",
                               f"at or above {threshold}",
                               "the server cannot keep up: look at its disk (fsync), GC and client load"))
        avg = number(mntr, "zk_avg_latency")
        high = number(mntr, "zk_max_latency")
        if avg is None and s.latency is not None:
            avg, high = s.latency[1], s.latency[2]
        if avg is not None and avg >= lim.latency_avg_warning_ms:
            out.append(Finding(s.host, "latency", WARNING, f"average latency {avg:g} ms",
                               f"at or above {lim.latency_avg_warning_ms} ms", "look at its disk (fsync), GC and "
                               "load; `srst` resets the counters"))
        if high is not None and high >= lim.latency_max_warning_ms:
            out.append(Finding(s.host, "latency", WARNING, f"maximum latency {high:g} ms",
                               f"at or above {lim.latency_max_warning_ms} ms (since the server started or its "
                               f"counters were reset)", "look at its disk (fsync), GC and load; `srst` resets the "
                               "counters"))
    return out


def check_fsyncs(ctx: Context) -> list[Finding]:
    out = []
    for host, facts in ctx.facts.items():
        slow = facts.get("slow_fsyncs") or {}
        count = slow.get("count", 0)
        if count >= ctx.limits.slow_fsyncs_warning:
            out.append(Finding(host, "fsync", WARNING, f"{count} slow fsync{'s' if count != 1 else ''} of the "
                               f"transaction log in the last hour", slow.get("last") or "",
                               "the log's disk is slow or shared: give dataLogDir a disk of its own"))
    return out


def check_memory(ctx: Context) -> list[Finding]:
    """The data against the heap, file descriptors against their limit, the server in swap."""
    lim, out = ctx.limits, []
    for host, facts in ctx.facts.items():
        server = facts.get("server") or {}
        mntr = mntr_of(facts)
        data, heap = number(mntr, "zk_approximate_data_size"), heap_bytes(server.get("xmx"))
        if data is not None and heap:
            share = pct(data, heap)
            if share >= lim.data_heap_warning_pct:
                severity = CRITICAL if share >= lim.data_heap_critical_pct else WARNING
                out.append(Finding(host, "heap", severity, f"the data takes {share:.0f}% of the heap",
                                   f"approximate_data_size {mib(data)} of -Xmx {server.get('xmx')}; "
                                   f"{int(number(mntr, 'zk_znode_count') or 0)} znodes, "
                                   f"{int(number(mntr, 'zk_watch_count') or 0)} watches, "
                                   f"{int(number(mntr, 'zk_ephemerals_count') or 0)} ephemerals",
                                   "raise [zookeeper] heap_mb and run clusterctl apply, or store less"))
        opened = number(mntr, "zk_open_file_descriptor_count")
        limit = number(mntr, "zk_max_file_descriptor_count")
        if opened is None and server.get("open_files") is not None and str(server.get("open_files_limit")).isdigit():
            opened, limit = float(server["open_files"]), float(server["open_files_limit"])
        if opened is not None and limit:
            share = pct(opened, limit)
            if share >= lim.fds_warning_pct:
                severity = CRITICAL if share >= lim.fds_critical_pct else WARNING
                out.append(Finding(host, "fds", severity, f"{int(opened)} of {int(limit)} file descriptors open "
                                   f"({share:.0f}%)", "mntr zk_open_file_descriptor_count",
                                   "too many client connections, or a leak: raise LimitNOFILE or find the clients"))
        swap = server.get("swap_kb")
        if swap:
            out.append(Finding(host, "swap", WARNING, f"the server has {swap} kB in swap", "/proc/PID/status VmSwap",
                               "a swapped JVM stalls past its session timeouts: turn swap off or give the node "
                               "memory"))
    return out


def check_disks(ctx: Context) -> list[Finding]:
    """Free space where the data and the transaction logs are; days left at the last day's growth."""
    lim, out = ctx.limits, []
    for host, facts in ctx.facts.items():
        disks = facts.get("disk") or {}
        day_ago = (facts.get("clock") or 0) - 86400
        recent = sum(f[3] for f in (facts.get("snapshots") or []) + (facts.get("logs") or []) if f[2] >= day_ago)
        seen = set()
        for path, disk in disks.items():
            if "free" not in disk or disk.get("device") in seen:
                continue
            seen.add(disk.get("device"))
            free, total = disk["free"], disk["total"]
            share = pct(free, total)
            days = free / recent if recent else None
            evidence = f"{mib(free)} free of {mib(total)}" + (
                f"; {mib(recent)} written in the last day, full in about {days:.1f} days" if days is not None else "")
            fix = f"free space under {path} (old snapshots: autopurge) or grow the disk"
            if share < lim.disk_free_warning_pct:
                severity = CRITICAL if share < lim.disk_free_critical_pct else WARNING
                out.append(Finding(host, "disk", severity, f"{share:.0f}% free on {path}", evidence, fix))
            elif days is not None and days < lim.disk_days_warning:
                out.append(Finding(host, "disk", WARNING, f"{path} fills in about {days:.1f} days", evidence, fix))
    return out


def check_purge(ctx: Context) -> list[Finding]:
    """Snapshots beyond the purge setting: autopurge off, or not working."""
    spec, out = ctx.inventory.zookeeper, []
    for host, facts in ctx.facts.items():
        snapshots = sorted(facts.get("snapshots") or [], key=lambda f: f[2], reverse=True)
        beyond = snapshots[spec.snap_retain_count:]
        if not beyond:
            continue
        oldest_age = ((facts.get("clock") or 0) - beyond[-1][2]) / 3600
        if spec.purge_interval == 0:
            out.append(Finding(host, "purge", WARNING, f"{len(snapshots)} snapshots and autopurge is off",
                               f"[zookeeper] purge_interval = 0; snap_retain_count {spec.snap_retain_count}",
                               "set purge_interval (hours) and run clusterctl apply, or purge from cron"))
        elif oldest_age > 2 * spec.purge_interval:
            out.append(Finding(host, "purge", WARNING, f"{len(snapshots)} snapshots, {len(beyond)} beyond "
                               f"snap_retain_count {spec.snap_retain_count}",
                               f"the oldest is {oldest_age:.0f} h old; autopurge runs every "
                               f"{spec.purge_interval} h", "autopurge is not working: read the server log for "
                               "PurgeTask"))
    return out


def check_jute(ctx: Context) -> list[Finding]:
    """jute.maxbuffer the same on every server (a follower with a smaller one cannot take a large write)."""
    values = {h: (f.get("server") or {}).get("jute_maxbuffer") or DEFAULT_JUTE_MAXBUFFER
              for h, f in ctx.facts.items() if f.get("server")}
    if len(set(values.values())) <= 1:
        return []
    shown = ", ".join(f"{h} {v}" for h, v in values.items())
    return [Finding(ENSEMBLE, "jute.maxbuffer", CRITICAL, "jute.maxbuffer differs between servers", shown,
                    "set the same -Djute.maxbuffer on every server ([zookeeper] jvm_flags) and on the clients "
                    "that write large znodes, then clusterctl apply")]


def check_config(ctx: Context) -> list[Finding]:
    """The configuration each server runs and has on disk, against the inventory's."""
    inventory, out = ctx.inventory, []
    spec = inventory.zookeeper
    for host, facts in ctx.facts.items():
        problems = []
        on_disk = facts.get("zoo_cfg")
        if isinstance(on_disk, str):
            # Its TLS lines are the phase a TLS roll left it in (the certificate check and zk status judge TLS).
            differs = changed_settings(on_disk, render_zoo_cfg(spec, inventory, host, tls=written_state(on_disk)))
            if differs:
                problems.append("zoo.cfg on disk differs from the inventory (on disk → inventory): "
                                + ", ".join(differs))
        conf = facts.answers.get("conf")
        if isinstance(conf, str):
            running = parse_key_values(conf)
            for key, wanted in RUNNING_SETTINGS.items():
                if key in running and running[key] != str(wanted(spec)):
                    problems.append(f"runs {key}={running[key]}, the inventory says {wanted(spec)}")
        changed = (facts.get("server") or {}).get("changed_since_start") or []
        if changed:
            problems.append("changed since it started: " + ", ".join(changed))
        if problems:
            out.append(Finding(host, "config", WARNING, "the server does not run the inventory's configuration",
                               "; ".join(problems), "clusterctl apply (it writes the files and restarts exactly the "
                                                    "stale servers, one at a time)"))
    return out


def check_versions(ctx: Context) -> list[Finding]:
    out = []
    zk = {s.host: s.version for s in ctx.serving if s.version}
    jdk = {h: (f.get("server") or {}).get("jdk") for h, f in ctx.facts.items() if (f.get("server") or {}).get("jdk")}
    for what, seen, fix in (("ZooKeeper", zk, "finish the upgrade: clusterctl zk upgrade"),
                            ("JDK", jdk, "finish the upgrade: clusterctl jdk upgrade")):
        if len(set(seen.values())) > 1:
            out.append(Finding(ENSEMBLE, "versions", WARNING, f"servers run different {what} versions",
                               ", ".join(f"{h} {v}" for h, v in seen.items()), fix))
    return out


def check_clocks(ctx: Context) -> list[Finding]:
    offsets = {h: f.clock_offset for h, f in ctx.facts.items() if f.clock_offset is not None}
    if len(offsets) < 2:
        return []
    spread = (max(offsets.values()) - min(offsets.values())) * 1000
    if spread < ctx.limits.clock_offset_warning_ms:
        return []
    return [Finding(ENSEMBLE, "clock", WARNING, f"the server nodes' clocks differ by {spread:.0f} ms",
                    ", ".join(f"{h} {o * 1000:+.0f} ms" for h, o in offsets.items()) + " against this controller",
                    "run NTP (chrony) on every node; sessions and logs rely on time")]


def check_backup(ctx: Context) -> list[Finding]:
    age = ctx.backup_age_hours
    if age is None or age < ctx.limits.backup_age_warning_hours:
        return []
    return [Finding(ENSEMBLE, "backup", WARNING, f"the newest backup is {age:.0f} hours old",
                    f"at or above {ctx.limits.backup_age_warning_hours} hours (backups on this controller)",
                    "clusterctl zk backup (from cron)")]


def check_certificates(ctx: Context) -> list[Finding]:
    """Each server's certificate (the first of its keystore) while [tls] turns TLS on: expired or missing is
    critical, fewer than [tls] renew_days left a warning. Nothing while the inventory has no TLS."""
    tls, out = ctx.inventory.zookeeper.tls, []
    if not tls.enabled:
        return out
    renew = "clusterctl apply or clusterctl tls renew issues a new one"
    for host, facts in ctx.facts.items():
        if facts.unreachable:
            continue
        if "tls_cert" in facts.errors:
            out.append(Finding(host, "certificate", WARNING, "its certificate could not be read",
                               facts.errors["tls_cert"], "check the keystore's permissions on the node"))
            continue
        pem = first_pem(facts.get("tls_cert") or "")
        if not pem:
            out.append(Finding(host, "certificate", CRITICAL, "TLS is on in [tls] but the node has no certificate",
                               "no certificate in its keystore", "clusterctl tls (or clusterctl apply) issues one"))
            continue
        try:
            info = parse(pem)
        except ValueError as exc:
            out.append(Finding(host, "certificate", CRITICAL, "its certificate cannot be read", str(exc), renew))
            continue
        left = info.days_left(ctx.now)
        evidence = f"{info.subject}: not after {info.not_after:%Y-%m-%d %H:%M} UTC"
        if left <= 0:
            out.append(Finding(host, "certificate", CRITICAL, f"its certificate expired on {info.not_after:%Y-%m-%d}",
                               evidence + "; peers and clients refuse it", renew))
        elif left < tls.renew_days:
            out.append(Finding(host, "certificate", WARNING, f"its certificate expires in {left:.0f} days",
                               evidence + f"; [tls] renew_days = {tls.renew_days}", renew))
    return out


def check_words(ctx: Context) -> list[Finding]:
    spec = ctx.inventory.zookeeper
    missing = [w for w in ("mntr", "conf") if w not in spec.four_letter_words and "*" not in spec.four_letter_words]
    if not missing:
        return []
    return [Finding(ENSEMBLE, "four-letter words", WARNING, f"the servers do not answer {', '.join(missing)}",
                    f"[zookeeper] four_letter_words = {list(spec.four_letter_words)}",
                    f"add {', '.join(missing)} to four_letter_words and run clusterctl apply: the doctor sees less")]


CHECKS: tuple[Callable[[Context], list[Finding]], ...] = (
    check_servers, check_quorum, check_sync, check_load, check_fsyncs, check_memory, check_disks, check_purge,
    check_jute, check_config, check_versions, check_clocks, check_backup, check_certificates, check_words)


def ensemble_status(servers: tuple[ZkServer, ...], facts: dict[str, NodeFacts]) -> EnsembleStatus:
    """Each server's role from the words its node answered (pure)."""
    return EnsembleStatus([server_status(s, facts[s.host].answers if s.host in facts else {},
                                         "client port" if s.host in facts and facts[s.host].unreachable else "ssh")
                           for s in servers])


def diagnose(inventory: Inventory, facts: dict[str, NodeFacts], backup_age_hours: float | None = None,
             now: datetime.datetime | None = None) -> Report:
    """Every finding on the ensemble the facts describe, servers in the inventory's order, then the ensemble's;
    ``now`` (the controller's time, UTC) judges the certificates."""
    status = ensemble_status(inventory.zookeeper.servers, facts)
    ctx = Context(inventory, inventory.doctor, facts, status, backup_age_hours,
                  now or datetime.datetime.now(datetime.timezone.utc))
    findings = [f for check in CHECKS for f in check(ctx)]
    order = {s.host: i for i, s in enumerate(inventory.zookeeper.servers)}
    findings.sort(key=lambda f: order.get(f.where, len(order)))
    return Report(findings, status)
