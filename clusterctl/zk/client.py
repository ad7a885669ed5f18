"""A kazoo session with ZooKeeper: started within a deadline or one line saying so, always stopped and closed."""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

from kazoo.client import KazooClient
from kazoo.handlers.threading import KazooTimeoutError

from ..errors import ClusterctlError

# kazoo logs every reconnect attempt; what the command does with the session says what matters.
_log = logging.getLogger("clusterctl.zk.client")
_log.addHandler(logging.NullHandler())
_log.propagate = False


@contextmanager
def started_client(servers: str, *, timeout: float, start_within: float, unreachable: str,
                   connection_retry: dict, command_retry: dict | None = None,
                   auth_data: list[tuple[str, str]] | None = None) -> Iterator[KazooClient]:
    """A kazoo session with ``servers`` ("address:port,…"), stopped and closed when the block ends.

    ``timeout`` is the session's, ``start_within`` how long it may take to
    start; if it does not, ClusterctlError(``unreachable``). ``auth_data`` is
    kazoo's (the super user's digest for a reconfig), None for none.
    """
    zk = KazooClient(hosts=servers, timeout=timeout, logger=_log, auth_data=auth_data,
                     connection_retry=connection_retry, command_retry=command_retry)
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
