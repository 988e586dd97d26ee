"""Releases: datasets made public when their time comes, by a job that may run any number of times.

Two reasons, one mechanism (plan, then apply):

- **embargo**: a registered publication's ``embargoUntil`` has passed. Its DOI and landing page
  were public from registration; now its datasets get ``isPublished`` (and with it their
  files, for anonymous readers), with ``datasetlifecycle.publishedOn`` = the embargo's end.
- **policy**: the facility releases a proposal's raw datasets N years after the proposal
  ended (``SCANLOG_RELEASE_POLICY_YEARS``; off by default), as SciCat's
  ``POLICY_PUBLICATION_SHIFT`` and ESRF's data policy do. A proposal ends at its
  ``endTime``, else at the end of its last measurement period; one with neither is never
  released by the policy (the plan says how many). A dataset of a publication still under
  embargo is held until that embargo ends: the researcher's date is the later promise.

Everything the job knows is in the store, nothing in memory: a dataset is released once
(``isPublished``), a publication once (``releasedTime``, set by a conditional update), and
every value written is the same whichever run writes it. So a second run, a run after a
restart, or two replicas at once release nothing twice; a lease in the store
(:class:`Lease`) keeps the work, and its log lines and counts, to one replica at a time.
An owner may move an embargo later between a round's plan and its apply: the round claims
each publication first, by a conditional write that holds only while its embargo has still
ended, and an amendment no longer moves the embargo of a claimed one.

Where it runs: a thread in scanlog's lifespan (:class:`ReleaseLoop`, every
``SCANLOG_RELEASE_EVERY_S`` seconds) under the lease. scanlog already runs wherever
publishing does, so an embargo ends within one round of its time with no extra Kubernetes
object; a CronJob's finest step is a minute and starts a Python process each time.
``scanlog release`` runs one round by hand, or from a CronJob at sites that prefer one
(``SCANLOG_RELEASE_EVERY_S=0``); ``--dry-run`` lists what a round would release.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from prometheus_client import Counter
from pydantic import BaseModel
from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError, PyMongoError

from ._publications import PublicationStore

logger = logging.getLogger(__name__)

RELEASED = Counter("scizoo_datasets_released", "Datasets made public by the release job, by reason.", ["reason"])
RELEASE_ROUNDS = Counter("scizoo_release_rounds", "Rounds of the release job, by outcome "
                         "(done; elsewhere: another replica holds the lease; failed: retried next round).", ["outcome"])

Reason = Literal["embargo", "policy"]
_BATCH = 1000
POLICY_EVERY = timedelta(hours=1)


class Release(BaseModel):
    """One dataset made public, and why."""

    pid: str
    reason: Reason
    #: The publication's DOI (embargo) or the proposal (policy).
    source: str
    #: When it became due (the embargo's end; the proposal's end plus the policy's years).
    due: datetime


class Held(BaseModel):
    """Something due that a round does not release, and why (said, never silently skipped)."""

    what: str
    why: str
    #: moved: a dataset left the publication's owner group (said once, when its embargo ends);
    #: embargo: under a publication's embargo; no end: a proposal with no end date (both said
    #: by every plan, so logged at debug level by the loop).
    kind: Literal["moved", "embargo", "no end"]


class ReleasePlan(BaseModel):
    """What one round releases (``releases``), the publications it marks released, and what it holds."""

    at: datetime
    releases: list[Release] = []
    publications: list[str] = []
    held: list[Held] = []


def years_after(when: datetime, years: int) -> datetime:
    """The same day ``years`` later (29 February becomes 28 February)."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:
        return when.replace(year=when.year + years, day=28)


def proposal_end(doc: dict[str, Any]) -> datetime | None:
    """When a proposal ended: its ``endTime``, else the end of its last measurement period."""
    if isinstance(doc.get("endTime"), datetime):
        return doc["endTime"]  # type: ignore[no-any-return]
    ends = [p["end"] for p in doc.get("MeasurementPeriodList") or [] if isinstance(p, dict)
            and isinstance(p.get("end"), datetime)]
    return max(ends) if ends else None


