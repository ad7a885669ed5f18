"""zk backup and zk restore: a consistent copy of the ensemble's data on the controller, and the way back to it.

Backup: one server that serves under the leader (an observer or a follower
first; nothing stops or restarts) lists its snapshots and logs; the newest
complete snapshot and the logs to replay past it (:func:`~clusterctl.zk.backup.needed_files`)
are streamed to the controller, hashed on the way, into ``<dest>.partial``;
the copy is then sent back to that server into a scratch directory and
loaded there with the release's own classes, as a server loads its data at
start, which gives the last zxid and every znode (kept as ``znodes.txt``);
only then is ``manifest.json`` written and the directory renamed to ``<dest>``.

Restore (into the ensemble the backup was taken from): every server is
stopped first, so no client writes into a half-restored ensemble; on each,
its data (and log) directory is moved aside to ``<dir>.before-restore-<time>``,
never deleted, and made anew with its myid, its epoch files and the backup's
files, each checked by sha256; then every server is started and waited for
until it serves with a leader, and every znode of the backup is read back.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from importlib import resources
from pathlib import Path

from ..core.session import HostContext, Outcome, Session
from ..core.transfer import fetch
from ..display import human_bytes
from ..errors import BackupFailed, HostsFailed, UsageError
from ..zk import backup as zkb
from ..zk import superuser
from ..zk.server import home, java_home
from ..zk.status import EnsembleStatus, probe
from . import zookeeper
from .day2 import Day2Plan

COPY_STEP = "zk-backup"
CHECK_STEP = "zk-backup-check"
RESTORE_STEP = "zk-restore"
READBACK_STEP = "zk-read-back"
SCRIPT = "zk_backup.sh"
LOADER = "backup_load.java"
READBACK_CONNECT = 30.0  # seconds for the read-back's session to start


def default_destination(cluster: str) -> Path:
    """~/.local/state/clusterctl/backups/<cluster>/<time> (under $XDG_STATE_HOME when set)."""
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "clusterctl" / "backups" / cluster / datetime.now().strftime("%Y%m%d-%H%M%S")


def remote_path(session: Session, f: zkb.DataFile | zkb.FileEntry) -> str:
    spec = session.inventory.zookeeper
    return f"{spec.data_dir if f.kind == 'snapshot' else spec.data_log_dir}/version-2/{f.name}"


@dataclass
class BackupPlan(Day2Plan):
    source: str = ""
    status: EnsembleStatus | None = None
    selection: zkb.Selection | None = None
    destination: Path = Path()


@dataclass
class BackupResult:
    path: Path
    manifest: zkb.Manifest


def plan_backup(session: Session, to: Path | None = None) -> BackupPlan:
    """Which server to copy from and which of its files; refused (NoQuorum, Refused, BackupInvalid) before
    anything is copied. Reads only."""
    inventory = session.inventory
    spec = inventory.zookeeper
    zookeeper.servers(inventory)
    destination = (to or default_destination(inventory.cluster.name)).expanduser().absolute()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise UsageError(f"{destination}: exists and is not an empty directory; a backup goes into a new one")
    status = probe(session)
    source = zkb.choose_source(status, session.targets(s.host for s in status.servers))

    def ls(ctx: HostContext) -> Outcome:
        result = ctx.run_script(SCRIPT, "list", spec.data_dir, spec.data_log_dir, become=True)
        return Outcome.ok(data=zkb.parse_listing(result.stdout))

    listed = session.for_each(COPY_STEP, [source.host], ls, report=False, changes_host=False).get(source.host)
    if listed is None or not listed.succeeded:
        raise BackupFailed(f"{source.host}: could not list its data: {listed.detail if listed else 'not asked'}")
    selection = zkb.needed_files(listed.data)
    plan = BackupPlan(source=source.host, status=status, selection=selection, destination=destination)
    logs = ", ".join(f.name for f in selection.logs) or "no log"
    plan.change(COPY_STEP, source.host,
                f"copy {selection.snapshot.name} and {logs} ({human_bytes(selection.size)}) from {source.host} "
                f"({source.role}, zxid {zkb.describe_zxid(source.zxid or 0)}) to {destination}; no server stops "
                f"or restarts")
    plan.change(CHECK_STEP, source.host,
                f"load the copy with ZooKeeper's own classes ({home(spec)}/lib) on {source.host} in a scratch "
                f"directory (removed afterwards): last zxid, every znode, and only then write {zkb.MANIFEST}")
    return plan


def loader_source() -> bytes:
    return resources.files("clusterctl.remote").joinpath(LOADER).read_bytes()


def check_copy(ctx: HostContext, files_dir: Path, entries: list[zkb.FileEntry], listing: Path) -> zkb.Loaded:
    """Load the copy under ``files_dir`` with the release on ``ctx``'s host; its znodes into ``listing``."""
    inventory = ctx.session.inventory
    loader = loader_source()
    raw = listing.with_name(listing.name + ".load")
    args = [a for e in entries for a in (e.name, e.size, e.sha256)]
    with open(raw, "wb") as out:
        ctx.run_script(SCRIPT, "verify", java_home(inventory), home(inventory.zookeeper), len(loader), *args,
                       payload=[loader, *(files_dir / e.name for e in entries)], become=True, sink=out.write)
    try:
        with open(raw, encoding="utf-8") as lines, open(listing, "w") as out:
            return zkb.split_load_output(lines, out)
    finally:
        raw.unlink(missing_ok=True)


