"""Whether a server reads a renewed certificate by itself or must restart for it (pure).

The quorum side reads it again by itself (``sslQuorumReloadCertFiles``, every
release clusterctl runs). The client port does only from ZooKeeper 3.8.5 on,
with ``client.certReload=true``; before that it reads its certificate at start.
"""

from __future__ import annotations

import re

from ..render.key_values import parse_key_values

CLIENT_CERT_RELOAD_SINCE = (3, 8, 5)


def release_version(name: str) -> tuple[int, int, int] | None:
    """The version in a release's name or directory (``/opt/zookeeper/apache-zookeeper-3.8.0-bin``,
    ``apache-zookeeper-3.9.3-bin.tar.gz``); None when it names none."""
    found = re.search(r"(\d+)\.(\d+)\.(\d+)", name.rstrip("/").rsplit("/", 1)[-1])
    return tuple(int(n) for n in found.groups()) if found else None


def client_cert_reload_supported(version: tuple[int, int, int] | None) -> bool:
    """The release's client port can read a new certificate without a restart (unknown: it cannot)."""
    return version is not None and version >= CLIENT_CERT_RELOAD_SINCE


def client_reloads_certificate(running_release: str, zoo_cfg: str | None, stale: bool) -> bool:
    """A running server's client port reads a renewed certificate by itself: its release can, and it started
    with ``client.certReload=true`` (a server whose configuration changed since it started restarts anyway)."""
    settings = parse_key_values(zoo_cfg or "")
    return (client_cert_reload_supported(release_version(running_release)) and not stale
            and settings.get("client.certReload", "").strip().lower() == "true")
