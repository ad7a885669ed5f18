"""Opening one SSH connection to one inventory host.

Connections honour ~/.ssh/config, identity files and the agent (through
Fabric's config), pin host keys with accept-new semantics, and on first
contact with only a password install the controller's public key on the host,
as ``ssh-copy-id`` does, so later runs need no password.
"""

from __future__ import annotations

import shlex
from pathlib import Path

import fabric
import paramiko

from ..errors import ClusterctlError
from ..inventory import Host
from .hostkeys import KnownHosts, known_hosts_name, mismatch_error, prepare_client

CONNECT_TIMEOUT = 10


class ConnectError(ClusterctlError):
    """The host could not be reached or refused us."""


def open_connection(host: Host, known_hosts: KnownHosts, password: str | None = None) -> fabric.Connection:
    """An open, authenticated Fabric connection to ``host``; raises ConnectError."""
    connect_kwargs: dict = {"banner_timeout": CONNECT_TIMEOUT, "auth_timeout": CONNECT_TIMEOUT}
    if host.identity:
        connect_kwargs["key_filename"] = [str(host.identity)]
    if password:
        connect_kwargs["password"] = password
    conn = fabric.Connection(host.address, user=host.user, port=host.port,
                             connect_timeout=CONNECT_TIMEOUT, connect_kwargs=connect_kwargs)
    prepare_client(conn.client, known_hosts, known_hosts_name(host.address, host.port))
    try:
        conn.open()
    except paramiko.BadHostKeyException as exc:
        raise mismatch_error(host.name, host.address, exc, known_hosts) from None
    except paramiko.AuthenticationException:
        how = "key and password" if password else "key (no password given: try --ask-pass)"
        raise ConnectError(f"authentication as {host.user}@{host.address} failed with {how}") from None
    except (OSError, paramiko.SSHException, EOFError) as exc:
        raise ConnectError(f"cannot connect to {host.address}:{host.port}: {exc or type(exc).__name__}") from None
    if password and _authenticated_by_password(conn):
        install_controller_key(conn, host)
    return conn


def _authenticated_by_password(conn: fabric.Connection) -> bool:
    handler = conn.transport.auth_handler
    return handler is not None and getattr(handler, "auth_method", "") == "password"


def controller_public_key(identity: Path) -> str:
    """The OpenSSH public-key line of the controller's identity."""
    pub = Path(str(identity) + ".pub")
    if pub.exists():
        return " ".join(pub.read_text().split()[:2])
    key = paramiko.PKey.from_path(identity)
    return f"{key.get_name()} {key.get_base64()}"


def install_controller_key(conn: fabric.Connection, host: Host) -> None:
    """Append the controller's key to the remote authorized_keys unless present (ssh-copy-id)."""
    if host.identity is None:
        return
    line = controller_public_key(host.identity)
    script = (
        "umask 077; mkdir -p ~/.ssh && touch ~/.ssh/authorized_keys && "
        f"(grep -qxF {shlex.quote(line)} ~/.ssh/authorized_keys || "
        f"printf '%s\\n' {shlex.quote(line)} >> ~/.ssh/authorized_keys)"
    )
    conn.run(script, hide=True, in_stream=False)
