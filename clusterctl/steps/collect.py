"""clusterctl collect: a support bundle of the ensemble in one tarball, secrets redacted.

Per server (one run of remote/zk_node.py collect, read only): the config it
runs, srvr/mntr/conf, the last lines of its server and GC logs, the unit's
journal, disks and memory, its ZooKeeper and JDK versions; for the ensemble the
doctor's report from the same answers; from this controller the inventory and
the last run logs of this inventory. Every text goes through
:func:`clusterctl.zk.bundle.redact` before it is written.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ..core.session import HostContext, Outcome, Session
from ..display import default_log_path
from ..errors import Interrupted
from ..render.zk_service import DROPIN_PATH, UNIT_PATH
from ..zk import superuser
from ..zk.bundle import member_name, redact
from ..zk.doctor import NodeFacts, Report, diagnose, parse_node_output
from ..zk.status import ask_directly
from . import zookeeper
from .doctor import SCRIPT, newest_backup_age, script_args, words

STEP = "collect"
LOG_LINES = 1000
RUN_LOGS = 5  # the controller's last run logs of this inventory


@dataclass
class Bundle:
    path: Path
    members: int
    report: Report


def collect_args(session: Session, lines: int) -> list[object]:
    spec = session.inventory.zookeeper
    files = [spec.conf_dir, UNIT_PATH, DROPIN_PATH]
    return ["collect", lines, ",".join(files), *script_args(session)[1:]]


def node_bundle(ctx: HostContext, lines: int) -> Outcome:
    """What ``ctx``'s node gives for the bundle: (NodeFacts, the file lines); a node SSH cannot reach gives
    its words asked over the client port."""
    try:
        result = ctx.run_script(SCRIPT, *collect_args(ctx.session, lines), become=True, timeout=120,
                                secret_output=True)
    except Interrupted:
        raise
    except Exception as exc:  # unreachable, no sudo: said in the bundle
        spec = ctx.session.inventory.zookeeper
        answers = ask_directly(ctx.host.address, spec.client_port, words(ctx.session))
        reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        return Outcome.ok(data=(NodeFacts(ctx.host.name, answers, unreachable=reason), []))
    files = []
    for line in result.stdout.splitlines():
        if line.startswith('{"name": "file"'):
            files.append(json.loads(line)["value"])
    return Outcome.ok(data=(parse_node_output(ctx.host.name, result.stdout, time.time()), files))


def known_secrets(session: Session) -> tuple[str, ...]:
    """The secrets this controller knows of the cluster: the super user's password and its digest, and the
    SASL passwords."""
    from ..zk import sasl
    secret = superuser.existing_password(session.inventory)
    return ((secret, superuser.digest(secret)) if secret else ()) + sasl.known_secrets(session.inventory)


def recent_run_logs(inventory_path: Path, count: int = RUN_LOGS) -> list[Path]:
    """The newest ``count`` run logs of this inventory (their first line names it), newest last."""
    runs = default_log_path("x").parent
    mine = []
    for path in sorted(runs.glob("*.log"), reverse=True) if runs.is_dir() else []:
        try:
            with open(path, errors="replace") as f:
                first = f.readline()
        except OSError:
            continue
        if f" with {inventory_path}" in first:
            mine.append(path)
            if len(mine) == count:
                break
    return mine[::-1]


def default_output(cluster: str) -> Path:
    return Path(f"{cluster}-collect-{datetime.now():%Y%m%d-%H%M%S}.tar.gz")


def collect(session: Session, out: Path, lines: int = LOG_LINES) -> Bundle:
    """Write the bundle to ``out`` (through ``out``.partial, renamed when complete)."""
    inventory = session.inventory
    servers = zookeeper.servers(inventory)
    outcomes = session.for_each(STEP, servers, lambda ctx: node_bundle(ctx, lines), report=False,
                                changes_host=False)
    if any(o.data is None for o in outcomes.values()) or len(outcomes) < len(servers):
        raise Interrupted("collect was interrupted before every node answered")
    secrets = known_secrets(session)
    facts = {h: outcomes[h].data[0] for h in servers}
    report = diagnose(inventory, facts, newest_backup_age(inventory.cluster.name))
    top = out.name.removesuffix(".tar.gz").removesuffix(".tgz")
    partial = out.with_name(out.name + ".partial")
    count = 0
    with tarfile.open(partial, "w:gz") as tar:
        def add(name: str, text: str) -> None:
            nonlocal count
            data = redact(text, secrets).encode()
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o600
            tar.addfile(info, io.BytesIO(data))
            count += 1

        add("doctor.json", json.dumps(report.to_json(), indent=2) + "\n")
        for host in servers:
            node, files = outcomes[host].data
            if node.unreachable:
                add(f"{host}/UNREACHABLE.txt", node.unreachable + "\n")
            for word, answer in node.answers.items():
                add(f"{host}/{word}.txt", answer if isinstance(answer, str) else f"not asked: {answer}\n")
            add(f"{host}/node.json", json.dumps({"values": node.values, "errors": node.errors,
                                                 "clock_offset_s": node.clock_offset}, indent=2) + "\n")
            for f in files:
                add(f"{host}/{member_name(f['path'])}", f["text"] if "text" in f else f"unreadable: {f['error']}\n")
        add("controller/inventory.toml", inventory.path.read_text(errors="replace"))
        for log in recent_run_logs(inventory.path):
            add(f"controller/runs/{log.name}", log.read_text(errors="replace"))
    os.chmod(partial, 0o600)
    partial.rename(out)
    return Bundle(out, count, report)

