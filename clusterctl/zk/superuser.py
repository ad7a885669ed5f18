"""ZooKeeper's super user, the only one allowed to reconfigure the ensemble: a password kept on the controller.

The servers know only its digest (``super:<base64 sha1>``, ZooKeeper's own
DigestAuthenticationProvider), in a file root alone reads. The password is
made once per cluster, on the controller that first installs it, in a file
only its owner reads; copy that file to manage the cluster from another
controller. Reconfiguration then authenticates as ``super``: never by
skipping ACLs.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path

from ..errors import UsageError
from ..inventory import Inventory

USER = "super"


def secret_path(inventory: Inventory) -> Path:
    spec = inventory.zookeeper
    if spec.secret_file is not None:
        return spec.secret_file
    base = Path(os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state")
    return base / "clusterctl" / "secrets" / f"{inventory.cluster.name}.zookeeper-super"


# What plan shows in place of the digest while the password is not made yet: deciding creates nothing.
PENDING = "(made at the first install)"


def read_kept(path: Path, what: str) -> str | None:
    """The secret kept in ``path`` on this controller, else None; never makes one."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc.strerror}") from None


def make_kept(path: Path, prefix: str = "") -> str:
    """The secret kept in ``path``, made (readable by its owner only, in a directory only they enter) when
    there is none yet; ``prefix`` goes before a secret made now (a SASL quorum identity's name)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    made = prefix + secrets.token_urlsafe(24)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another run made it a moment ago
        return path.read_text().strip()
    with os.fdopen(descriptor, "w") as file:
        file.write(made + "\n")
    return made


def existing_password(inventory: Inventory) -> str | None:
    """The cluster's super-user password if this controller has it, else None; never makes one."""
    return read_kept(secret_path(inventory), "the ZooKeeper super-user secret")


def known_digest(inventory: Inventory) -> str:
    """The digest the servers should hold, or :data:`PENDING` before the password is made (pure: no file)."""
    secret = existing_password(inventory)
    return PENDING if secret is None else digest(secret)


def password(inventory: Inventory) -> str:
    """The cluster's super-user password, made (readable by its owner only) the first time it is needed:
    by an install, never by a plan or a dry run."""
    existing = existing_password(inventory)
    return existing if existing is not None else make_kept(secret_path(inventory))


def digest(secret: str) -> str:
    """What the servers are told: base64 of sha1("super:password"), as ZooKeeper's digest scheme has it (pure)."""
    return base64.b64encode(hashlib.sha1(f"{USER}:{secret}".encode()).digest()).decode()


def auth_data(inventory: Inventory) -> list[tuple[str, str]]:
    """kazoo's auth_data for the super user, whose password must exist: a running ensemble holds its
    digest, and a password made now would be refused."""
    secret = existing_password(inventory)
    if secret is None:
        raise UsageError(f"{secret_path(inventory)}: no ZooKeeper super-user secret on this controller; copy it "
                         f"from the controller that installed the cluster (or set [zookeeper] secret_file)")
    return [("digest", f"{USER}:{secret}")]