def plan_policy(proposals: list[tuple[str, datetime]], unpublished: Callable[[str], list[str]], *, years: int,
                now: datetime, embargoed: dict[str, tuple[str, datetime]]) -> tuple[list[Release], list[Held]]:
    """The policy's releases: each unpublished raw dataset of a proposal that ended ``years`` ago or
    more, unless a publication's embargo still holds it (``embargoed``: pid -> DOI, until)."""
    releases: list[Release] = []
    held: list[Held] = []
    for proposal, end in sorted(proposals):
        due = years_after(end, years)
        if due > now:
            continue
        for pid in sorted(unpublished(proposal)):
            if pid in embargoed:
                doi, until = embargoed[pid]
                held.append(Held(what=pid, why=f"under the embargo of {doi} until {until.isoformat()}", kind="embargo"))
            else:
                releases.append(Release(pid=pid, reason="policy", source=proposal, due=due))
    return releases, held


class Releaser:
    """Plans and applies releases over the publications' store."""

    def __init__(self, store: PublicationStore, *, policy_years: int | None = None) -> None:
        self.store = store
        self.policy_years = policy_years

    def plan(self, now: datetime, *, policy_years: int | None = None, policy: bool = True) -> ReleasePlan:
        """What a round at ``now`` releases (reads only). ``policy_years`` overrides the setting,
        e.g. to see what a policy would release before turning it on; ``policy=False`` looks at
        the embargoes only."""
        plan = ReleasePlan(at=now)
        for pub in self.store.due_embargoes(now):
            doi, until = pub["_id"], pub["embargoUntil"]
            pids = list(pub.get("datasetPids", []))
            ours = self.store.unpublished(pids, owner_group=pub["ownerGroup"])
            plan.releases += [Release(pid=pid, reason="embargo", source=doi, due=until) for pid in ours]
            # A dataset that moved to another owner group since registration is not made public
            # by this publication (registering checks the same).
            moved = set(self.store.unpublished(pids)) - set(ours)
            plan.held += [Held(what=pid, why=f"no longer of {pub['ownerGroup']!r}, whose publication {doi} it is in",
                               kind="moved") for pid in sorted(moved)]
            plan.publications.append(doi)
        years = policy_years if policy_years is not None else self.policy_years
        if years and policy:
            cutoff = years_after(now, -years)
            ended = [(p["_id"], end) for p in self.store.ended_proposals(cutoff) if (end := proposal_end(p))]
            embargoed = {pid: (pub["_id"], pub["embargoUntil"]) for pub in self.store.pending_embargoes()
                         if pub["embargoUntil"] > now for pid in pub.get("datasetPids", [])}
            listed = {r.pid for r in plan.releases}
            releases, held = plan_policy(ended, self.store.unpublished_raw, years=years, now=now, embargoed=embargoed)
            plan.releases += [r for r in releases if r.pid not in listed]
            plan.held += held
            if unknown := sum(1 for p in self.store.proposals_without_end_time() if proposal_end(p) is None):
                plan.held.append(Held(what=f"{unknown} proposal(s)",
                                      why="no end date (endTime or a measurement period's end): never released by "
                                          "the policy", kind="no end"))
        return plan

    def apply(self, plan: ReleasePlan, now: datetime) -> list[Release]:
        """Release what ``plan`` lists that is still unpublished; mark its publications released.
        Each release is logged with its reason and counted; applying again releases nothing.

        The plan was read before: an owner may have moved an embargo later since (allowed until
        the release). So each publication is claimed first, by one conditional write that holds
        only while its embargo has still ended (:meth:`PublicationStore.claim_release`), and only
        the claimed ones' datasets are released; from the claim on, the embargo does not move."""
        claimed: dict[str, datetime] = {}
        for doi in plan.publications:
            if (pub := self.store.claim_release(doi, now)) is not None:
                claimed[doi] = pub["embargoUntil"]
            else:
                logger.info("publication %s: its embargo changed or it was released since the plan; not released "
                            "now", doi)
        done: list[Release] = []
        batches: dict[tuple[str, str, datetime], list[Release]] = {}
        for planned in plan.releases:
            release = planned
            if planned.reason == "embargo":
                if planned.source not in claimed:
                    continue
                # publishedOn is the embargo's end as claimed (an amendment may have lifted it since the plan).
                release = planned.model_copy(update={"due": claimed[planned.source]})
            batches.setdefault((release.reason, release.source, release.due), []).append(release)
        # At most _BATCH datasets a write: a proposal's first policy release may be thousands.
        chunks = [(key, releases[i:i + _BATCH]) for key, releases in batches.items()
                  for i in range(0, len(releases), _BATCH)]
        for (reason, source, due), releases in chunks:
            still = set(self.store.unpublished([r.pid for r in releases]))
            now_public = [r for r in releases if r.pid in still]
            if not now_public:
                continue
            # publishedOn is the day it was due: the same whichever run (or replica) writes it. A
            # policy release leaves out a dataset put under an embargo since the plan (the store
            # decides at the write); an embargo's own release is that embargo ending.
            public = set(self.store.mark_published([r.pid for r in now_public], now, published_on=due,
                                                   unless_embargoed=reason == "policy"))
            kept = [r for r in now_public if r.pid not in public]
            for release in kept:
                logger.info("dataset %s not released by the policy: put under an embargo since the plan", release.pid)
            now_public = [r for r in now_public if r.pid in public]
            for release in now_public:
                logger.info("released dataset %s (%s: %s, due %s)", release.pid, reason, source, due.isoformat())
            RELEASED.labels(reason).inc(len(now_public))
            done += now_public
        for doi in claimed:
            if self.store.mark_released(doi, now):
                logger.info("publication %s: its embargo ended, its datasets are public", doi)
        for held in plan.held:
            logger.log(logging.WARNING if held.kind == "moved" else logging.DEBUG, "not released: %s (%s)",
                       held.what, held.why)
        return done

    def run(self, now: datetime, *, dry_run: bool = False, policy_years: int | None = None,
            policy: bool = True) -> ReleasePlan:
        """One round: the plan, applied unless ``dry_run``; its ``releases`` are what was released."""
        plan = self.plan(now, policy_years=policy_years, policy=policy)
        if dry_run:
            return plan
        return plan.model_copy(update={"releases": self.apply(plan, now)})


