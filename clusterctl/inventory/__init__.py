"""Load and validate the TOML inventory before any host is contacted.

Every problem is an :class:`InventoryError` naming the file, the dotted key and
the fix. The package holds the model (:mod:`.model`), the reading of TOML text
(:mod:`.toml_text`) and the checks (:mod:`.checks`); this module reads the file
and is where every public name is imported from.
"""

from __future__ import annotations

import gc
import os
import tomllib
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from ..errors import InventoryError
from .checks import Checker
from .model import (ADMIN_SERVER_MODES, BECOME_METHODS, DISTRIBUTE_MODES, JDK_PACKAGE_KINDS, KEY_TYPES, RELEASE_KINDS,
                    TLS_CLIENT_AUTH, TLS_CLIENT_MODES, ClusterSpec, DoctorSpec, Host, Inventory, JdkSpec, Jump,
                    MetricsSpec, OWN_ADDRESS, SaslSpec, SshTrustSpec, TlsSpec, ZkServer, ZooKeeperSpec)
from .one_line import one_line, printable
from .toml_text import parse_toml
from .values import package_problem

__all__ = ["ADMIN_SERVER_MODES", "BECOME_METHODS", "DEFAULT_INVENTORY", "DISTRIBUTE_MODES", "INVENTORY_ENV",
           "JDK_PACKAGE_KINDS", "KEY_TYPES", "RELEASE_KINDS", "ClusterSpec", "DoctorSpec", "Host", "Inventory", "JdkSpec",
           "Jump", "MetricsSpec", "OWN_ADDRESS", "SaslSpec", "SshTrustSpec", "TLS_CLIENT_AUTH", "TLS_CLIENT_MODES", "TlsSpec", "ZkServer", "ZooKeeperSpec",
           "inventory_path", "load_inventory", "package_problem", "parse_toml"]

DEFAULT_INVENTORY = Path("configs/cluster.toml")
INVENTORY_ENV = "CLUSTERCTL_INVENTORY"


def inventory_path(option: str | os.PathLike | None) -> Path:
    """The inventory to use: the option, else $CLUSTERCTL_INVENTORY, else configs/cluster.toml."""
    if option:
        return Path(option)
    if os.environ.get(INVENTORY_ENV):
        return Path(os.environ[INVENTORY_ENV])
    return DEFAULT_INVENTORY


def load_inventory(path: str | os.PathLike) -> Inventory:
    """Read and validate an inventory; raise InventoryError on the first problem.

    Whatever the file holds, the only exception is InventoryError, whose message
    is one line naming the file, the dotted key and the fix.
    """
    path = Path(path)
    with _cyclic_gc_paused():
        return Checker(path, _read_toml(path)).inventory()


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    # Parsing a large inventory allocates millions of dicts, lists and dataclasses
    # and hardly a reference cycle; the cycle collector would walk them over and over
    # (some 40% of loading 100,000 hosts) for nothing to free.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _read_toml(path: Path) -> dict[str, Any]:
    shown = printable(path)
    try:
        with open(path, "rb") as fh:
            return parse_toml(fh.read().decode("utf-8"))
    except FileNotFoundError:
        raise InventoryError(shown, "", "file not found", f"pass -i PATH or set {INVENTORY_ENV}") from None
    except IsADirectoryError:
        raise InventoryError(shown, "", "is a directory", "pass -i with the inventory file itself") from None
    except OSError as exc:
        raise InventoryError(shown, "", f"cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise InventoryError(shown, "", f"not UTF-8 text (byte {exc.start})", "save the file as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InventoryError(shown, "", f"not valid TOML: {one_line(exc)}") from None
    except RecursionError:
        raise InventoryError(shown, "", "not valid TOML: arrays or tables nest too deeply") from None
    except ValueError as exc:  # an integer of thousands of digits, a NUL in the path
        raise InventoryError(shown, "", f"cannot read: {one_line(exc)}") from None

