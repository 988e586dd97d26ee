"""The PaNOSC search API (github.com/panosc-eu/search-api) over published data, anonymous.

Mounted under ``/panosc-api``, the path SciCat's own PaNOSC service has at facilities (a
federated search lists ``https://<host>/panosc-api`` as a provider and calls
``/Datasets``, ``/Documents``, ``/Instruments`` below it). LoopBack answers paths in any
case; the lower-case ones (``/panosc-api/datasets``) are answered too, outside the OpenAPI
document. Who asks does not matter: only published datasets and registered publications are
ever read, whatever token comes along. Filters: ``_panosc`` and ``_panosc_where``; the catalogue: ``_panosc_search``.
"""

# No `from __future__ import annotations`: FastAPI reads the real annotations.

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from ._deps import services
from ._errors import NotConfigured
from ._panosc import MAX_FILTER_CHARS, MAX_QUERY_CHARS, Filter, parse_filter, parse_json
from ._panosc_search import PanoscCatalogue
from ._panosc_where import DATASET, DOCUMENT, FILE, INSTRUMENT, BadFilter, Model, translate
from ._store import ScanStore

PREFIX = "/panosc-api"
router = APIRouter(prefix=PREFIX, tags=["PaNOSC search API"])


def get_panosc(request: Request) -> PanoscCatalogue:
    state = services(request)
    if not isinstance(state.store, ScanStore):
        raise NotConfigured("the PaNOSC search API needs the catalogue")
    facility = state.oai.repository if state.oai is not None else "scizoo"
    return PanoscCatalogue(state.store.catalogue.collection, state.store, facility)


Panosc = Annotated[PanoscCatalogue, Depends(get_panosc)]

FILTER_DOC = (
    "LoopBack's filter as JSON (the PaNOSC search API's doc/query.md): where, include (with scope.where: an inner "
    "join), limit (default 100, at most 500), skip (at most 10,000), query. A parameter's value given with a unit is "
    "converted with pint and compared with SciCat's valueSI. Bad filters answer 400 naming the part.")
WHERE_DOC = "A where filter as JSON (LoopBack's), on the model's own properties."
#: The reference's own example queries (doc/dataset-example-queries.md).
DATASET_EXAMPLES = {
    "photon energy 880-990 eV": {"value": '{"include":[{"relation":"parameters","scope":{"where":{"and":['
                                          '{"name":"photon_energy"},{"value":{"between":[880,990]}},{"unit":"eV"}]}}}]}'},
    "temperature below 80 degC": {"value": '{"include":[{"relation":"parameters","scope":{"where":{"and":['
                                           '{"name":"temperature"},{"value":{"lt":80}},{"unit":"celsius"}]}}}]}'},
    "solid sample or copper": {"value": '{"include":[{"relation":"parameters","scope":{"where":{"or":['
                                        '{"and":[{"name":"sample_state"},{"value":"solid"}]},'
                                        '{"and":[{"name":"chemical_formula"},{"value":"Cu"}]}]}}}]}'},
    "technique": {"value": '{"include":[{"relation":"techniques","scope":{"where":{"name":"x-ray absorption"}}}]}'},
    "files matching a text": {"value": '{"include":[{"relation":"files","scope":{"where":{"text":"file1"}}}]}'},
    "a page": {"value": '{"where":{"creationDate":{"gte":"2026-01-01T00:00:00Z"}},"limit":10,"skip":10}'},
}
DOCUMENT_EXAMPLES = {
    "with datasets where the wavelength is 1000-1100 nm": {"value": (
        '{"include":[{"relation":"datasets","scope":{"include":[{"relation":"parameters","scope":{"where":{"and":['
        '{"name":"wavelength"},{"value":{"between":[1000,1100]}},{"unit":"nm"}]}}}]}}]}')},
    "title contains": {"value": '{"where":{"text":"powder"},"include":[{"relation":"members","scope":'
                                '{"include":[{"relation":"person"}]}}]}'},
}
INSTRUMENT_EXAMPLES = {"by name": {"value": '{"where":{"name":"LoKI"}}'},
                       "a page": {"value": '{"where":{"facility":"ESS"},"skip":0,"limit":3}'}}