class Lease:
    """A lease on a named job in the store: one holder at a time, until it lapses or is given up.

    A holder that dies keeps it at most ``ttl_s``; the clocks of the replicas are trusted to
    agree to well within that (they run NTP on Kubernetes).
    """

    def __init__(self, collection: Callable[[], Collection[dict[str, Any]]], name: str, holder: str,
                 ttl_s: float) -> None:
        self._collection, self.name, self.holder, self.ttl = collection, name, holder, timedelta(seconds=ttl_s)

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; False while someone else holds it."""
        try:
            self._collection().find_one_and_update(
                {"_id": self.name, "$or": [{"holder": self.holder}, {"until": {"$lte": now}}]},
                {"$set": {"holder": self.holder, "until": now + self.ttl}}, upsert=True)
        except DuplicateKeyError:  # held by another: the upsert met its document
            return False
        return True

    def give_up(self) -> None:
        self._collection().delete_one({"_id": self.name, "holder": self.holder})


class ReleaseLoop:
    """Runs the release job every ``every_s`` seconds while this replica holds the lease."""

    def __init__(self, releaser: Releaser, lease: Lease, every_s: float,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._releaser, self._lease, self._every, self._clock = releaser, lease, every_s, clock
        self._policy_at: datetime | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scanlog-release", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        try:
            self._lease.give_up()  # the next replica (or this one restarted) need not wait for it to lapse
        except PyMongoError as err:
            logger.warning("could not give up the release lease (%s); it lapses by itself", type(err).__name__)

    def round(self) -> None:
        now = self._clock()
        try:
            if not self._lease.acquire(now):
                RELEASE_ROUNDS.labels("elsewhere").inc()
                return
            # The policy reads every ended proposal and counts in years: once an hour is on time
            # (and the first round after a start); embargoes are looked at every round.
            policy = self._policy_at is None or now - self._policy_at >= POLICY_EVERY
            self._releaser.run(now, policy=policy)
            if policy:
                self._policy_at = now
            RELEASE_ROUNDS.labels("done").inc()
        except Exception:
            # Nothing is lost: what is due stays due in the store, and the next round releases
            # it. A round that fails is logged and counted (an alert), and the loop goes on.
            logger.exception("a round of the release job failed; the next one retries")
            RELEASE_ROUNDS.labels("failed").inc()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.round()
            self._stop.wait(self._every)


def release_loop(releaser: Releaser, every_s: float) -> ReleaseLoop | None:
    """The service's release loop (None when ``every_s`` is 0: a CronJob runs ``scanlog release``).
    The lease lapses after three missed rounds (at least 5 s)."""
    if every_s <= 0:
        return None
    holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    return ReleaseLoop(releaser, Lease(releaser.store.leases, "release", holder, ttl_s=max(3 * every_s, 5.0)), every_s)
