"""A kazoo session with ZooKeeper: started within a deadline or one line saying so, always stopped and closed."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError

from ..errors import ClusterctlError, UsageError
from ..inventory import Inventory

# kazoo logs every reconnect attempt; what the command does with the session says what matters.
_log = logging.getLogger("clusterctl.zk.client")
_log.addHandler(logging.NullHandler())
_log.propagate = False


def client_port(inventory: Inventory) -> int:
    """The port clusterctl's own clients use: the TLS one when [tls] client = "required" (no other host may
    use the plaintext one then), else the plaintext one (TLS is then a choice left to each client)."""
    spec = inventory.zookeeper
    return spec.tls.secure_client_port if spec.tls.client == "required" else spec.client_port


def tls_options(inventory: Inventory, always: bool = False) -> dict:
    """kazoo's TLS settings for :func:`client_port` (none when it is the plaintext port; ``always``: for the
    TLS port whatever [tls] says): the controller's own client certificate, made with the cluster's CA by
    the run that turned TLS on."""
    if inventory.zookeeper.tls.client != "required" and not always:
        return {}
    from ..tls.ca import existing_client_files, tls_dir
    files = existing_client_files(inventory)
    if files is None:
        raise UsageError(f"{tls_dir(inventory)}: no client certificate of this controller's for the TLS-only "
                         f"ensemble; copy that directory from the controller that turned TLS on (or run "
                         f"clusterctl apply there)")
    return {"use_ssl": True, "verify_certs": True, "ca": str(files.ca), "certfile": str(files.cert),
            "keyfile": str(files.key)}


def endpoints(inventory: Inventory, hosts) -> str:
    """kazoo's hosts string for ``hosts`` (inventory names): "address:port,…" on :func:`client_port`."""
    port = client_port(inventory)
    return ",".join(f"{inventory.hosts[h].address}:{port}" for h in hosts if h in inventory.hosts)


@contextmanager
def started_client(servers: str, *, timeout: float, start_within: float, unreachable: str,
                   connection_retry: dict, command_retry: dict | None = None,
                   auth_data: list[tuple[str, str]] | None = None,
                   tls: dict | None = None, sasl: dict | None = None) -> Iterator[KazooClient]:
    """A kazoo session with ``servers`` ("address:port,…"), stopped and closed when the block ends.

    ``timeout`` is the session's, ``start_within`` how long it may take to
    start; if it does not, ClusterctlError(``unreachable``). ``auth_data`` is
    kazoo's (the super user's digest for a reconfig), None for none; ``tls``
    kazoo's TLS settings (:func:`tls_options`), None for plaintext; ``sasl``
    its SASL login (:func:`clusterctl.zk.sasl.sasl_options`), None for none.
    """
    zk = KazooClient(hosts=servers, timeout=timeout, logger=_log, auth_data=auth_data,
                     connection_retry=connection_retry, command_retry=command_retry, **(tls or {}), **(sasl or {}))
    try:
        zk.start(timeout=start_within)
    except KazooTimeoutError:
        zk.stop()
        zk.close()
        raise ClusterctlError(unreachable) from None
    try:
        yield zk
    finally:
        zk.stop()
        zk.close()
