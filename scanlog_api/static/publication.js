// The publication form's text as the body POST /api/publications takes, and where the API's
// objections go on the form. Pure (no DOM): node's tests import it.

export function lines(text) { return String(text || "").split("\n").map((l) => l.trim()).filter(Boolean); }

const parts = (line) => line.split(";").map((s) => s.trim());

// An embargo's day ("YYYY-MM-DD", a date input's value) as the time the API takes: the start of
// that day in UTC (DataCite's Available date is that day). Empty: no embargo (null).
export function embargoTime(day) {
  const text = String(day || "").trim();
  return /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : (text || null);
}

// form: the fields' text by name (title, abstract, publisher, resource_type, publication_year,
// license, subjects, creators, related, funding, embargo_until); pids: the cart's datasets.
export function publicationBody(form, pids) {
  return {
    title: form.title, abstract: form.abstract, publisher: form.publisher, resource_type: form.resource_type,
    publication_year: Number(form.publication_year), license: form.license, dataset_pids: pids,
    embargo_until: embargoTime(form.embargo_until),
    subjects: String(form.subjects || "").split(",").map((s) => s.trim()).filter(Boolean),
    // one per line: "Family, Given; ORCID; affiliation"
    creators: lines(form.creators).map((l) => { const [name, orcid = "", affiliation = ""] = parts(l); return {name, orcid, affiliation}; }),
    // one per line: "DOI or URL; relation"
    related: lines(form.related).map((l) => {
      const [identifier, relation_type = "IsSupplementTo"] = parts(l);
      return {identifier, relation_type, identifier_type: identifier.startsWith("http") ? "URL" : "DOI"};
    }),
    // one per line: "funder; award"
    funding: lines(form.funding).map((l) => { const [funder_name, award_number = ""] = parts(l); return {funder_name, award_number}; }),
  };
}

// The API's answer to a refused form, as [field, message] pairs: a validation error names its
// field (loc: ["body", field, ...]); anything else is about the whole form.
export function formErrors(detail, statusText) {
  if (!Array.isArray(detail)) return [["form", String(detail || statusText)]];
  return detail.map((e) => [(e.loc || [])[1] || "form", e.msg]);
}