def backup(session: Session, plan: BackupPlan) -> BackupResult:
    """Carry out ``plan``: copy, check, manifest (see the module); BackupFailed or HostsFailed otherwise."""
    inventory = session.inventory
    destination, host = plan.destination, plan.source
    partial = destination.with_name(destination.name + ".partial")
    files_dir = partial / zkb.FILES_DIR
    entries: list[zkb.FileEntry] = []

    def copy(ctx: HostContext) -> Outcome:
        for f in plan.selection.files:
            got = fetch(ctx, files_dir / f.name, SCRIPT, "cat", remote_path(session, f), become=True,
                        expected=f.size)
            entries.append(zkb.FileEntry(f.kind, f.name, got.size, got.sha256))
        return Outcome.changed(f"{len(entries)} files, {human_bytes(sum(e.size for e in entries))} to {partial}")

    loaded: list[zkb.Loaded] = []

    def check(ctx: HostContext) -> Outcome:
        loaded.append(check_copy(ctx, files_dir, entries, partial / zkb.LISTING))
        return Outcome.ok(f"loaded by ZooKeeper: {loaded[0].count} znodes, last zxid "
                          f"{zkb.describe_zxid(loaded[0].zxid)}")

    for step, work in ((COPY_STEP, copy), (CHECK_STEP, check)):
        outcome = session.for_each(step, [host], work).get(host)
        if outcome is None or not outcome.succeeded:
            raise HostsFailed()
    listing = partial / zkb.LISTING
    spec = inventory.zookeeper
    manifest = zkb.Manifest(
        cluster=inventory.cluster.name, server=host, servers={s.host: s.id for s in spec.servers},
        zookeeper_version=plan.status.server(host).version, taken_at=datetime.now(timezone.utc).isoformat(),
        snapshot_zxid=zkb.describe_zxid(plan.selection.snapshot.zxid), last_zxid=zkb.describe_zxid(loaded[0].zxid),
        znodes=loaded[0].count, files=entries,
        listing=zkb.FileEntry("listing", zkb.LISTING, listing.stat().st_size, zkb.file_sha256(listing)))
    (partial / zkb.MANIFEST).write_text(manifest.to_json())
    partial.rename(destination)
    return BackupResult(destination, manifest)


# -- restore ----------------------------------------------------------------------------

