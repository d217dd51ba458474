// The console by building and floor: an area select (filled from an answer's `areas`, the
// school file's buildings, floors and wings, each under its parent) on "School now" and on the
// hotspots, and the roll-up lines ("By building and floor") of an answer's `by_area`. The chosen
// area is kept in the page's address (`?area=`), so a reload or a shared link shows the same
// part of the school.

import { suiteNow } from "./clock.js";

const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });
const $ = (id) => document.getElementById(id);

/** The area asked for: the address's `?area=`, or "" for the whole school. */
export function chosenArea() {
  return new URLSearchParams(location.search).get("area") ?? "";
}

/** `path`, with `?area=` when an area is chosen. */
export function withArea(path) {
  const area = chosenArea();
  return area ? `${path}?area=${encodeURIComponent(area)}` : path;
}

function depth(area, byId) {
  let n = 0;
  for (let p = area.parent; p && byId[p]; p = byId[p].parent) n += 1;
  return n;
}

/** The select's options (once) and its value, from an answer with `areas` and `area`. */
export function fillAreas(select, answer) {
  select.closest(".overview__filter").hidden = !answer.areas.length;
  if (select.options.length <= 1 && answer.areas.length) {
    const byId = Object.fromEntries(answer.areas.map((a) => [a.area_id, a]));
    for (const area of answer.areas) {
      // Indented under its parent by non-breaking spaces (an option holds text only).
      const indent = "\u00a0\u00a0".repeat(depth(area, byId));
      select.append(new Option(`${indent}${area.name}`, area.area_id));
    }
  }
  select.value = answer.area ?? "";
}

/** The roll-up lines in `list` (its card hidden at a school without areas). */
export function rollUp(list, answer, line) {
  const items = answer.by_area.length ? answer.by_area.map(line) : ["Nothing here yet."];
  list.replaceChildren(
    ...items.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
  list.closest(".card").hidden = !answer.areas.length;
}

/** Call `refresh` when another area is chosen in `select` (and keep it in the address). */
export function watchArea(select, refresh) {
  select?.addEventListener("change", () => {
    const url = new URL(location.href);
    if (select.value) url.searchParams.set("area", select.value);
    else url.searchParams.delete("area");
    history.replaceState(null, "", url);
    refresh();
  });
}

// --- School now (console_overview.js) ----------------------------------------------------------

/** "/api/v1/console/now", with `?area=` when an area is chosen. */
export function nowPath() {
  return withArea("/api/v1/console/now");
}

function nowLine(a) {
  const at = a.last_check_at ? new Date(a.last_check_at) : null;
  const day =
    at && at.toDateString() !== suiteNow().toDateString()
      ? `${at.toLocaleDateString([], { weekday: "short" })} `
      : "";
  const last = at ? `, last ${day}${TIME.format(at)}` : "";
  return `${a.name}: ${a.checked_today} of ${a.zones} zones checked today${last}`;
}

/** School now's select and "By building and floor" lines. */
export function drawAreas(answer) {
  const select = $("now-area");
  const list = $("now-areas");
  if (!select || !list) return;
  fillAreas(select, answer);
  rollUp(list, answer, nowLine);
}

/** School now asks again when another area is chosen. */
export function onAreaChange(refresh) {
  watchArea($("now-area"), refresh);
}
