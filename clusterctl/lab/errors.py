"""The one exception the lab raises."""

from __future__ import annotations

from ..errors import UsageError


class LabError(UsageError):
    """A lab could not be built, used or torn down; the message is one line and names the fix."""