@dataclass
class RestorePlan(Day2Plan):
    backup: Path = Path()
    manifest: zkb.Manifest | None = None
    stopping: Day2Plan | None = None
    servers: list[str] = field(default_factory=list)


@dataclass
class RestoreResult:
    aside: dict[str, str]  # host → where its data before the restore is
    checked: int  # znodes of the backup read back
    started: object = None  # zookeeper.StartResult


def same_ensemble(session: Session, manifest: zkb.Manifest) -> bool:
    """Whether the backup is of this inventory's ensemble (its cluster and its servers' ids)."""
    inventory = session.inventory
    return manifest.cluster == inventory.cluster.name and \
        manifest.servers == {s.host: s.id for s in inventory.zookeeper.servers}


def plan_restore(session: Session, backup_dir: Path, *, into: bool = False) -> RestorePlan:
    """What ``zk restore`` will do; refused (BackupInvalid, UsageError) before anything changes. Reads only.

    A backup of another ensemble (another cluster, other server ids) is restored only ``into`` (--into:
    the operator named this inventory as the one to restore into); otherwise it is refused.
    """
    inventory = session.inventory
    spec = inventory.zookeeper
    servers = zookeeper.servers(inventory)
    manifest = zkb.load_backup(backup_dir)
    from ..zk.client import tls_options
    tls_options(inventory)  # a TLS-only ensemble without this controller's certificate: refused before any stop
    here = {s.host: s.id for s in spec.servers}
    foreign = not same_ensemble(session, manifest)
    if foreign and not into:
        raise UsageError(f"the backup is of cluster {manifest.cluster!r} with servers {manifest.servers}, "
                         f"{inventory.path}'s is {inventory.cluster.name!r} with {here}: to restore it into this "
                         f"other ensemble, say so: zk restore BACKUP --into {inventory.path}")
    left_out = [h for h in servers if h not in session.targets(servers)] if session.limited else []
    if left_out:
        raise UsageError(f"zk restore restores every server at once (a partial restore would mix two histories): "
                         f"drop --hosts ({', '.join(left_out)} left out)")
    stopping = zookeeper.plan_stop(session)
    plan = RestorePlan(backup=backup_dir.absolute(), manifest=manifest, stopping=stopping, servers=servers)
    plan.steps = dict(stopping.steps)
    moved = spec.data_dir if spec.data_log_dir.startswith(spec.data_dir + "/") else \
        f"{spec.data_dir} and {spec.data_log_dir}"
    for host in servers:
        plan.change(RESTORE_STEP, host, f"move {moved} aside to …before-restore-<time> (kept), make them anew "
                                        f"with myid and the epoch files, put the backup's {len(manifest.files)} "
                                        f"files ({human_bytes(manifest.size)}) there, each checked by sha256")
        plan.change(zookeeper.START_STEP, host, "start the server, then wait until every server serves under a "
                                                "leader with a quorum")
    if foreign:
        plan.note(RESTORE_STEP, servers[0], f"a backup of cluster {manifest.cluster} (servers {manifest.servers}) "
                                            f"into {inventory.cluster.name}: its data only; the membership stays "
                                            f"{inventory.cluster.name}'s")
    plan.change(READBACK_STEP, servers[0], f"read back every znode of the backup ({manifest.znodes} in all, as "
                                           f"of zxid {manifest.last_zxid}) through the client ports")
    return plan


