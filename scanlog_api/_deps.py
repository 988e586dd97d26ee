"""FastAPI dependencies: the store, the live feed, the e-logbook, who is asking, and the filters."""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request

from scizoo.web import AuthError, TokenUser, app_state

from ._access import build_branches
from ._conditions import (
    MAX_CONDITIONS,
    Condition,
    ConditionError,
    check_known_keys,
    conditions_filters,
    keys_with_units,
    parse_conditions,
)
from ._elog import ElogClient
from ._errors import Invalid, NotConfigured
from ._live import LiveFeed
from ._oai import OaiProvider
from ._ports import ScanJobs, Scans
from ._publish import Publisher
from ._services import Services
from ._table import MAX_COLUMNS, sort_field, unknown_columns


def services(request: Request) -> Services:
    """The app's typed state (see ``_services``)."""
    return app_state(request, Services)


def get_store(request: Request) -> Scans:
    return services(request).store


def get_reductions(request: Request) -> ScanJobs:
    return services(request).reductions


def get_feed(request: Request) -> LiveFeed:
    """The one live feed of the app, made on the first subscription."""
    state = services(request)
    if state.feed_source is None:
        raise NotConfigured("this scan table has no live feed (it needs the catalogue's change stream)")
    with state.feed_lock:
        if state.feed is None:
            state.feed = LiveFeed(state.feed_source())
        return state.feed


def get_publisher(request: Request) -> Publisher:
    publisher = services(request).publisher
    if publisher is None:
        raise NotConfigured("this scan table does not publish (it needs the catalogue)")
    return publisher


def get_oai(request: Request) -> OaiProvider:
    oai = services(request).oai
    if oai is None:
        raise NotConfigured("this scan table has no OAI-PMH provider (it needs the catalogue)")
    return oai


def get_elog(request: Request) -> ElogClient:
    return services(request).elog


def current_user(request: Request, authorization: Annotated[str | None, Header()] = None) -> TokenUser | None:
    known: TokenUser | None = getattr(request.state, "user", None)  # checked before the body was read
    if known is not None:
        return known
    try:
        return services(request).auth.user_for(authorization)
    except AuthError as err:
        raise HTTPException(401, str(err)) from err


def signed_in(user: Annotated[TokenUser | None, Depends(current_user)]) -> TokenUser:
    if user is None:
        raise HTTPException(401, "sign in to do this")
    return user


