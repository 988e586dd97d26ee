// format.js: how values read in cells and the detail view.
import test from "node:test";
import assert from "node:assert/strict";
import {cellText, dateText, numberOf, sameUnit, siText, sizeText, unitText, valueText} from "../../scanlog_api/static/format.js";

const row = {
  pid: "p1", scan_id: "7", title: "a scan", start: "2024-05-01T10:00:00Z", duration: 12.345, status: "finished",
  files: 3, rating: null,
  meta: {
    photon_energy: {value: 7100, unit: "eV"},
    mode: {value: "fly"},
    positions: {value: [1, 2, 3], unit: "mm"},
    config: {value: {a: 1}},
    hung_motor: {value: null, unit: "mm", error: "Timeout"},
  },
};

test("a cell reads a scan's own field as text, and nothing for none", () => {
  assert.equal(cellText("scan_id", row), "7");
  assert.equal(cellText("files", row), "3");
  assert.equal(cellText("rating", row), "");
  assert.equal(cellText("title", {...row, title: undefined}), "");
});

test("a duration has one decimal and seconds; a start the reader's local time", () => {
  assert.equal(cellText("duration", row), "12.3 s");
  assert.equal(cellText("duration", {...row, duration: null}), "");
  assert.equal(cellText("start", row), new Date("2024-05-01T10:00:00Z").toLocaleString());
  assert.equal(cellText("start", {...row, start: null}), "");
});

test("a metadata cell has its unit; lists and objects read as text; unreadable and missing are empty", () => {
  assert.equal(cellText("meta:photon_energy", row), "7100 eV");
  assert.equal(cellText("meta:mode", row), "fly");
  assert.equal(cellText("meta:positions", row), "1, 2, 3 mm");
  assert.equal(cellText("meta:config", row), '{"a":1}');
  assert.equal(cellText("meta:hung_motor", row), "");
  assert.equal(cellText("meta:not_recorded", row), "");
  assert.equal(cellText("meta:x", {pid: "p2"}), "");  // a row without metadata at all
});

test("only finite numbers are plotted", () => {
  assert.equal(numberOf("duration", row), 12.345);
  assert.equal(numberOf("meta:photon_energy", row), 7100);
  assert.equal(numberOf("meta:mode", row), null);
  assert.equal(numberOf("meta:positions", row), null);
  assert.equal(numberOf("meta:hung_motor", row), null);
  assert.equal(numberOf("meta:x", {meta: {x: {value: Infinity}}}), null);
  assert.equal(numberOf("meta:x", {}), null);
});

test("SI values to 6 significant digits, units with powers and products as written", () => {
  assert.equal(siText(285.65000000000003), "285.65");
  assert.equal(siText(1.23456789e-10), "1.23457e-10");
  assert.equal(siText("n/a"), "n/a");
  // as scizoo.core's to_si writes them (pint's compact format)
  assert.equal(unitText("kg*m**2/s**2"), "kg·m²/s²");
  assert.equal(unitText("m**3"), "m³");
  assert.equal(unitText("m**-1"), "m^-1");
  assert.equal(unitText("(kg m^2) / s^2"), "(kg m²) / s²");
  assert.equal(unitText("kg / (m s^2)"), "kg / (m s²)");
  assert.equal(unitText("s^-2"), "s^-2");
  assert.equal(unitText("m^20"), "m^20");
  assert.equal(unitText("m^2.5"), "m^2.5");
  assert.ok(sameUnit("K", " K"));
  assert.ok(!sameUnit("degC", "K"));
  assert.ok(sameUnit(undefined, ""));
});

test("sizes in decimal units", () => {
  assert.equal(sizeText(999), "999 B");
  assert.equal(sizeText(2_500_000), "2.5 MB");
  assert.equal(sizeText(3e15), "3000.0 TB");
  assert.equal(sizeText(null), "");
});

test("values and dates as text", () => {
  assert.equal(valueText(null), "");
  assert.equal(valueText(0), "0");
  assert.equal(valueText(false), "false");
  assert.equal(valueText(["a", "b"]), "a, b");
  assert.equal(dateText(""), "");
  assert.equal(dateText(null), "");
});

test("public: yes, or from when an embargo ends, or no", () => {
  assert.equal(cellText("public", {...row, public: true, public_from: "2026-01-01T00:00:00Z"}), "yes");
  assert.equal(cellText("public", {...row, public: false, public_from: "2027-03-01T00:00:00Z"}),
               "from " + new Date("2027-03-01T00:00:00Z").toLocaleString());
  assert.equal(cellText("public", {...row, public: false, public_from: null}), "no");
});
