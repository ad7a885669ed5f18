"""A lab's login user: a non-root account on every node, with or without sudo, for clusterctl to log in as."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from .errors import LabError

# POSIX portable user names, as the project's inventory takes them (no trailing '$': that is a machine account).
_LOGIN_NAME = re.compile(r"(?=.{1,32}\Z)[a-z_][a-z0-9_-]*")


class SudoRights(StrEnum):
    """What the login user may do through sudo."""

    SUDO = "sudo"  # anything as root, after giving its own password
    NOPASSWD = "nopasswd"  # anything as root, no password asked
    NOSUDO = "nosudo"  # nothing: not in the sudoers at all


@dataclass(frozen=True)
class LabUser:
    name: str
    sudo: SudoRights = SudoRights.SUDO

    @classmethod
    def parse(cls, text: str) -> LabUser:
        """``NAME[:sudo|:nopasswd|:nosudo]`` as a user, or LabError saying what is allowed."""
        name, colon, rights = text.partition(":")
        if not _LOGIN_NAME.fullmatch(name):
            raise LabError(f"bad lab user {name!r}: use up to 32 lowercase letters, digits, '_' and '-', "
                           "a letter or '_' first (e.g. deploy)")
        if name == "root":
            raise LabError("the lab user must not be root: root is every node's already")
        if not colon:
            return cls(name)
        try:
            return cls(name, SudoRights(rights))
        except ValueError:
            choices = ", ".join(kind.value for kind in SudoRights)
            raise LabError(f"unknown sudo rights {rights!r} for lab user {name}: choose one of {choices}") from None

    def __str__(self) -> str:
        return f"{self.name}:{self.sudo}"


def check_user_is_new(user: LabUser, etc: Path = Path("/etc")) -> None:
    """``user`` is no account or group of this machine yet: every node inherits this machine's, and would clash."""
    for database, kind in (("passwd", "user"), ("group", "group")):
        try:
            names = {line.split(":", 1)[0] for line in (etc / database).read_text().splitlines()}
        except OSError:
            continue
        if user.name in names:
            raise LabError(f"a {kind} named {user.name} exists on this machine, whose {etc / database} every "
                           "node inherits: pick another --user name")
