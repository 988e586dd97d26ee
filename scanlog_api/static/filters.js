// The filter bar: what its form says, as plain filter state (query.js builds the queries), a
// link's preset, and the pickers' options (the proposals and beamlines the user may see).
import {$, api, status} from "./session.js";
import {currentWheres} from "./builder.js";

export const FILTER_INPUTS = ["f-since", "f-until", "f-proposal", "f-beamline", "f-q", "f-rating"];

export function readFilter() {
  return {range: $("f-range").value, since: $("f-since").value, until: $("f-until").value, proposal: $("f-proposal").value,
          beamline: $("f-beamline").value, q: $("f-q").value, minRating: $("f-rating").value, where: currentWheres()};
}

// A link's ?proposal= and ?beamline= (filterFromSearch), shown before the pickers are filled.
export function presetFilter(preset) {
  if (preset.proposal) $("f-proposal").value = preset.proposal;
  if (preset.beamline) {
    $("f-beamline").replaceChildren(new Option("all", ""), new Option(preset.beamline, preset.beamline));
    $("f-beamline").value = preset.beamline;
  }
}

export async function fillPickers(preset) {
  try {
    const proposals = await (await api("/api/proposals")).json();
    $("proposal-list").replaceChildren(...proposals.map((p) => {
      const o = document.createElement("option"); o.value = p.proposalId; o.label = p.title ? p.proposalId + " · " + p.title : p.proposalId; o.textContent = o.label; return o;
    }));
  } catch (err) { status("cannot list proposals: " + err.message); }
  try {
    const beamlines = await (await api("/api/beamlines")).json();
    const wanted = $("f-beamline").value || preset.beamline;
    if (wanted && !beamlines.includes(wanted)) beamlines.push(wanted);
    const select = $("f-beamline");
    select.replaceChildren(new Option("all", ""), ...beamlines.map((b) => new Option(b, b)));
    select.value = wanted || "";
  } catch (err) { status("cannot list beamlines: " + err.message); }
}
