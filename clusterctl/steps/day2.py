"""What a day-2 operation will do, decided before anything changes.

An operation on a live ensemble (stop, restart, a membership change, an
upgrade) first decides, from what the hosts and the servers say, every change
it will make and in which order; ``--dry-run`` shows that decision and stops,
and the command carries out that same object. The decision is kept in the one
shape ``plan`` shows for the runbook (step → host → :class:`HostPlan`), so the
same table and JSON show both.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..plan import Change
from .base import HostPlan


@dataclass
class Day2Plan:
    """Step → host → what happens there, hosts in the order the operation reaches them."""

    steps: dict[str, dict[str, HostPlan]] = field(default_factory=dict)

    def change(self, step: str, host: str, summary: str) -> None:
        """``host`` is changed by ``step`` as ``summary`` says."""
        self._plan(step, host).changes.append(Change(summary))

    def note(self, step: str, host: str, summary: str) -> None:
        """Something worth showing that is not a change (a server left as it is, and why)."""
        self._plan(step, host).notes.append(summary)

    def hosts(self, step: str) -> list[str]:
        """The hosts ``step`` changes, in order."""
        return [h for h, p in self.steps.get(step, {}).items() if p.changes]

    def merge(self, planned: dict[str, dict[str, HostPlan]]) -> None:
        """Add the runbook's plans (for the install a membership change does first): those that change, are
        refused, or could not be compared (a package file not on this controller)."""
        for step, per_host in planned.items():
            for host, plan in per_host.items():
                if plan.changes or plan.problem or plan.not_compared:
                    self.steps.setdefault(step, {})[host] = plan

    def _plan(self, step: str, host: str) -> HostPlan:
        return self.steps.setdefault(step, {}).setdefault(host, HostPlan())
