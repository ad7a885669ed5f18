"""The lab: real Linux hosts on this machine, made from kernel namespaces, to try clusterctl on and test it with."""

from .errors import LabError
from .inventory import render_lab_inventory
from .lab import DEFAULT_NAME, DEFAULT_SUBNET, Lab, NodeStatus
from .lab_user import LabUser, SudoRights
from .topology import DEFAULT_STATE_ROOT

__all__ = ["DEFAULT_NAME", "DEFAULT_STATE_ROOT", "DEFAULT_SUBNET", "Lab", "LabError", "LabUser", "NodeStatus",
           "SudoRights", "render_lab_inventory"]
