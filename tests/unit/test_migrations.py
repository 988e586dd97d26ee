"""The pure rule that moves a stored Attachment into the backend's relationships."""

from __future__ import annotations

from scizoo.core import PublicationIn, attachment_update, datacite_attributes, published_metadata
from scizoo.core._migrations import published_data_update

DATASET = {"targetType": "dataset", "relationType": "is attached to"}


def test_each_target_of_targetIds_becomes_one_relationship_with_targetId() -> None:
    doc = {"_id": "a", "aid": "a", "relationships": [{"targetIds": ["p/1", "p/2"], **DATASET},
                                                      {"targetId": "s/1", "targetType": "sample"}]}
    assert attachment_update(doc) == {"$set": {"relationships": [
        {"targetId": "p/1", **DATASET}, {"targetId": "p/2", **DATASET}, {"targetId": "s/1", "targetType": "sample"}]}}


def test_a_datasetid_becomes_a_relationship_once_and_is_removed() -> None:
    assert attachment_update({"_id": "a", "datasetId": "p/1"}) == {
        "$set": {"relationships": [{"targetId": "p/1", **DATASET}], "aid": "a"}, "$unset": {"datasetId": ""}}
    # Written with both (scanlog before issue 18): one relationship, not two.
    both = {"_id": "b", "aid": "b", "datasetId": "p/1", "relationships": [{"targetIds": ["p/1"], **DATASET}]}
    assert attachment_update(both) == {"$set": {"relationships": [{"targetId": "p/1", **DATASET}]},
                                       "$unset": {"datasetId": ""}}


def test_what_is_in_the_backends_shape_needs_nothing_and_a_second_run_finds_nothing() -> None:
    good = {"_id": "a", "aid": "a", "relationships": [{"targetId": "p/1", **DATASET}]}
    assert attachment_update(good) is None
    stale = {"_id": "c", "relationships": {"targetIds": "p/3"}}  # a lone object, one target not in a list
    update = attachment_update(stale)
    assert update == {"$set": {"relationships": [{"targetId": "p/3", **DATASET}], "aid": "c"}}
    assert attachment_update({**stale, **update["$set"]}) is None


def test_what_scicat_v3_stored_is_moved_as_the_backends_own_migration_does_without_dropping_any() -> None:
    v3 = {"_id": "x", "id": "att-7", "sampleId": "s/1", "proposalId": "20240001",
          "relationships": [{"targetId": "p/9", **DATASET}]}
    assert attachment_update(v3) == {
        "$set": {"relationships": [{"targetId": "p/9", **DATASET},
                                   {"targetId": "s/1", "targetType": "sample", "relationType": "is attached to"},
                                   {"targetId": "20240001", "targetType": "proposal", "relationType": "is attached to"}],
                 "aid": "att-7"},
        "$unset": {"sampleId": "", "proposalId": "", "id": ""}}
    assert attachment_update({"_id": "y", "relationships": [{"targetId": "p/9", **DATASET}]}) == {"$set": {"aid": "y"}}


def test_a_publication_gets_its_datacite_properties_where_scicat_reads_them_as_new_ones_have_them() -> None:
    pub = PublicationIn(title="t", abstract="a", creators=[{"name": "Lovelace, Ada"}], publisher="MAX IV",
                        publication_year=2026, subjects=["XPS"], dataset_pids=["p/1"])
    attributes = datacite_attributes(pub, "10.5072/x", "https://example.org/x")
    old = {"_id": "10.5072/x", "metadata": {"scizoo_form": pub.model_dump(mode="json"), "datacite": attributes}}
    update = published_data_update(old)
    assert update is not None
    moved = {**old["metadata"], **{k.removeprefix("metadata."): v for k, v in update["$set"].items()}}
    assert moved == published_metadata(pub, "10.5072/x", "https://example.org/x")
    assert published_data_update({**old, "metadata": moved}) is None
