"""clusterctl: bootstrap a ZooKeeper cluster on bare Linux hosts."""

__version__ = "0.1.0"