def restore(session: Session, plan: RestorePlan, *, timeout: float = zookeeper.START_TIMEOUT) -> RestoreResult:
    """Carry out ``plan`` (see the module); HostsFailed, EnsembleNotReady or BackupFailed where it stops."""
    inventory = session.inventory
    spec, manifest = inventory.zookeeper, plan.manifest
    zookeeper.stop(session, plan.stopping)
    if any(h in session.failures for h in plan.servers):
        for host in plan.servers:
            session.reporter.note(host, RESTORE_STEP, "no data was touched: a server did not stop")
        raise HostsFailed()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    args = [zkb.epoch_of(manifest.last_zxid)] + [a for f in manifest.files for a in (f.kind, f.name, f.size, f.sha256)]
    files = [zkb.local_path(plan.backup, f) for f in manifest.files]
    aside: dict[str, str] = {}

    def put(ctx: HostContext) -> Outcome:
        result = ctx.run_script(SCRIPT, "restore", spec.data_dir, spec.data_log_dir, stamp, *args, payload=files,
                                become=True)
        aside[ctx.host.name] = result.stdout.strip().splitlines()[-1].removeprefix("restored ")
        session.forget_facts(ctx.host.name, "zk.")
        return Outcome.changed(f"backup put in place (as of {manifest.last_zxid}); what was there is in "
                               f"{aside[ctx.host.name]}")

    session.for_each(RESTORE_STEP, plan.servers, put)
    failed = [h for h in plan.servers if h in session.failures]
    if failed:
        raise BackupFailed(f"the restore stopped: {', '.join(failed)} did not take the backup; every server is "
                           f"stopped; run zk restore again (data from before is kept in "
                           f"{spec.data_dir}.before-restore-{stamp})")
    started = zookeeper.start(session, zookeeper.ZkStart(timeout=timeout).plans(session), timeout)
    expected = zkb.read_listing(plan.backup / zkb.LISTING)
    outcome = session.for_each(READBACK_STEP, plan.servers[:1],
                               lambda ctx: read_back(ctx, expected)).get(plan.servers[0])
    if outcome is None or not outcome.succeeded:
        raise HostsFailed()
    return RestoreResult(aside, len(expected), started)


def read_back(ctx: HostContext, expected: dict[str, zkb.Listed]) -> Outcome:
    """Every znode of ``expected`` read through the servers' client ports (as the super user when this
    controller has its password, so that no ACL hides one), compared by sha256 of its data and by its ACL."""
    from kazoo.exceptions import NoNodeError

    from ..zk.client import started_client, tls_options
    from ..zk.membership import client_hosts
    from ..zk.sasl import sasl_options
    inventory = ctx.session.inventory
    secret = superuser.existing_password(inventory)
    servers = client_hosts(inventory, inventory.zookeeper.hosts)
    found: dict[str, zkb.Listed | None] = {}
    with started_client(servers, timeout=10, start_within=READBACK_CONNECT,
                        unreachable=f"no ZooKeeper session with any of {servers} within {READBACK_CONNECT:.0f}s: "
                                    f"the read-back of the restored znodes needs their client ports",
                        connection_retry={"max_tries": 5, "delay": 0.2, "max_delay": 2},
                        auth_data=superuser.auth_data(inventory) if secret else None,
                        tls=tls_options(inventory), sasl=sasl_options(inventory)) as zk:
        zk.sync("/")
        paths = list(expected)
        for i in range(0, len(paths), 500):
            batch = {p: (zk.get_async(p), zk.get_acls_async(p)) for p in paths[i:i + 500]}
            for path, (data, acls) in batch.items():
                try:
                    digest = hashlib.sha256(data.get(timeout=30)[0] or b"").hexdigest()
                    acl = zkb.acl_text((a.perms, a.id.scheme, a.id.id) for a in acls.get(timeout=30)[0])
                    found[path] = zkb.Listed(digest, acl)
                except NoNodeError:
                    found[path] = None
    differ = zkb.compare(expected, found, digests_masked=not secret)
    if differ:
        raise BackupFailed(f"{len(differ)} of {len(expected)} znodes of the backup do not read back: "
                           + "; ".join(differ[:5]))
    with_acls = all(listed.acl is not None for listed in expected.values())
    return Outcome.ok(f"all {len(expected)} znodes of the backup read back, with their data"
                      + (" and ACLs" if with_acls else " (this backup's listing has no ACLs)"))