FilterText = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS, description=FILTER_DOC)]
WhereText = Annotated[str | None, Query(max_length=MAX_FILTER_CHARS, description=WHERE_DOC)]
QueryText = Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description=(
    "Words to rank by (SciCat's scoring service's query): only items holding one of them, best first; the "
    "score is the share of the words an item's title, description/summary and keywords hold. Also in the "
    "filter as 'query'."))]


def _filter(text: str | None, model: Model, query: str | None = None) -> Filter:
    return parse_filter(parse_json(text, "filter"), model, query)


def _where(text: str | None, model: Model) -> dict[str, Any] | None:
    raw = parse_json(text, "where")
    if raw is not None and not isinstance(raw, dict):
        raise BadFilter("where is a JSON object of conditions")
    if raw:
        translate(raw, model)  # checked before the store is asked
    return raw or None


def _get(path: str, summary: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A GET route at ``path`` and, outside the OpenAPI document, at its lower-case form."""
    def register(func: Callable[..., Any]) -> Callable[..., Any]:
        router.get(path, summary=summary)(func)
        router.get(path.lower(), include_in_schema=False)(func)
        return func
    return register


# Order matters: /Datasets/count and /Datasets/{pid}/files before /Datasets/{pid} (a pid holds '/').

@_get("/Datasets/count", "Count published datasets")
def count_datasets(panosc: Panosc, where: WhereText = None) -> dict[str, int]:
    return {"count": panosc.count_datasets(_where(where, DATASET))}


@_get("/Datasets/{pid:path}/files/count", "Count a published dataset's files")
def count_files(pid: str, panosc: Panosc, where: WhereText = None) -> dict[str, int]:
    return {"count": panosc.count_files(pid, _where(where, FILE))}


@_get("/Datasets/{pid:path}/files", "A published dataset's files")
def files(pid: str, panosc: Panosc, filter: FilterText = None) -> list[dict[str, Any]]:  # noqa: A002
    flt = _filter(filter, FILE)
    return panosc.files(pid, flt.where, flt.skip, flt.limit)


@_get("/Datasets/{pid:path}", "One published dataset")
def dataset(pid: str, panosc: Panosc, filter: FilterText = None) -> dict[str, Any]:  # noqa: A002
    return panosc.dataset(pid, _filter(filter, DATASET))


@_get("/Datasets", "Search published datasets")
def datasets(panosc: Panosc, filter: Annotated[str | None, Query(  # noqa: A002
        max_length=MAX_FILTER_CHARS, description=FILTER_DOC, openapi_examples=DATASET_EXAMPLES)] = None,
        query: QueryText = None) -> list[dict[str, Any]]:
    return panosc.find_datasets(_filter(filter, DATASET, query))


@_get("/Documents/count", "Count registered publications")
def count_documents(panosc: Panosc, where: WhereText = None) -> dict[str, int]:
    return {"count": panosc.count_documents(_where(where, DOCUMENT))}


@_get("/Documents/{pid:path}", "One registered publication")
def document(pid: str, panosc: Panosc, filter: FilterText = None) -> dict[str, Any]:  # noqa: A002
    return panosc.document(pid, _filter(filter, DOCUMENT))


@_get("/Documents", "Search registered publications")
def documents(panosc: Panosc, filter: Annotated[str | None, Query(  # noqa: A002
        max_length=MAX_FILTER_CHARS, description=FILTER_DOC, openapi_examples=DOCUMENT_EXAMPLES)] = None,
        query: QueryText = None) -> list[dict[str, Any]]:
    return panosc.find_documents(_filter(filter, DOCUMENT, query))


@_get("/Instruments/count", "Count instruments")
def count_instruments(panosc: Panosc, where: WhereText = None) -> dict[str, int]:
    return {"count": len(panosc.instruments(_where(where, INSTRUMENT)))}


@_get("/Instruments/{pid:path}", "One instrument")
def instrument(pid: str, panosc: Panosc, filter: FilterText = None) -> dict[str, Any]:  # noqa: A002
    _filter(filter, INSTRUMENT)
    return panosc.instrument(pid)


@_get("/Instruments", "Search instruments")
def instruments(panosc: Panosc, filter: Annotated[str | None, Query(  # noqa: A002
        max_length=MAX_FILTER_CHARS, description=FILTER_DOC, openapi_examples=INSTRUMENT_EXAMPLES)] = None,
        ) -> list[dict[str, Any]]:
    return panosc.find_instruments(_filter(filter, INSTRUMENT))
