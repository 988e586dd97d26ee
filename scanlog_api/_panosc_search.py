"""The PaNOSC search API over the catalogue: published datasets, registered publications and
instruments, read with the filters of ``_panosc`` and answered in the API's shapes.

What each PaNOSC model is here (after SciCat's own PaNOSC service,
SciCatProject/panosc-search-api ``common/response-mapper.js``):

- a **Dataset** is a published ``Dataset`` (``isPublished``: nothing else is ever read):
  ``pid``, ``title`` = ``datasetName``, ``isPublic``, ``size``, ``creationDate`` =
  ``creationTime``; its ``parameters`` are its ``scientificMetadata`` entries (a nested
  key's name joins its parts with ``.``), each value in the unit the filter asked for that
  name when it asked one; ``techniques`` are SciCat's ``techniques`` field (``{pid, name}``,
  which capture does not fill: empty unless a facility sets them in SciCat); ``instrument``
  the ``Instrument`` its ``instrumentIds`` names; ``files`` its OrigDatablocks' files;
  ``documents`` the registered publications holding it; ``samples`` none (no Sample
  documents are kept here).
- a **Document** is a registered (or amended) ``PublishedData``: ``pid`` = ``doi``, ``type``
  "publication", ``summary`` = ``abstract``, ``releaseDate`` = ``registeredTime``,
  ``license`` and ``keywords`` from its DataCite metadata; ``members`` its creators (as
  DataCite writes a name: "Family, Given"); it has no ``parameters`` of its own.
- an **Instrument** is an ``Instrument`` (a beamline): ``pid``, ``name``, ``facility`` (its
  ``customMetadata.facility``, else this service's publisher).

With ``query``, items are those holding any of its words (in a dataset's name, description
and keywords; a publication's title, abstract and subjects), ranked by the share of the words
they hold (``score``, 0 to 1), as SciCat's scoring service ranks and leaves out those scoring
0 (a simple share of words, not the service's TF-IDF). Without it every score is 0.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from pymongo import DESCENDING
from pymongo.collection import Collection

from scizoo.core import (
    DATASET_COLLECTION,
    INSTRUMENT_COLLECTION,
    ORIG_DATABLOCK_COLLECTION,
    PUBLISHED_DATA_COLLECTION,
    to_si,
)

from ._conditions import Condition, ConditionError, and_into, conditions_filters, keys_with_units
from ._deps import MAX_CONDITION_SCAN
from ._errors import NotFound
from ._match import matches
from ._panosc import Filter, Groups, Include, conditions_of, groups_filter, parameter_groups
from ._panosc_shapes import DATASET_WORDS, DOCUMENT_WORDS, clean, iso, members, parameters, ranked
from ._panosc_where import (
    DATASET,
    DOCUMENT,
    FILE,
    INSTRUMENT,
    MEMBER,
    NOTHING,
    PERSON,
    TECHNIQUE,
    BadFilter,
    Budget,
    Doc,
    translate,
    within,
)
from ._ports import Scans

#: Registered publications (PaNOSC Documents): those DataCite made public.
PUBLIC_STATUSES = ("registered", "amended")
#: A relation's condition narrows the datasets to at most this many ids (published ones).
MAX_JOIN = 50_000
#: Instruments are read whole; a facility has tens.
MAX_INSTRUMENTS = 2_000
#: An answer holds at most this many items (datasets, documents, parameters, files, techniques,
#: instruments, members), counted at every level of its inclusions as the JSON holds them: a
#: dataset's documents including their datasets including their documents ... repeat one
#: publication's datasets at every level (30 datasets, six levels: 865,860 objects, 159 MB from
#: a filter of 200 characters, anonymous), and the work of finding them grows alike. A full
#: page of 500 datasets with their 40 parameters each is 20,500.
MAX_ANSWER_ITEMS = 100_000


class PanoscCatalogue:
    """The three PaNOSC models over the catalogue's collections, published data only."""

    def __init__(self, collection: Callable[[str], Collection[Doc]], scans: Scans, facility: str) -> None:
        self._collection = collection
        self._scans = scans
        self.facility = facility
        #: Items this catalogue's answer may still hold (one catalogue a request: ``get_panosc``).
        self._left = MAX_ANSWER_ITEMS

    def _spend(self, items: int) -> None:
        """Count ``items`` more in the answer; :class:`BadFilter` once it would hold too many."""
        self._left -= items
        if self._left < 0:
            raise BadFilter(f"the answer would hold over {MAX_ANSWER_ITEMS:,} items (datasets, documents, "
                            "parameters, files, ... at every level of include): include less, or ask for "
                            "fewer at a time (limit)")

    def _spent(self, items: list[Doc]) -> list[Doc]:
        """``items``, counted (with what each holds) in the answer."""
        self._spend(_size(items, self._left + 1))
        return items

    # --- instruments ------------------------------------------------------------------------

    def _instruments(self) -> list[Doc]:
        docs = self._collection(INSTRUMENT_COLLECTION).find({}, {"pid": 1, "name": 1, "customMetadata": 1})
        out = []
        for doc in docs.limit(MAX_INSTRUMENTS):
            facility = (doc.get("customMetadata") or {}).get("facility")
            out.append({"pid": str(doc.get("pid") or doc["_id"]), "name": str(doc.get("name") or doc["_id"]),
                        "facility": facility if isinstance(facility, str) and facility else self.facility})
        return sorted(out, key=lambda i: (i["name"], i["pid"]))

    def instruments(self, where: Doc | None) -> list[Doc]:
        """The instruments matching ``where`` (in their PaNOSC shape, matched in memory)."""
        test = translate(where, INSTRUMENT) if where else {}
        return [i for i in self._instruments() if matches(test, i)]

    def find_instruments(self, flt: Filter) -> list[Doc]:
        found = self.instruments(flt.where)
        return [{**i, "score": 0} for i in found[flt.skip:flt.skip + flt.limit]]

    def instrument(self, pid: str) -> Doc:
        found = next((i for i in self._instruments() if i["pid"] == pid), None)
        if found is None:
            raise NotFound(f"no instrument {pid!r}")
        return found

    # --- datasets ---------------------------------------------------------------------------

    def dataset_query(self, where: Doc | None, includes: Iterable[Include] = ()) -> Doc:
        """The store filter of published datasets matching ``where`` and the inclusions' scopes
        (inner joins). ``isPublished: true`` is the query's own top-level field: a user's
        filter is ANDed beside it, never in its place."""
        filters: list[Doc] = [translate(where, DATASET)] if where else []
        groups: list[Groups] = []
        for inc in includes:
            if inc.where is None and not _narrows(inc):
                continue
            if inc.relation == "parameters":
                groups.append(parameter_groups(inc.where or {}, Budget()))
            elif inc.relation == "techniques":
                filters.append(within("techniques", translate(inc.where or {}, TECHNIQUE)))
            elif inc.relation == "instrument":
                filters.append({"instrumentIds": {"$in": [i["pid"] for i in self.instruments(inc.where)]}})
            elif inc.relation == "files":
                found = within("dataFileList", translate(inc.where or {}, FILE))
                # Published datablocks only (publishing marks them): the join never reads, nor
                # counts towards its bound, what belongs to unpublished data.
                published = {"$and": [{"isPublished": True}, found]}
                filters.append({"_id": {"$in": self._bounded(ORIG_DATABLOCK_COLLECTION, "datasetId", published)}})
            elif inc.relation == "documents":
                filters.append({"_id": {"$in": self._bounded(PUBLISHED_DATA_COLLECTION, "datasetPids",
                                                             self.document_query(inc.where, inc.include))}})
            else:  # samples: none are kept here, so no dataset has one that matches
                filters.append(dict(NOTHING))
        query = _published(filters)
        if groups:
            conditions = [c for g in groups for c in conditions_of(g)]
            compiled = self._compile(conditions, query)
            query = _published(conjunction([*filters, *(groups_filter(g, compiled) for g in groups)]))
        return query

    def _compile(self, conditions: list[Condition], selection: Doc) -> dict[Condition, Doc]:
        """The engine's filter of each condition, its units read within the selection.

        Unlike the scan table, a key no published scan holds, or held only in units another
        facility's query cannot compare with, is no error here: a federated search asks
        every facility the same, and the answer is "none" (a unit pint cannot read still is
        a bad filter). So only the compatible units the selection holds are handed on.
        """
        if self._scans.count([selection]) > MAX_CONDITION_SCAN:
            raise BadFilter(f"parameter conditions search at most {MAX_CONDITION_SCAN:,} datasets: "
                            "narrow the selection (where on creationDate, an instrument) first")
        # Only entries without valueSI (lists) are compared in their own unit: their units are
        # the ones the engine needs (asking for every unit would make it add an alternative per
        # unit, each an $or that SecantusDB answers by reading the whole selection).
        held = {key: without for key, (_, without) in
                self._scans.key_unit_sets([selection], keys_with_units(conditions)).items()}
        wanted: dict[str, set[str]] = {}
        for cond in conditions:
            if cond.unit and (si := to_si(1.0, cond.unit)) is not None:
                wanted.setdefault(cond.key, set()).add(si.unit)
        units = {key: {u for u in found if (si := to_si(1.0, u)) is not None and si.unit in wanted.get(key, ())}
                 for key, found in held.items()}
        try:
            return dict(zip(conditions, conditions_filters(conditions, units), strict=True))
        except ConditionError as err:
            raise BadFilter(str(err)) from err

    def _bounded(self, collection: str, key: str, query: Doc) -> list[Any]:
        ids = self._collection(collection).distinct(key, query)
        if len(ids) > MAX_JOIN:
            raise BadFilter(f"a relation's condition matches over {MAX_JOIN:,} datasets: narrow it")
        return ids

    def find_datasets(self, flt: Filter) -> list[Doc]:
        query = self.dataset_query(flt.where, flt.include)
        newest = [("creationTime", DESCENDING), ("_id", DESCENDING)]
        if flt.query:
            return ranked(self._collection(DATASET_COLLECTION), query, newest, DATASET_WORDS, flt,
                           lambda docs: self.datasets_out(docs, flt.include))
        # The scan table's page: over the tally's window of hours when it can evaluate the query.
        return self.datasets_out(self._scans.page([query], "creationTime", "desc", flt.skip, flt.limit), flt.include)

    def dataset(self, pid: str, flt: Filter) -> Doc:
        query = and_into(self.dataset_query(flt.where, flt.include), [{"_id": pid}])
        doc = self._collection(DATASET_COLLECTION).find_one(query)
        if doc is None or doc.get("isPublished") is not True:
            raise NotFound(f"no published dataset {pid!r}")
        return self.datasets_out([doc], flt.include)[0]

    def count_datasets(self, where: Doc | None) -> int:
        return self._scans.count([self.dataset_query(where)])  # the tally's where it can answer

    def datasets_out(self, docs: list[Doc], includes: list[Include]) -> list[Doc]:
        """Datasets in the API's shape, with what ``includes`` asks for."""
        self._spend(len(docs))
        out = [clean({"pid": str(d.get("pid") or d["_id"]), "title": d.get("datasetName"),
                       "isPublic": d.get("isPublished") is True, "size": d.get("size"),
                       "creationDate": iso(d.get("creationTime")), "score": 0}) for d in docs]
        pids = [d["_id"] for d in docs]
        for inc in includes:
            if inc.relation == "parameters":
                units = _asked_units(includes)
                for item, doc in zip(out, docs, strict=True):
                    item["parameters"] = self._spent(parameters(doc.get("scientificMetadata"), units))
            elif inc.relation == "techniques":
                test = translate(inc.where, TECHNIQUE) if inc.where else {}
                for item, doc in zip(out, docs, strict=True):
                    item["techniques"] = self._spent([{"pid": str(t.get("pid")), "name": str(t.get("name"))}
                                                      for t in doc.get("techniques") or [] if isinstance(t, dict)
                                                      and matches(test, t)])
            elif inc.relation == "instrument":
                known = {i["pid"]: i for i in self.instruments(inc.where)}
                for item, doc in zip(out, docs, strict=True):
                    found = next((known[i] for i in doc.get("instrumentIds") or [] if i in known), None)
                    if found is not None:
                        self._spend(1)
                        item["instrument"] = found
            elif inc.relation == "files":
                files = self._files(pids, inc.where, self._left + 1)  # more would be refused
                for item, doc in zip(out, docs, strict=True):
                    item["files"] = self._spent(files.get(doc["_id"], []))
            elif inc.relation == "documents":
                held = self._documents_holding(pids, inc)
                for item, doc in zip(out, docs, strict=True):
                    item["documents"] = held.get(doc["_id"], [])
            else:
                for item in out:
                    item[inc.relation] = []
        return out

    def _matching_files(self, pids: list[Any], where: Doc | None) -> Iterator[tuple[Doc, int, Doc]]:
        """Each file of the datasets' blocks that ``where`` selects: its block, place and entry."""
        test = translate(where, FILE) if where else {}
        for block in self._collection(ORIG_DATABLOCK_COLLECTION).find({"datasetId": {"$in": pids}}):
            for n, entry in enumerate(block.get("dataFileList") or []):
                if isinstance(entry, dict) and matches(test, entry):  # another writer's odd entry: no file
                    yield block, n, entry

    def _files(self, pids: list[Any], where: Doc | None, most: int | None = None) -> dict[Any, list[Doc]]:
        """The datasets' files in the API's shape, by dataset; at most ``most`` in all (None:
        every one): a dataset may hold a million files, and an answer lists a page of them."""
        files: dict[Any, list[Doc]] = {}
        found = self._matching_files(pids, where)
        for block, n, entry in found if most is None else itertools.islice(found, most):
            path = str(entry.get("path", ""))
            folder, _, name = path.rpartition("/")
            files.setdefault(block["datasetId"], []).append(
                clean({"id": f"{block['_id']}-{n}", "name": name, "path": folder, "size": entry.get("size")}))
        return files

    def files(self, pid: str, where: Doc | None, skip: int = 0, limit: int | None = None) -> list[Doc]:
        """A page of a published dataset's files (only as many are made as the page needs)."""
        self.dataset(pid, Filter())  # NotFound unless published
        found = self._files([pid], where, None if limit is None else skip + limit).get(pid, [])
        return found[skip:]

    def count_files(self, pid: str, where: Doc | None) -> int:
        """How many files of a published dataset ``where`` selects (counted, none made)."""
        self.dataset(pid, Filter())  # NotFound unless published
        return sum(1 for _ in self._matching_files([pid], where))

    def _documents_holding(self, pids: list[Any], inc: Include) -> dict[Any, list[Doc]]:
        query = and_into(self.document_query(inc.where, inc.include), [{"datasetPids": {"$in": pids}}])
        held: dict[Any, list[Doc]] = {}
        for doc in self._collection(PUBLISHED_DATA_COLLECTION).find(query).limit(min(MAX_JOIN, self._left + 1)):
            shaped = self.documents_out([doc], inc.include)[0]  # counted once as made
            for n, pid in enumerate(p for p in dict.fromkeys(doc.get("datasetPids") or []) if p in pids):
                if n:  # and again each further dataset it is listed under
                    self._spent([shaped])
                held.setdefault(pid, []).append(shaped)
        return held

    # --- documents --------------------------------------------------------------------------

    def document_query(self, where: Doc | None, includes: Iterable[Include] = ()) -> Doc:
        """Registered publications matching ``where`` and the inclusions' scopes (inner joins)."""
        filters: list[Doc] = [translate(where, DOCUMENT)] if where else []
        for inc in includes:
            if inc.relation == "datasets" and (inc.where is not None or _narrows(inc)):
                filters.append({"datasetPids": {"$in": self._bounded(
                    DATASET_COLLECTION, "_id", self.dataset_query(inc.where, inc.include))}})
            elif inc.relation == "members" and (inc.where is not None or _narrows(inc)):
                member = translate(inc.where, MEMBER) if inc.where else {}
                filters.append(member)
                for person in (i for i in inc.include if i.relation == "person" and i.where is not None):
                    filters.append(within("metadata.creators", translate(person.where or {}, PERSON)))
                if any(i.relation == "affiliation" and i.where is not None for i in inc.include):
                    filters.append(dict(NOTHING))  # affiliations are not searchable here
            elif inc.relation == "parameters" and inc.where is not None:
                filters.append(dict(NOTHING))  # a publication holds no parameters of its own
        return and_into({"status": {"$in": list(PUBLIC_STATUSES)}}, filters)

    def find_documents(self, flt: Filter) -> list[Doc]:
        query = self.document_query(flt.where, flt.include)
        newest = [("registeredTime", DESCENDING), ("_id", DESCENDING)]
        if flt.query:
            return ranked(self._collection(PUBLISHED_DATA_COLLECTION), query, newest, DOCUMENT_WORDS, flt,
                           lambda docs: self.documents_out(docs, flt.include))
        docs = self._collection(PUBLISHED_DATA_COLLECTION).find(query).sort(newest).skip(flt.skip).limit(flt.limit)
        return self.documents_out(list(docs), flt.include)

    def document(self, pid: str, flt: Filter) -> Doc:
        query = and_into(self.document_query(flt.where, flt.include), [{"_id": pid}])
        doc = self._collection(PUBLISHED_DATA_COLLECTION).find_one(query)
        if doc is None or doc.get("status") not in PUBLIC_STATUSES:
            raise NotFound(f"no registered publication {pid!r}")
        return self.documents_out([doc], flt.include)[0]

    def count_documents(self, where: Doc | None) -> int:
        return self._collection(PUBLISHED_DATA_COLLECTION).count_documents(self.document_query(where))

    def documents_out(self, docs: list[Doc], includes: list[Include]) -> list[Doc]:
        self._spend(len(docs))
        out = []
        for doc in docs:
            meta = doc.get("metadata") or {}
            rights = [r.get("rightsIdentifier") for r in meta.get("rightsList") or [] if isinstance(r, dict)]
            item = clean({
                "pid": str(doc.get("doi") or doc["_id"]), "isPublic": True, "type": "publication",
                "title": doc.get("title"), "summary": doc.get("abstract"), "doi": doc.get("doi"),
                "releaseDate": iso(doc.get("registeredTime")), "license": next(iter(rights), None),
                "keywords": [s["subject"] for s in meta.get("subjects") or [] if isinstance(s, dict) and "subject" in s],
                "score": 0})
            for inc in includes:
                if inc.relation == "datasets":
                    query = and_into(self.dataset_query(inc.where, inc.include),
                                     [{"_id": {"$in": list(doc.get("datasetPids") or [])}}])
                    found = self._collection(DATASET_COLLECTION).find(query).sort("creationTime", DESCENDING)
                    item["datasets"] = self.datasets_out(list(found.limit(self._left + 1)), inc.include)
                elif inc.relation == "members":
                    item["members"] = self._spent(members(meta.get("creators") or [], inc))
                else:
                    item["parameters"] = []
            out.append(item)
        return out


