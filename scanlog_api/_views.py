"""Saved views: a user's named set of the table's columns, conditions, filters and sort, kept on
the server so the view follows the user to another computer, and shareable with a proposal's group.

The rule, in one place (:class:`ViewRules`): a user reads their own views and those shared with
a proposal whose ``ownerGroup`` they are in (admins read every shared view); only the owner
changes or deletes a view (admins included: it is the owner's). A view another user may not
read is 404, never 403, so its existence does not leak. Sharing with proposal P needs the
owner to be in P's ``ownerGroup`` (or an admin); the group is copied into the view when it is
shared (as SciCat copies a proposal's ``ownerGroup`` into its datasets), so the list of a
reader's views is two indexed look-ups (``owner``; ``sharedGroup``), no join.

What a view holds is checked as the table's own requests are: columns as ``_table`` knows
them (at most :data:`~scanlog_api._table.MAX_COLUMNS`), conditions parsed by the engine
(``_conditions``, at most its :data:`~scanlog_api._conditions.MAX_CONDITIONS`), a sort the
API accepts; so a stored view can always be applied. The stores below the rule are
:class:`ViewStore` (MongoDB) and :class:`~scanlog_api.testing.FakeViewStore` (in memory).

A user's *default* view (the one the table opens when its address asks for nothing else) is a
pointer, one document per user in :data:`VIEW_DEFAULT_COLLECTION` keyed by the user's name,
not a flag on views: a flag would need every save to clear the user's other flags (two saves at
once could each clear the other's and both set theirs, leaving two defaults), and a view shared
by another user is not the chooser's to flag. One document per user by its ``_id`` holds at most
one default however saves interleave. It may point at a view the user may read, theirs or shared
with them, checked when it is set; when that view is later deleted or no longer shared with
them, the pointer is kept (sharing may come back) and reading the default says so instead of
failing, and the page opens the browser's own layout.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pymongo.errors import DuplicateKeyError

from scizoo.core import PROPOSAL_COLLECTION, VIEW_COLLECTION, VIEW_DEFAULT_COLLECTION, TokenUser

from ._catalogue import Catalogue
from ._conditions import MAX_CONDITIONS, ConditionError, parse_conditions
from ._errors import Conflict, Forbidden, Invalid, NotFound
from ._table import MAX_COLUMNS, sort_field, unknown_columns

Doc = dict[str, Any]
logger = logging.getLogger(__name__)

#: Each user's default view: ``{_id: user, view: view id, updatedAt}`` (no index beyond ``_id``).

#: A user keeps at most this many views (a list of them is one small read).
MAX_VIEWS = 50
MAX_NAME_LENGTH = 80
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ViewFilters(BaseModel):
    """The filter bar as its form holds it (the page's ``query.js`` filter, without the conditions)."""

    model_config = ConfigDict(extra="forbid")

    proposal: Annotated[str, Field(max_length=100)] = ""
    beamline: Annotated[str, Field(max_length=64)] = ""
    range: Annotated[str, Field(pattern=r"^(|[1-9]\d{0,5}|custom)$",
                                description="'' (all time), hours back from now, or 'custom' (since/until)")] = ""
    since: Annotated[str, Field(pattern=r"^(|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)$",
                                description="The form's local date-time")] = ""
    until: Annotated[str, Field(pattern=r"^(|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?)$")] = ""
    q: Annotated[str, Field(max_length=200, description="Free text")] = ""
    minRating: Annotated[str, Field(pattern=r"^(|[0-2](\.[05])?|3)$", description="At least this rating")] = ""


class ViewSort(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(max_length=130, description="A column id, or creationTime")] = "creationTime"
    order: Literal["asc", "desc"] = "desc"

    @field_validator("key")
    @classmethod
    def _sortable(cls, key: str) -> str:
        sort_field(key)  # ValueError naming the column: 422
        return key


class ViewIn(BaseModel):
    """A view as a user saves it (POST, PUT)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(min_length=1, max_length=MAX_NAME_LENGTH)]
    columns: Annotated[list[str], Field(min_length=1, max_length=MAX_COLUMNS,
                                        description="Column ids in order: scan_id, title, …, meta:<key>")]
    where: Annotated[list[str], Field(max_length=MAX_CONDITIONS,
                                      description="Conditions as /api/scans takes them (where=)")] = []
    filters: ViewFilters = ViewFilters()
    sort: ViewSort = ViewSort()
    sharedWith: Annotated[str | None, Field(max_length=100, description="A proposal whose group may read it")] = None

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        name = name.strip()
        if not name or _CONTROL.search(name):
            raise ValueError("a view's name is some text on one line")
        return name

    @field_validator("columns")
    @classmethod
    def _columns(cls, columns: list[str]) -> list[str]:
        if bad := unknown_columns(columns):
            raise ValueError(f"unknown column(s): {', '.join(map(repr, bad))}")
        if len(set(columns)) != len(columns):
            raise ValueError("a column is named twice")
        return columns

    @field_validator("where")
    @classmethod
    def _where(cls, where: list[str]) -> list[str]:
        try:
            parse_conditions(where)  # the engine's own parser: what is stored can be applied
        except ConditionError as err:
            raise ValueError(str(err)) from err
        return where

    @field_validator("sharedWith")
    @classmethod
    def _shared(cls, proposal: str | None) -> str | None:
        return proposal.strip() or None if proposal is not None else None


class SavedView(ViewIn):
    """A view as stored in :data:`~scizoo.core.VIEW_COLLECTION` (``_id`` at the Mongo edge)."""

    schema_version: Literal[1] = 1
    id: Annotated[str, Field(min_length=1, max_length=64)]
    owner: Annotated[str, Field(min_length=1)]
    #: The ``ownerGroup`` of ``sharedWith`` when it was shared (None: private).
    sharedGroup: str | None = None
    createdAt: datetime
    updatedAt: datetime
    #: Why the stored view no longer passes the checks of a save (None: it does); never stored.
    problem: str | None = None

    def to_mongo(self) -> Doc:
        doc = self.model_dump(exclude={"problem"})
        doc["_id"] = doc.pop("id")
        return doc

    @classmethod
    def from_mongo(cls, doc: Doc) -> SavedView:
        """The stored view, checked as a save is; one that no longer passes (saved under rules
        since tightened: a column renamed, a bound lowered; or written by another hand) is
        still read, its problem said, so its owner sees, changes and deletes it and its group's
        list still answers. Its parts are checked again where they are applied (the table's
        requests name what cannot be used); who may read and change it is decided, as always,
        from its owner and group alone."""
        doc = dict(doc)
        doc["id"] = doc.pop("_id")
        try:
            return cls.model_validate(doc)
        except ValidationError as err:
            problem = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}"
                                for e in err.errors())
            logger.warning("saved view %r no longer passes a save's checks (%s): read with its problem", doc["id"],
                           problem)
            return cls.model_construct(
                id=str(doc["id"]), owner=str(doc.get("owner") or ""), name=str(doc.get("name") or doc["id"]),
                columns=_texts(doc.get("columns")), where=_texts(doc.get("where")), filters=ViewFilters(),
                sort=ViewSort.model_construct(key=str((doc.get("sort") or {}).get("key", "creationTime")),
                                              order="asc" if (doc.get("sort") or {}).get("order") == "asc" else "desc"),
                sharedWith=_text_or_none(doc.get("sharedWith")), sharedGroup=_text_or_none(doc.get("sharedGroup")),
                createdAt=_time(doc.get("createdAt")), updatedAt=_time(doc.get("updatedAt")), problem=problem)

    def public(self, user: TokenUser, default_id: str | None = None) -> Doc:
        """What a reader gets: the view, whose it is, whether it is theirs and their default (not
        the copied group)."""
        out = self.model_dump(mode="json", exclude={"sharedGroup", "schema_version"})
        out["mine"] = self.owner == user.user
        out["default"] = self.id == default_id
        return out


class DefaultIn(BaseModel):
    """The view to open by default (PUT /api/views/default): one of the user's or shared with them."""

    model_config = ConfigDict(extra="forbid")

    id: Annotated[str, Field(min_length=1, max_length=64, description="The id of a view you may read")]


class ViewDefault(BaseModel):
    """The user's default view as the page reads it at start."""

    id: str | None = Field(description="The view chosen as default (None: none, the browser's own layout opens)")
    view: dict[str, Any] | None = Field(description="That view, when you may still read it (as GET /api/views/{id})")
    problem: str | None = Field(description="Why the chosen view is not opened (deleted, or no longer shared with you)")


def _texts(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _text_or_none(value: Any) -> str | None:
    return str(value) if isinstance(value, str) and value else None


def _time(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromtimestamp(0, UTC)


class ViewRules(ABC):
    """Who reads, saves, changes and deletes views; the store's few reads and writes below it."""

    # --- the store's part -----------------------------------------------------

    @abstractmethod
    def _owned(self, owner: str) -> list[SavedView]: ...

    @abstractmethod
    def _shared(self, groups: list[str] | None) -> list[SavedView]:
        """Views shared with any of these groups (None: every shared view)."""

    @abstractmethod
    def _get(self, view_id: str) -> SavedView | None: ...

    @abstractmethod
    def _put(self, view: SavedView, *, new: bool) -> None:
        """Insert (new) or replace the view; Conflict when its owner has another of that name."""

    @abstractmethod
    def _remove(self, view_id: str) -> None: ...

    @abstractmethod
    def _proposal_group(self, proposal_id: str) -> str | None: ...

    @abstractmethod
    def _default_id(self, user: str) -> str | None:
        """The view the user chose as default (None: none)."""

    @abstractmethod
    def _set_default_id(self, user: str, view_id: str | None) -> None:
        """Point the user's one default at the view (None: clear it), in one write."""

    # --- the rule --------------------------------------------------------------

    def views(self, user: TokenUser) -> list[Doc]:
        """The user's views and those shared with their groups, theirs first, each by name."""
        own = self._owned(user.user)
        shared = [v for v in self._shared(None if user.admin else list(user.groups)) if v.owner != user.user]
        ordered = sorted(own, key=lambda v: v.name.casefold()) + sorted(shared, key=lambda v: (v.name.casefold(), v.owner))
        default_id = self._default_id(user.user)
        return [v.public(user, default_id) for v in ordered]

    def view(self, view_id: str, user: TokenUser) -> Doc:
        return self._readable(view_id, user).public(user, self._default_id(user.user))

    def default(self, user: TokenUser) -> ViewDefault:
        """The view the table opens for this user when its address asks for nothing else. One
        chosen but no longer readable (deleted, unshared, the user out of its group) is said as
        a problem, not an error: the page then opens the browser's layout."""
        default_id = self._default_id(user.user)
        if default_id is None:
            return ViewDefault(id=None, view=None, problem=None)
        try:
            return ViewDefault(id=default_id, view=self._readable(default_id, user).public(user, default_id), problem=None)
        except NotFound:
            return ViewDefault(id=default_id, view=None, problem=(
                "the view chosen as your default was deleted or is no longer shared with you: "
                "the browser's own layout opens instead"))

    def set_default(self, body: DefaultIn, user: TokenUser) -> ViewDefault:
        """Open this view by default: one the user may read (another's unreadable view is 404, as
        ever). Any earlier default is replaced in the same write."""
        self._readable(body.id, user)
        self._set_default_id(user.user, body.id)
        return self.default(user)

    def clear_default(self, user: TokenUser) -> None:
        self._set_default_id(user.user, None)

    def create(self, body: ViewIn, user: TokenUser, now: datetime, view_id: str) -> Doc:
        own = self._owned(user.user)
        if len(own) >= MAX_VIEWS:
            raise Conflict(f"you have {len(own)} saved views, the most one may keep: delete one first")
        self._check_name(own, body.name, None)
        view = SavedView(**body.model_dump(), id=view_id, owner=user.user,
                         sharedGroup=self._share_group(body.sharedWith, user), createdAt=now, updatedAt=now)
        self._put(view, new=True)
        # Counted again once stored: saves that came together each passed the count above, so
        # the one that finds more than MAX_VIEWS takes its own back (all of them, at worst:
        # then each is refused, and the bound holds however the saves interleave).
        if len(self._owned(user.user)) > MAX_VIEWS:
            self._remove(view_id)
            raise Conflict(f"you have {MAX_VIEWS} saved views, the most one may keep: delete one first")
        return view.public(user)  # new: no one's default yet

    def update(self, view_id: str, body: ViewIn, user: TokenUser, now: datetime) -> Doc:
        old = self._changeable(view_id, user)
        self._check_name(self._owned(user.user), body.name, view_id)
        # Shared only by a member of the proposal's group, at every save: an owner who has left
        # the group no longer changes what its members are shown (unsharing stays theirs).
        group = self._share_group(body.sharedWith, user)
        view = SavedView(**body.model_dump(), id=view_id, owner=old.owner, sharedGroup=group,
                         createdAt=old.createdAt, updatedAt=now)
        self._put(view, new=False)
        return view.public(user, self._default_id(user.user))

    def delete(self, view_id: str, user: TokenUser) -> None:
        self._changeable(view_id, user)
        self._remove(view_id)
        # The owner's own default goes with it (they deleted it); others who chose it are told
        # when they read their default (their pointer is theirs to change).
        if self._default_id(user.user) == view_id:
            self._set_default_id(user.user, None)

    def _readable(self, view_id: str, user: TokenUser) -> SavedView:
        view = self._get(view_id)
        if view is None or not (view.owner == user.user or (view.sharedGroup is not None
                                                            and (user.admin or view.sharedGroup in user.groups))):
            raise NotFound(f"no view {view_id!r} that you may read")
        return view

    def _changeable(self, view_id: str, user: TokenUser) -> SavedView:
        view = self._readable(view_id, user)
        if view.owner != user.user:
            raise Forbidden(f"the view {view.name!r} is {view.owner}'s: only they change it (save it as yours)")
        return view

    @staticmethod
    def _check_name(own: list[SavedView], name: str, view_id: str | None) -> None:
        if any(v.name == name and v.id != view_id for v in own):
            raise Conflict(f"you have a view named {name!r} already")

    def _share_group(self, proposal: str | None, user: TokenUser) -> str | None:
        if proposal is None:
            return None
        group = self._proposal_group(proposal)
        # One answer whether the proposal is unknown or not the user's: sharing does not probe.
        if group is None or not (user.admin or group in user.groups):
            raise Invalid(f"sharedWith: you may share a view only with a proposal of your groups; {proposal!r} is not one")
        return group


class ViewStore(ViewRules):
    """The views in the catalogue's :data:`~scizoo.core.VIEW_COLLECTION` (its indexes are the
    catalogue's one set: unique ``owner`` + ``name``, and ``sharedGroup``)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self._catalogue = catalogue

    def _views(self) -> Any:
        return self._catalogue.collection(VIEW_COLLECTION)

    def _owned(self, owner: str) -> list[SavedView]:
        return [SavedView.from_mongo(d) for d in self._views().find({"owner": owner}).limit(MAX_VIEWS * 2)]

    def _shared(self, groups: list[str] | None) -> list[SavedView]:
        query: Doc = {"sharedGroup": {"$ne": None} if groups is None else {"$in": groups}}
        return [SavedView.from_mongo(d) for d in self._views().find(query).limit(1000)]

    def _get(self, view_id: str) -> SavedView | None:
        doc = self._views().find_one({"_id": view_id})
        return None if doc is None else SavedView.from_mongo(doc)

    def _put(self, view: SavedView, *, new: bool) -> None:
        try:
            if new:
                self._views().insert_one(view.to_mongo())
            else:
                self._views().replace_one({"_id": view.id}, view.to_mongo())
        except DuplicateKeyError as err:  # the unique index: two saves of one name at once
            raise Conflict(f"you have a view named {view.name!r} already") from err

    def _remove(self, view_id: str) -> None:
        self._views().delete_one({"_id": view_id})

    def _proposal_group(self, proposal_id: str) -> str | None:
        doc = self._catalogue.collection(PROPOSAL_COLLECTION).find_one({"_id": proposal_id}, {"ownerGroup": 1})
        group = (doc or {}).get("ownerGroup")
        return str(group) if group else None

    def _defaults(self) -> Any:
        return self._catalogue.collection(VIEW_DEFAULT_COLLECTION)

    def _default_id(self, user: str) -> str | None:
        doc = self._defaults().find_one({"_id": user}, {"view": 1})
        view = (doc or {}).get("view")
        return view if isinstance(view, str) and view else None

    def _set_default_id(self, user: str, view_id: str | None) -> None:
        if view_id is None:
            self._defaults().delete_one({"_id": user})
            return
        doc = {"_id": user, "view": view_id, "updatedAt": datetime.now(UTC)}
        try:
            self._defaults().replace_one({"_id": user}, doc, upsert=True)
        except DuplicateKeyError:
            # Two first upserts of one user at once: both missed, one inserted; this one's
            # insert found the key, so the document exists now and a replace finds it.
            self._defaults().replace_one({"_id": user}, doc, upsert=True)
