// The facets panel's pure parts: the query for the selection's facets, what each value reads as,
// and what a click on it does to the selection. Pure (no DOM): node's tests import it.
//
// The API (/api/scans/facets, scanlog_api/_facets.py) counts the selection's newest scans per
// beamline, proposal, status (scan_status) and rating, and for a few keys a histogram or the top
// values. A click narrows the selection: a beamline, proposal or rating sets that filter; a status
// or a key's value adds `key = value`; a bar adds `key ≥ lo` and `key < hi` (≤ for the last bar),
// as the API counted it (half-open bins: `between` is strict, so a value on an edge would be lost).
import {filterParams} from "./query.js";
import {toWhere} from "./conditions.js";

export const MAX_FACET_KEYS = 4;  // the API's bound (MAX_FACET_KEYS in _facets.py)
export const STATUS_KEY = "scan_status";
export const RATINGS = ["0.5", "1", "1.5", "2", "2.5", "3"];  // the rating filter's choices

// The query for the filter's facets; keys: [{key, unit}] ("" unit: the key's own).
export function facetParams(filter, keys, now, bins = 10) {
  const q = filterParams(filter, now);
  keys.slice(0, MAX_FACET_KEYS).forEach(({key}) => q.append("key", key));
  keys.slice(0, MAX_FACET_KEYS).forEach(({unit}) => q.append("unit", unit || ""));
  q.set("bins", bins);
  return q;
}

// The facet keys with one added (its own unit) or left as they are: none twice, at most the bound.
export function withKey(keys, key) {
  key = (key || "").trim();
  if (!key || keys.some((k) => k.key === key)) return {keys};
  if (keys.length >= MAX_FACET_KEYS) return {keys, error: `at most ${MAX_FACET_KEYS} facet keys`};
  return {keys: [...keys, {key, unit: ""}]};
}

// A number as a person reads it on a bar (the API's edges are round already).
export function num(x) { return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(6))); }

// What one value of a facet reads as.
export function valueLabel(facet, value) {
  if (facet === "rating") return value == null ? "unrated" : `${"★".repeat(Math.floor(value))}${value % 1 ? "½" : ""} ${num(value)}`;
  if (value === "" || value == null) return "(empty)";
  return String(value);
}

export function binLabel({lo, hi}, unit) { return `${num(lo)} – ${num(hi)}${unit ? " " + unit : ""}`; }

// What the counts cover: all of the selection, or its newest scans.
export function countedNote({counted, of}) {
  if (!of) return "no scans";
  return counted < of ? `counted over the newest ${counted.toLocaleString("en")} of ${of.toLocaleString("en")} scans`
                      : `${of.toLocaleString("en")} scan${of === 1 ? "" : "s"}`;
}

// What a click on a value does: {filter: {beamline|proposal|minRating: text}} sets a filter,
// {where: [texts]} adds conditions; null: nothing narrows to it (unrated, a rating below ½).
export function narrowing(facet, value) {
  if (facet === "beamline" || facet === "proposal") return value ? {filter: {[facet]: String(value)}} : null;
  if (facet === "rating") return value != null && RATINGS.includes(String(value)) ? {filter: {minRating: String(value)}} : null;
  const key = facet === "status" ? STATUS_KEY : facet;
  if (typeof value === "boolean" || typeof value === "number") return {where: [toWhere({key, op: "eq", values: [String(value)]})]};
  return {where: [toWhere({key, op: "eq", values: [String(value)]}, "text")]};
}

// A bar's conditions (its last bar closed, as the API counts it).
export function barNarrowing(key, unit, bins, index) {
  const {lo, hi} = bins[index];
  const upper = index === bins.length - 1 ? "le" : "lt";
  return {where: [toWhere({key, op: "ge", values: [String(lo)], unit}), toWhere({key, op: upper, values: [String(hi)], unit})]};
}