def conjunction(filters: list[Doc]) -> list[Doc]:
    """The filters ANDed with as few as possible left under ``$and``: plain field conditions
    on the same field are merged into one (``valueSI >= lo`` and ``valueSI <= hi`` into one
    range), which means the same (on a list field too: each bound may be met by any element
    either way) and keeps the query flat, the shape a store's planner serves from an index."""
    merged: Doc = {}
    rest: list[Doc] = []
    pending = list(filters)
    while pending:
        flt = pending.pop(0)
        if list(flt) == ["$and"]:  # an AND inside the AND: its parts join the rest
            pending[:0] = flt["$and"]
            continue
        if any(k.startswith("$") for k in flt) or not all(_fits(merged.get(k), v) for k, v in flt.items()):
            rest.append(flt)
            continue
        for key, value in flt.items():
            old = merged.get(key)
            merged[key] = {**old, **value} if isinstance(old, dict) and old != value else value
    return [merged, *rest] if merged else rest


def _fits(old: Any, new: Any) -> bool:
    """Whether a field's condition can join the one already there without changing either."""
    if old is None or old == new:
        return True
    operators = (isinstance(c, dict) and c and all(str(k).startswith("$") for k in c) for c in (old, new))
    return all(operators) and not set(old) & set(new) and "$not" not in {*old, *new}


def _size(value: Any, most: int) -> int:
    """The items (JSON objects) ``value`` holds, itself included, counted up to just over ``most``."""
    count = 0
    stack = [value]
    while stack and count <= most:
        node = stack.pop()
        if isinstance(node, dict):
            count += 1
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return count


def _narrows(inc: Include) -> bool:
    """Whether an inclusion's own inclusions have conditions (an inner join two levels down)."""
    return any(i.where is not None or _narrows(i) for i in inc.include)


def _published(filters: list[Doc]) -> Doc:
    query = and_into({"isPublished": True}, filters)
    if query.get("isPublished") is not True:  # the one rule of this API, checked where its queries are made
        raise RuntimeError("a PaNOSC dataset query without isPublished: true")
    return query


def _asked_units(includes: list[Include]) -> dict[str, str]:
    """The unit the filter gave each parameter name (the first one given)."""
    units: dict[str, str] = {}
    for inc in includes:
        if inc.relation == "parameters" and inc.where is not None:
            for atom in itertools.chain.from_iterable(parameter_groups(inc.where, Budget())):
                if atom.condition.unit:
                    units.setdefault(atom.condition.key, atom.condition.unit)
    return units


