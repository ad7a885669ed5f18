"""Build whichever artifacts are missing or stale, reuse the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from .errors import ArtifactError
from .jdk import build_jdk_tarball
from .jdk_deb import build_jdk_deb
from .jdk_rpm import build_jdk_rpm
from .zookeeper import build_zookeeper_release

# In build order: the cheap ZooKeeper release last so a JDK problem shows first.
BUILDERS: dict[str, Callable[[Path], Path]] = {
    "jdk_tarball": build_jdk_tarball,
    "jdk_rpm": build_jdk_rpm,
    "jdk_deb": build_jdk_deb,
    "zookeeper": build_zookeeper_release,
}
ARTIFACT_KINDS = tuple(BUILDERS)


def ensure_artifacts(out_dir: Path, only: Iterable[str] | None = None) -> dict[str, Path]:
    """Paths of the artifacts in ``out_dir``, keyed by kind (jdk_tarball, jdk_rpm, jdk_deb,
    zookeeper), each built only if missing or built from other inputs; ``only`` limits the kinds."""
    kinds = list(only) if only is not None else list(ARTIFACT_KINDS)
    unknown = [kind for kind in kinds if kind not in BUILDERS]
    if unknown:
        raise ArtifactError(f"unknown artifact kind(s) {', '.join(unknown)} (known: {', '.join(ARTIFACT_KINDS)})")
    return {kind: BUILDERS[kind](Path(out_dir)) for kind in ARTIFACT_KINDS if kind in kinds}
