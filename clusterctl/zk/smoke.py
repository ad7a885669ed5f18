"""The smoke test: a znode written through one server reads back the same through every other.

Each read first asks its server to ``sync``, so a follower that merely lags
is not taken for one that lost the write. The znode is removed afterwards.
"""

from __future__ import annotations

import secrets
from typing import ContextManager

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, NoNodeError

from ..core.session import HostContext, HostResults, Outcome, Session
from ..errors import ClusterctlError
from .client import client_port, started_client, tls_options
from .sasl import sasl_options
from .status import describe, probe

STEP = "zk-smoke"
CONNECT_TIMEOUT = 10.0
PATH_PREFIX = "/clusterctl-smoke-"


def client(address: str, port: int, timeout: float = CONNECT_TIMEOUT,
           tls: dict | None = None, sasl: dict | None = None) -> ContextManager[KazooClient]:
    """A kazoo session with exactly one server, so every request goes through that server."""
    return started_client(f"{address}:{port}", timeout=timeout, start_within=timeout,
                          unreachable=f"no ZooKeeper session with {address}:{port} within {timeout:.0f}s",
                          connection_retry={"max_tries": 3, "delay": 0.2, "max_delay": 1}, tls=tls,
                          sasl=sasl)


def read_back(zk: KazooClient, path: str, expected: bytes) -> str | None:
    """None when ``path`` holds ``expected`` once the server has synced with the leader, else what is wrong."""
    zk.sync(path)
    try:
        value, _ = zk.get(path)
    except NoNodeError:
        return f"{path} does not exist here"
    if value != expected:
        return f"{path} holds {value[:40]!r}, not {expected!r}"
    return None


def smoke(session: Session) -> HostResults:
    """Write through one serving server, read back through the others, remove; per-host outcomes.

    The others are the servers the run targets (all, or those of --hosts);
    the writer is one of them when one serves, and reads its own write back
    when it is the only one. A host that reads something else, or nothing,
    fails (exit status 1).
    """
    port, tls, sasl = client_port(session.inventory), tls_options(session.inventory), sasl_options(session.inventory)
    status = probe(session)
    targets = session.targets(s.host for s in status.servers)
    serving = [s for s in status.servers if s.serving]
    if not serving:
        raise ClusterctlError(f"no server is serving; {status.quorum.describe()}")
    # Prefer writing through a learner: the write then also crosses the leader's forwarding path.
    candidates = [s for s in serving if s.host in targets] or serving
    writer = next((s for s in candidates if s.role in ("follower", "observer")), candidates[0])
    path = PATH_PREFIX + secrets.token_hex(6)
    token = secrets.token_hex(16).encode()

    def write(ctx: HostContext) -> Outcome:
        with client(ctx.host.address, port, tls=tls, sasl=sasl) as zk:
            zk.create(path, token)
        return Outcome.ok(f"wrote {path} as {writer.role}")

    def read(ctx: HostContext) -> Outcome:
        known = status.server(ctx.host.name)
        if not known.serving:
            return Outcome.failed(f"cannot read back: the server is {describe(known)}")
        try:
            with client(ctx.host.address, port, tls=tls, sasl=sasl) as zk:
                problem = read_back(zk, path, token)
        except KazooException as exc:
            return Outcome.failed(f"reading {path}: {type(exc).__name__} {exc}".strip())
        return Outcome.failed(problem) if problem else Outcome.ok(f"read it back as {known.role}")

    # A znode written through one server, whichever serves: ZooKeeper changes, no host does.
    outcomes = session.for_each(STEP, [writer.host], write, changes_host=False)
    if not outcomes.get(writer.host) or not outcomes[writer.host].succeeded:
        return outcomes
    try:
        readers = [h for h in targets if h != writer.host] or [writer.host]
        outcomes.update(session.for_each(STEP, readers, read))
    finally:
        remove(session, writer.host, path)
    return outcomes


def remove(session: Session, host: str, path: str) -> None:
    """Delete the smoke znode; a leftover is reported, never fatal."""
    address = session.inventory.hosts[host].address
    try:
        with client(address, client_port(session.inventory), tls=tls_options(session.inventory),
                    sasl=sasl_options(session.inventory)) as zk:
            zk.delete(path)
    except (KazooException, ClusterctlError) as exc:
        session.reporter.note(host, STEP, f"could not remove {path}: {exc}")
