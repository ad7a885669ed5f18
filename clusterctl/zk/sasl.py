"""SASL DIGEST-MD5 passwords ([sasl]): the quorum's and each client user's, made and kept on the controller.

Like the super user's, each password is made once per cluster, by the first
install that needs it, in a file only its owner reads, beside the super
user's (``~/.local/state/clusterctl/secrets`` unless [zookeeper] secret_file
says elsewhere): ``<cluster>.sasl-quorum`` and ``<cluster>.sasl-user-<name>``.
The servers hold them in their JAAS file (see :mod:`clusterctl.render.jaas`).
After a quorum password rotation the quorum's file holds ``NAME:PASSWORD``
(the identity the learners log in as alternates, ``quorum`` and ``quorum2``:
a JAAS ``user_`` entry holds one password). A rotation under way keeps the
new password beside the current one, ``<file>.next``, until its last roll.
``clusterctl`` is the controller's own client user: its clients (status,
smoke, reconfig, backup) log in as it where [sasl] client = "required", and
then authenticate as the digest super user for a reconfig as before.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from ..errors import UsageError
from ..inventory import Inventory
from ..render.jaas import QUORUM_USER, SaslPasswords, render_jaas
from .install import PENDING_SECRET as PENDING
from .superuser import make_kept, read_kept, secret_path

OWN_USER = "clusterctl"


def password_path(inventory: Inventory, user: str | None) -> Path:
    """Where this controller keeps the quorum's password (``user`` None) or a client user's."""
    name = "sasl-quorum" if user is None else f"sasl-user-{user}"
    return secret_path(inventory).parent / f"{inventory.cluster.name}.{name}"


def client_users(inventory: Inventory) -> tuple[str, ...]:
    """The client users the servers know: clusterctl's own and the inventory's, where clients may log in."""
    sasl = inventory.zookeeper.sasl
    return (OWN_USER, *sasl.users) if sasl.client != "off" else ()


def _kept(inventory: Inventory) -> list[tuple[str | None, Path]]:
    return [(None, password_path(inventory, None))] + [(u, password_path(inventory, u)) for u in client_users(inventory)]


def quorum_identity(kept: str) -> tuple[str, str]:
    """(identity, password) of the quorum's kept text: ``NAME:PASSWORD``, or a password alone (the identity
    ``quorum``, as before any rotation) (pure; a made password has no colon)."""
    name, colon, secret = kept.rpartition(":")
    return (name, secret) if colon else (QUORUM_USER, kept)


def next_identity(name: str) -> str:
    """The quorum identity a rotation moves to: the other of two, since both are accepted for a while (pure)."""
    return "quorum2" if name == QUORUM_USER else QUORUM_USER


def existing_passwords(inventory: Inventory) -> SaslPasswords | None:
    """Every password the servers' JAAS file holds, or None while one of them is not made yet."""
    found = {user: read_kept(path, f"the SASL password of {user or 'the quorum'}") for user, path in _kept(inventory)}
    if any(secret is None for secret in found.values()):
        return None
    name, quorum = quorum_identity(found.pop(None))
    # Where every session must log in, so must zkCli on a node (clusterctl zk cli): as clusterctl's own user.
    login = (OWN_USER, found[OWN_USER]) if inventory.zookeeper.sasl.client == "required" else None
    return SaslPasswords(quorum=quorum, users=tuple(found.items()), quorum_user=name, login=login)


def pending_path(inventory: Inventory, user: str | None) -> Path:
    """Where a rotation keeps the new password of the quorum (``user`` None) or a client user until its end."""
    path = password_path(inventory, user)
    return path.with_name(path.name + ".next")


def rotation_under_way(inventory: Inventory) -> tuple[str | None, ...]:
    """Whose password (None: the quorum's) a rotation is replacing now: those with a pending file."""
    return tuple(user for user, _ in _kept(inventory) if pending_path(inventory, user).exists())