def bearer(authorization: Annotated[str | None, Header()] = None) -> str | None:
    """The caller's own bearer token (to forward where a service checks the user itself)."""
    scheme, _, token = (authorization or "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


Store = Annotated[Scans, Depends(get_store)]
Jobs = Annotated[ScanJobs, Depends(get_reductions)]
Reader = Annotated[TokenUser | None, Depends(current_user)]
Writer = Annotated[TokenUser, Depends(signed_in)]


#: The ``where`` parameter's documentation (the syntax is ``_conditions``'s).
WHERE_DOC = (
    f"Conditions on scientific metadata, ANDed (at most {MAX_CONDITIONS}): key:op[:value[:unit]], op one of "
    "eq ne lt le gt ge between exists contains in; further tests on the same key after '|' are ORed "
    "(key:between:8:9:keV|between:11:12:keV). A unit converts with pint and compares SciCat's valueSI "
    "(between is strict, as SciCat's RANGE); without one, the value as stored. A list matches when one element "
    "does; '.' in a key steps into a nested object; '|' ':' ',' '%' inside a part are written %7C %3A %2C %25. "
    "A key no scan you may read holds, an incompatible unit or a value that is none is a 422 naming the condition. "
    "The same conditions select the rows, the CSV, the keys, the facets and the live stream, which sends a new scan "
    "only if it matches (the stream does not refuse a key no scan holds yet: a later scan may bring it)."
)
WHERE_EXAMPLES = {
    "range with a unit": {"value": ["photon_energy:between:8:10:keV"]},
    "two conditions": {"value": ["photon_energy:ge:8000:eV", "sample_temperature:lt:-253:degC"]},
    "text": {"value": ["shutter:in:closed,fault"]},
    "nested key": {"value": ["sample.temperature:le:20:K"]},
    "OR on one key": {"value": ["photon_energy:between:8:9:keV|between:11:12:keV"]},
    "exists, not equal": {"value": ["sample_temperature:exists", "shutter:ne:open"]},
    "text contains": {"value": ["shutter:contains:clos"]},
    "a list, by any element": {"value": ["motor:between:2:3:mm"]},
}


def where_conditions(
    where: Annotated[list[str] | None, Query(description=WHERE_DOC, openapi_examples=WHERE_EXAMPLES)] = None,
) -> list[Condition]:
    """The ``where`` parameters, parsed (422 naming the condition when one cannot be used)."""
    try:
        return parse_conditions(where or [])
    except ConditionError as err:
        raise Invalid(str(err)) from err


#: The most scans metadata conditions may be asked to read through (the selection before them).
MAX_CONDITION_SCAN = 50_000


def compile_conditions(conditions: list[Condition], store: Scans, branches: list[dict[str, Any]],
                       readable: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The conditions as store filters; the units of their keys are read within ``branches``
    (the selection, within what the user may read), so an error names only units of scans
    they may see. With ``readable`` (the access rule's branches), a key that no scan of them
    holds is refused (422), looked up by the store in one bounded query a key; without, keys
    are not checked (the live stream waits for scans that may bring a key not seen yet)."""
    if not conditions:
        return []
    if readable is not None:
        try:
            check_known_keys(conditions, store.metadata_keys(readable, None, among=sorted({c.key for c in conditions})))
        except ConditionError as err:
            raise Invalid(str(err)) from err
    # Metadata conditions are read, not looked up, by a store without an index for each key
    # (SecantusDB), and their units are read within the selection: it is bounded first, as
    # free text's is.
    if store.count(branches) > MAX_CONDITION_SCAN:
        raise Invalid(f"metadata conditions search at most {MAX_CONDITION_SCAN:,} scans: "
                      "narrow the selection (proposal, beamline, time) first")
    # Only entries without valueSI (lists) are compared in their own unit: asking for their
    # units apart keeps a key whose entries all have valueSI one flat range, which the store
    # plans from its indexes (an alternative a unit is an $or: SecantusDB reads everything).
    found = store.key_unit_sets(branches, keys_with_units(conditions))
    units = {key: every for key, (every, _) in found.items()}
    without_si = {key: without for key, (_, without) in found.items()}
    try:
        return conditions_filters(conditions, units, without_si)
    except ConditionError as err:
        raise Invalid(str(err)) from err


class Filters:
    """The selection a user asks for (before the access rule is added)."""

    def __init__(
        self,
        proposal: Annotated[str | None, Query(max_length=100)] = None,
        beamline: Annotated[str | None, Query(max_length=64)] = None,
        since: Annotated[datetime | None, Query(description="Created at or after (ISO 8601).")] = None,
        until: Annotated[datetime | None, Query(description="Created at or before (ISO 8601).")] = None,
        q: Annotated[str | None, Query(max_length=200,
                                       description="Free text over title, keywords and metadata values.")] = None,
        min_rating: Annotated[float | None, Query(ge=0, le=3)] = None,
        *,
        conditions: Annotated[list[Condition], Depends(where_conditions)],
        store: Annotated[Scans, Depends(get_store)],
    ) -> None:
        self.proposal, self.beamline = proposal, beamline
        self.since, self.until = storable(since, "since"), storable(until, "until")
        self.q, self.min_rating = q, min_rating
        self.conditions, self._store = conditions, store

    def branches(self, user: TokenUser | None, pids: list[str] | None = None) -> list[dict[str, Any]]:
        """The selection with SciCat's access rule and the metadata conditions, as disjoint
        store filters."""
        def build(conditions: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
            return build_branches(user, proposal=self.proposal, beamline=self.beamline, since=self.since,
                                  until=self.until, min_rating=self.min_rating, pids=pids, conditions=conditions)
        if not self.conditions:
            return build()
        return build(compile_conditions(self.conditions, self._store, build(), readable=build_branches(user)))


def storable(value: datetime | None, name: str) -> datetime | None:
    """A time the store can compare with: naive times are UTC; years 1 and 9999 shifted out of
    range by their offset are refused (422) rather than failing in the store (500)."""
    if value is None:
        return None
    try:
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError as err:
        raise Invalid(f"{name}: {value.isoformat()} is outside the range of times the catalogue holds") from err


def sort_of(column: str) -> str:
    try:
        return sort_field(column)
    except ValueError as err:
        raise Invalid(str(err)) from err


def check_columns(columns: list[str]) -> None:
    if len(columns) > MAX_COLUMNS:
        raise Invalid(f"an export holds at most {MAX_COLUMNS} columns; {len(columns):,} were asked for")
    if bad := unknown_columns(columns):
        raise Invalid(f"unknown column(s): {', '.join(map(repr, bad))}")
