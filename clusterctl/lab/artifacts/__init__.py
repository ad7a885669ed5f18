"""Installable artifacts built from this machine's own Debian packages, no downloads:

- a vendor-style JDK tarball, rpm and deb (``jdk-17.0.15_linux-x64_bin.*``),
  from openjdk-17-jdk-headless, installing under /usr/java like Oracle's;
- an Apache-release-shaped ZooKeeper tarball (``apache-zookeeper-<ver>-bin.tar.gz``),
  from the zookeeper package and the jars it runs with.

Builds are deterministic and cached beside each artifact: unchanged inputs
give back the existing file untouched.
"""

from __future__ import annotations

from .cache import artifact_sha256
from .ensure import ARTIFACT_KINDS, ensure_artifacts
from .errors import ArtifactError
from .jdk import build_jdk_tarball, detect_jdk
from .jdk_deb import build_jdk_deb
from .jdk_rpm import build_jdk_rpm
from .zookeeper import build_zookeeper_release, detect_zookeeper

__all__ = [
    "ARTIFACT_KINDS",
    "ArtifactError",
    "artifact_sha256",
    "build_jdk_deb",
    "build_jdk_rpm",
    "build_jdk_tarball",
    "build_zookeeper_release",
    "detect_jdk",
    "detect_zookeeper",
    "ensure_artifacts",
]
