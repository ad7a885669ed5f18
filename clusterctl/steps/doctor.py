"""zk doctor: ask every server node once (remote/zk_node.py doctor, read only), then judge (clusterctl.zk.doctor).

The node program asks its own server's four-letter words on 127.0.0.1, so
the doctor works where the words are allowed to localhost only, through
bastions and sudo like every remote script. A node that cannot be reached
over SSH is asked its words over the client port from here instead, and
said to be unreachable.
"""

from __future__ import annotations

import time

from ..core.session import HostContext, Outcome, Session
from ..errors import Interrupted
from ..render.zk_service import LOG_FILE, UNIT
from ..render.zoo_cfg import keystore_path
from ..zk import install as zk_install
from ..zk.doctor import NodeFacts, Report, diagnose, parse_node_output
from ..zk.fourlw import ASK_TIMEOUT
from ..zk.server import pid_file
from ..zk.status import allowed_words, ask_directly
from . import zookeeper
from .backup import default_destination

STEP = "zk-doctor"
SCRIPT = "zk_node.py"
WORDS = ("srvr", "mntr", "conf")


def words(session: Session) -> list[str]:
    """The words the doctor asks: srvr always, mntr and conf where the servers allow them."""
    allowed = session.inventory.zookeeper.four_letter_words
    return allowed_words(session.inventory.zookeeper, False) + [
        w for w in WORDS[1:] if w in allowed or "*" in allowed]


def script_args(session: Session) -> list[object]:
    spec = session.inventory.zookeeper
    return ["doctor", spec.client_port, f"{ASK_TIMEOUT:g}", ",".join(words(session)), spec.data_dir, spec.data_log_dir,
            f"{spec.log_dir}/{LOG_FILE}", UNIT, pid_file(spec), f"{spec.conf_dir}/zoo.cfg", keystore_path(spec),
            *zk_install.config_files(spec)]


def node_facts(ctx: HostContext) -> Outcome:
    """What ``ctx``'s node answers (one run of the node program, as root: the logs and data are not the
    login user's); a node that cannot be asked is asked its words over the client port, and said to be
    unreachable: a finding, not a failed host."""
    try:
        result = ctx.run_script(SCRIPT, *script_args(ctx.session), become=True, timeout=60)
    except Interrupted:
        raise
    except Exception as exc:  # unreachable, no sudo, no python3: the report says so
        spec = ctx.session.inventory.zookeeper
        answers = ask_directly(ctx.host.address, spec.client_port, words(ctx.session))
        reason = next((line for line in str(exc).splitlines() if line.strip()), type(exc).__name__)
        return Outcome.ok(data=NodeFacts(ctx.host.name, answers, unreachable=reason))
    return Outcome.ok(data=parse_node_output(ctx.host.name, result.stdout, time.time()))


def gather(session: Session) -> dict[str, NodeFacts]:
    """host → NodeFacts of every server (in the inventory's order)."""
    servers = zookeeper.servers(session.inventory)
    outcomes = session.for_each(STEP, servers, node_facts, report=False, changes_host=False)
    if any(o.data is None for o in outcomes.values()) or len(outcomes) < len(servers):
        raise Interrupted("the doctor was interrupted before every node answered")
    return {host: outcomes[host].data for host in servers}


def newest_backup_age(cluster: str, now: float | None = None) -> float | None:
    """Hours since the newest complete backup ``zk backup`` made of ``cluster`` on this controller; None if none."""
    root = default_destination(cluster).parent
    try:
        times = [p.stat().st_mtime for p in root.iterdir() if (p / "manifest.json").is_file()]
    except OSError:
        return None
    return ((now or time.time()) - max(times)) / 3600 if times else None


def doctor(session: Session) -> Report:
    """The ensemble's findings (reads only; never fails a host: a silent server is a finding)."""
    facts = gather(session)
    return diagnose(session.inventory, facts, newest_backup_age(session.inventory.cluster.name))

