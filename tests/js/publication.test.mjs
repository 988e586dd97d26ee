// publication.js: the publication form -> the body of POST /api/publications, and its errors.
import test from "node:test";
import assert from "node:assert/strict";
import {embargoTime, formErrors, lines, publicationBody} from "../../scanlog_api/static/publication.js";

const form = {
  title: "Beam profiles", abstract: "What we saw.", publisher: "MAX IV", resource_type: "Dataset",
  publication_year: "2024", license: "CC-BY-4.0", subjects: " xas, , beam profile ",
  creators: "Curie, Marie; 0000-0002-1825-0097; Sorbonne\n\n  Doe, Jane  \n",
  related: "10.1000/xyz; IsSupplementTo\nhttps://example.org/paper; IsCitedBy\n10.1000/abc",
  funding: "ERC; 12345\nVR",
};

test("the form's lines become creators, related identifiers and funding", () => {
  const body = publicationBody(form, ["p/1", "p/2"]);
  assert.equal(body.publication_year, 2024);
  assert.deepEqual(body.dataset_pids, ["p/1", "p/2"]);
  assert.deepEqual(body.subjects, ["xas", "beam profile"]);
  assert.deepEqual(body.creators, [
    {name: "Curie, Marie", orcid: "0000-0002-1825-0097", affiliation: "Sorbonne"},
    {name: "Doe, Jane", orcid: "", affiliation: ""}]);
  assert.deepEqual(body.related, [
    {identifier: "10.1000/xyz", relation_type: "IsSupplementTo", identifier_type: "DOI"},
    {identifier: "https://example.org/paper", relation_type: "IsCitedBy", identifier_type: "URL"},
    {identifier: "10.1000/abc", relation_type: "IsSupplementTo", identifier_type: "DOI"}]);
  assert.deepEqual(body.funding, [{funder_name: "ERC", award_number: "12345"}, {funder_name: "VR", award_number: ""}]);
  for (const key of ["title", "abstract", "publisher", "resource_type", "license"]) assert.equal(body[key], form[key]);
});

test("empty fields give empty lists", () => {
  const body = publicationBody({...form, subjects: "", creators: "", related: " \n ", funding: undefined}, []);
  assert.deepEqual([body.subjects, body.creators, body.related, body.funding], [[], [], [], []]);
  assert.deepEqual(lines("a\n\n b \n"), ["a", "b"]);
});

test("the API's objections go to their fields; anything else to the whole form", () => {
  const detail = [{loc: ["body", "title"], msg: "too long"}, {loc: ["body"], msg: "not JSON"}, {msg: "odd"}];
  assert.deepEqual(formErrors(detail, "Unprocessable"), [["title", "too long"], ["form", "not JSON"], ["form", "odd"]]);
  assert.deepEqual(formErrors("DataCite refused the DOI", "Bad Gateway"), [["form", "DataCite refused the DOI"]]);
  assert.deepEqual(formErrors(undefined, "Bad Gateway"), [["form", "Bad Gateway"]]);
});

test("an embargo's day is the start of that day in UTC; none is null", () => {
  assert.equal(publicationBody({...form, embargo_until: "2027-03-01"}, []).embargo_until, "2027-03-01T00:00:00Z");
  assert.equal(publicationBody(form, []).embargo_until, null);
  assert.equal(embargoTime(" "), null);
  assert.equal(embargoTime("2027-03-01T12:00:00+02:00"), "2027-03-01T12:00:00+02:00");  // a time as given
});
