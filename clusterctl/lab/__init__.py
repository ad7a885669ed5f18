"""The lab: real Linux hosts on this machine, made from kernel namespaces, to try clusterctl on and test it with."""

# name → the module that defines it, imported on first use: `clusterctl lab`'s command line lives in this
# package, and `clusterctl --help` lists it without loading the lab itself (PEP 562).
_EXPORTS = {"DEFAULT_NAME": "topology", "DEFAULT_SUBNET": "topology", "Lab": "lab", "NodeStatus": "lab",
            "LabError": "errors", "render_lab_inventory": "inventory", "LabUser": "lab_user",
            "SudoRights": "lab_user", "DEFAULT_STATE_ROOT": "topology"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
