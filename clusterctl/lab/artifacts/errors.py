"""The one error artifact builds raise."""

from __future__ import annotations

from ...errors import UsageError


class ArtifactError(UsageError):
    """An artifact cannot be built here; the message is one line and names the fix.

    A usage error (exit status 2): the build machine lacks something, and no
    host has been touched.
    """


def missing_package(what: str, path: object, apt_package: str) -> ArtifactError:
    """The error for a source that a Debian package provides and is not installed."""
    return ArtifactError(f"{what} not found at {path} (install it: apt-get install -y {apt_package})")
