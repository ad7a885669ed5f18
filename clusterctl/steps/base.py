"""The one shape of every runbook step: targets → facts → decide → apply.

A step names the hosts it is about, the facts it needs from each (asked in
the run's shared round trip), decides from those facts alone what each host
needs (pure: the source of ``plan``, and unit-tested as data), and applies
that decision to the hosts the run may change. :func:`plan_steps` and
:func:`run_steps` drive any list of steps the same way, for ``bootstrap``,
``plan``, every per-step command and ``tasks.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from ..core.facts import Fact, FactQuery
from ..core.session import HostContext, HostResults, Outcome, Session
from ..errors import UsageError
from ..inventory import Host, Inventory
from ..packages import PackageFile, require
from ..plan import Change

Facts = Mapping[str, Fact]


@dataclass
class HostPlan:
    """What one host needs from one step: the changes (empty when it is as the inventory says).

    ``problem`` says why the host cannot be brought there (the host then
    fails, and nothing is done on it); ``notes`` are facts worth showing that
    are not changes (a restart needed, a fallback taken); ``not_compared``
    says why ``plan`` could not compare the host at all (a package file that
    is not on this controller).
    """

    changes: list[Change] = field(default_factory=list)
    problem: str | None = None
    notes: list[str] = field(default_factory=list)
    not_compared: str = ""

    @property
    def empty(self) -> bool:
        return not self.changes and self.problem is None

    def shown(self) -> list[Change]:
        """What ``plan`` lists for the host: the refusal, or the changes, then the notes."""
        if self.problem:
            return [Change(f"refused: {self.problem}", change=False)]
        if self.not_compared:
            return [Change(self.not_compared, change=False)]
        return self.changes + [Change(note, change=False) for note in self.notes]


@dataclass
class StepRun:
    """What the steps of one run share: the session, and what earlier steps did."""

    session: Session
    verify: bool = False  # run the checks even when nothing changed
    changed: dict[str, set[str]] = field(default_factory=dict)  # phase → hosts changed by its steps
    outputs: dict[str, object] = field(default_factory=dict)  # step name → what it found (a status, a matrix)
    halted_by: str = ""  # the gate step whose failure stopped the run

    def changed_in(self, *phases: str) -> set[str]:
        """Hosts changed this run by the steps of ``phases`` (all phases when none is named)."""
        wanted = phases or tuple(self.changed)
        return set().union(*(self.changed.get(p, set()) for p in wanted))


class Step:
    """One runbook step; subclasses set ``name``, ``phase`` and ``topic`` and fill in the methods.

    ``name`` is what the live grid and the summary call it, ``phase`` what
    ``--only``/``--skip`` name (several steps can make up one phase), and
    ``topic`` the prefix of its facts' names: the facts forgotten on a host
    the step changed.
    """

    name = ""
    phase = ""
    topic = ""
    gate = False  # a host failing this step stops the whole run before any later step changes anything

    def applies(self, inventory: Inventory) -> bool:
        """Whether the inventory asks for this step at all (say, it has a [jdk] section)."""
        return True

    def not_applied(self, inventory: Inventory) -> str:
        """Why the step does nothing with this inventory, for ``plan`` to say (never silently)."""
        return "not asked for by the inventory"

    def hosts(self, inventory: Inventory) -> list[str]:
        """The hosts this step is about, in inventory order (before --hosts narrows them)."""
        raise NotImplementedError

    def packages(self, inventory: Inventory) -> list[PackageFile]:
        """The local package files the step sends, or compares hosts with.

        A run checks them before anything is asked or changed; without them
        ``plan`` shows the step as not compared on its hosts.
        """
        return []

    def unreadable(self, inventory: Inventory) -> str:
        """What ``plan`` says on this step's hosts when one of its packages cannot be read here, else ""."""
        for package in self.packages(inventory):
            problem = package.problem()
            if problem:
                return package.not_compared(problem)
        return ""

    def refusal(self, inventory: Inventory) -> UsageError | None:
        """Why the inventory asks of this step what its package files cannot give, or None. A run is refused
        with it (exit 2) before any host is contacted; ``plan`` says it on the step's hosts."""
        return None

    def fact_hosts(self, inventory: Inventory) -> list[str]:
        """The hosts whose facts the decision reads: more than :meth:`hosts` when peers matter."""
        return self.hosts(inventory)

    def facts(self, inventory: Inventory, host: Host) -> list[FactQuery]:
        """What the decision needs to know from ``host``."""
        return []

    def decide(self, inventory: Inventory, facts: Mapping[str, Facts]) -> dict[str, HostPlan]:
        """host → what it needs, from the facts of :meth:`fact_hosts` alone (pure)."""
        raise NotImplementedError

    def check(self, inventory: Inventory, changing: Mapping[str, set[str]]) -> str:
        """For a step that checks rather than changes: what it will check in a run whose other steps change
        ``changing`` (phase → hosts), or why it will not run; "" for a step that changes things. ``plan``
        shows it, so a plan names the checks a run will make as well as its changes."""
        return ""

    def apply(self, run: StepRun, plans: dict[str, HostPlan]) -> HostResults:
        """Carry out ``plans`` on the hosts the run may change; by default host by host, in parallel."""
        return run.session.for_each(self.name, plans, lambda ctx: self.apply_host(ctx, plans[ctx.host.name]))

    def apply_host(self, ctx: HostContext, plan: HostPlan) -> Outcome:
        """Carry out one host's plan."""
        raise NotImplementedError

    # -- what the driver calls ------------------------------------------
    def gather(self, session: Session) -> dict[str, dict[str, Fact]]:
        inventory = session.inventory
        return session.gather(self.name, self.fact_hosts(inventory), lambda h: self.facts(inventory, h))

    def plans(self, session: Session) -> dict[str, HostPlan]:
        """The decision for this run's targets (within --hosts, not failed), from fresh or cached facts."""
        inventory = session.inventory
        unread = self.unreadable(inventory)
        if unread:
            return {h: HostPlan(not_compared=unread) for h in session.targets(self.hosts(inventory))}
        decided = self.decide(inventory, self.gather(session))
        return {h: decided[h] for h in session.targets(self.hosts(inventory)) if h in decided}