def rotation_refusal(inventory: Inventory) -> str | None:
    """Why an install may not write the JAAS file now: a rotation is under way (each server's file is at
    some stage of it, and the kept passwords alone would undo it); None when none is."""
    rotating = rotation_under_way(inventory)
    if not rotating:
        return None
    return (f"a SASL password rotation is under way ({pending_path(inventory, rotating[0])}): run clusterctl "
            f"sasl rotate {rotating[0] or 'quorum'} to finish it first")


def rotated_passwords(inventory: Inventory, user: str | None, current: SaslPasswords) -> SaslPasswords | None:
    """``current`` with the pending password of the quorum (``user`` None) or of ``user`` in its place, or
    None while no rotation has made one."""
    kept = read_kept(pending_path(inventory, user), "a SASL password rotation's new password")
    if kept is None:
        return None
    if user is None:
        name, secret = quorum_identity(kept)
        return replace(current, quorum=secret, quorum_user=name)
    return replace(current, users=tuple((u, kept if u == user else p) for u, p in current.users))


def make_pending(inventory: Inventory, user: str | None, current: SaslPasswords) -> SaslPasswords:
    """:func:`rotated_passwords`, the new password made (mode 600) if the rotation has none yet."""
    prefix = f"{next_identity(current.quorum_user)}:" if user is None else ""
    make_kept(pending_path(inventory, user), prefix)
    return rotated_passwords(inventory, user, current)


def finish_rotation(inventory: Inventory, user: str | None) -> None:
    """The new password becomes the kept one (one rename: a rotation is under way until then)."""
    os.replace(pending_path(inventory, user), password_path(inventory, user))


def make_passwords(inventory: Inventory) -> SaslPasswords:
    """Every password the servers' JAAS file holds, those missing made now (by an install, never a plan)."""
    for _, path in _kept(inventory):
        make_kept(path)
    return existing_passwords(inventory)


def wanted_jaas(inventory: Inventory, needed: bool) -> str | None:
    """The JAAS file every server should hold: None where none is ``needed``, :data:`PENDING` while a
    password is not made yet (deciding makes none)."""
    if not needed:
        return None
    passwords = existing_passwords(inventory)
    return PENDING if passwords is None else render_jaas(passwords)


def known_secrets(inventory: Inventory) -> tuple[str, ...]:
    """Every SASL password this controller keeps for the cluster (the support bundle redacts them)."""
    out = []
    for user, path in _kept(inventory):
        for kept in (path, pending_path(inventory, user)):
            secret = read_kept(kept, f"the SASL password of {user or 'the quorum'}")
            if secret:
                out.append(quorum_identity(secret)[1] if user is None else secret)
    return tuple(out)


def user_password(inventory: Inventory, user: str) -> str:
    """A client user's password, which must exist (the install that made the JAAS file made it)."""
    if user not in client_users(inventory):
        listed = ", ".join(inventory.zookeeper.sasl.users) or "none"
        raise UsageError(f"{user!r} is not a SASL client user of {inventory.path} ([sasl] users: {listed}; "
                         f"[sasl] client = \"{inventory.zookeeper.sasl.client}\")")
    secret = read_kept(password_path(inventory, user), f"the SASL password of {user}")
    if secret is None:
        raise UsageError(f"{password_path(inventory, user)}: no SASL password for {user} on this controller yet; "
                         f"run clusterctl apply (it makes it), or copy it from the controller that did")
    return secret


def sasl_options(inventory: Inventory) -> dict:
    """kazoo's SASL settings for clusterctl's own clients: its user where every session must log in, none
    otherwise (a server not restarted into SASL yet would refuse a client that tries)."""
    if inventory.zookeeper.sasl.client != "required":
        return {}
    return {"sasl_options": {"mechanism": "DIGEST-MD5", "username": OWN_USER,
                             "password": user_password(inventory, OWN_USER)}}


def in_use(inventory: Inventory, phases: Iterable[int]) -> bool:
    """The servers need a JAAS file: [sasl] asks for SASL, or some server still runs a quorum SASL phase."""
    return inventory.zookeeper.sasl.enabled or any(phases)