def select(steps: Sequence[Step], only: Sequence[str] = (), skip: Sequence[str] = ()) -> list[Step]:
    """The steps of the phases ``only`` names (all when empty), less those of ``skip``, in order."""
    from ..errors import UsageError
    phases = list(dict.fromkeys(s.phase for s in steps))
    for name in [*only, *skip]:
        if name not in phases:
            raise UsageError(f"unknown step {name!r}: choose from {', '.join(phases)}")
    return [s for s in steps if (not only or s.phase in only) and s.phase not in skip]


def prefetch(session: Session, steps: Sequence[Step]) -> None:
    """Ask every step's facts from every host in one command per host, so each step finds them cached."""
    inventory = session.inventory
    wanted: dict[str, list[Step]] = {}
    for step in steps:
        if step.applies(inventory) and not step.unreadable(inventory):
            for name in step.fact_hosts(inventory):
                wanted.setdefault(name, []).append(step)

    def queries(host: Host) -> list[FactQuery]:
        merged: dict[str, FactQuery] = {}
        for step in wanted[host.name]:
            merged.update((q.name, q) for q in step.facts(inventory, host))
        return list(merged.values())

    session.gather("gather", list(wanted), queries)


def plan_steps(session: Session, steps: Sequence[Step]) -> dict[str, dict[str, HostPlan]]:
    """step name → host → its plan, for every step that applies; changes nothing.

    Hosts that could not be asked are failed in the session (the summary says why).
    """
    prefetch(session, steps)
    return {step.name: step.plans(session) for step in steps if step.applies(session.inventory)}


def planned_checks(inventory: Inventory, steps: Sequence[Step],
                   planned: Mapping[str, Mapping[str, HostPlan]]) -> list[tuple[str, str]]:
    """(step, what it will check) for each checking step of ``steps``, given what ``planned`` changes: a
    check runs where the steps before it change something (as :class:`StepRun` counts it in a run)."""
    changing: dict[str, set[str]] = {}
    for step in steps:
        plans = planned.get(step.name, {})
        changing.setdefault(step.phase, set()).update(h for h, p in plans.items() if any(c.change for c in p.changes))
    return [(step.name, said) for step in steps
            if step.applies(inventory) and (said := step.check(inventory, changing))]


def require_packages(inventory: Inventory, steps: Sequence[Step]) -> None:
    """Refuse (exit 2, before any host is contacted) unless every package file ``steps`` need reads well and
    gives what the inventory asks of it."""
    applied = [step for step in steps if step.applies(inventory)]
    require(inventory, [p for step in applied for p in step.packages(inventory)])
    refusal = next((r for r in (step.refusal(inventory) for step in applied) if r is not None), None)
    if refusal is not None:
        raise refusal


def not_applied(inventory: Inventory, steps: Sequence[Step]) -> dict[str, str]:
    """step name → why it does nothing here, for the steps that do not apply to this inventory."""
    return {step.name: step.not_applied(inventory) for step in steps if not step.applies(inventory)}


def run_steps(session: Session, steps: Sequence[Step], *, verify: bool = False) -> StepRun:
    """Decide and apply each step in order; hosts that fail one are skipped by the later ones.

    A host whose plan names a problem fails at that step with it, untouched;
    a problem at a gate step (preflight) stops the run there, before any change.
    A package file a step needs and cannot read refuses the run before anything is asked.
    """
    require_packages(session.inventory, steps)
    run = StepRun(session, verify=verify)
    prefetch(session, steps)
    for step in steps:
        if session.stopping.is_set():
            break
        if not step.applies(session.inventory):
            continue
        plans = step.plans(session)
        for host, plan in plans.items():
            if plan.problem:
                session.fail(host, step.name, plan.problem)
        if step.gate and any(p.problem for p in plans.values()):
            run.halted_by = step.name
            for host in session.live_hosts(session.inventory.hosts):
                session.reporter.note(host, step.name, f"nothing was changed: {step.name} failed on "
                                                        f"{', '.join(h for h, p in plans.items() if p.problem)}")
            break
        results = step.apply(run, {h: p for h, p in plans.items() if not p.problem})
        changed = results.changed
        for host in changed:
            session.forget_facts(host, step.topic)
        run.changed.setdefault(step.phase, set()).update(changed)
    return run
