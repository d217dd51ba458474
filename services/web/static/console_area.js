// The console's "School now" by building and floor: the area select (filled from the answer's
// `areas`, the school file's buildings, floors and wings, each under its parent) and the
// "By building and floor" lines (`by_area`). The chosen area is kept in the page's address
// (`?area=`), so a reload or a shared link shows the same part of the school.

import { suiteNow } from "./clock.js";

const TIME = new Intl.DateTimeFormat([], { hour: "numeric", minute: "2-digit" });
const $ = (id) => document.getElementById(id);

/** The area asked for: the address's `?area=`, or "" for the whole school. */
export function chosenArea() {
  return new URLSearchParams(location.search).get("area") ?? "";
}

/** "/api/v1/console/now", with `?area=` when an area is chosen. */
export function nowPath() {
  const area = chosenArea();
  return area ? `/api/v1/console/now?area=${encodeURIComponent(area)}` : "/api/v1/console/now";
}

function depth(area, byId) {
  let n = 0;
  for (let p = area.parent; p && byId[p]; p = byId[p].parent) n += 1;
  return n;
}

/** The select's options once, then the roll-up lines, from a School now answer. */
export function drawAreas(answer) {
  const select = $("now-area");
  const list = $("now-areas");
  if (!select || !list) return;
  const box = select.closest(".overview__filter");
  box.hidden = !answer.areas.length;
  if (select.options.length <= 1 && answer.areas.length) {
    const byId = Object.fromEntries(answer.areas.map((a) => [a.area_id, a]));
    for (const area of answer.areas) {
      // Children are indented under their parent by non-breaking spaces (options hold text only).
      const option = new Option(`${"\u00a0\u00a0".repeat(depth(area, byId))}${area.name}`, area.area_id);
      select.append(option);
    }
  }
  select.value = answer.area ?? "";
  list.replaceChildren(
    ...(answer.by_area.length ? answer.by_area : [null]).map((a) => {
      const li = document.createElement("li");
      if (!a) {
        li.textContent = "No zone here is in a building or floor.";
        return li;
      }
      const at = a.last_check_at ? new Date(a.last_check_at) : null;
      const day = at && at.toDateString() !== suiteNow().toDateString()
        ? `${at.toLocaleDateString([], { weekday: "short" })} `
        : "";
      const last = at ? `, last ${day}${TIME.format(at)}` : "";
      li.textContent = `${a.name}: ${a.checked_today} of ${a.zones} zones checked today${last}`;
      return li;
    }),
  );
  list.closest(".card").hidden = !answer.areas.length;
}

/** Call `refresh` when another area is chosen (and keep it in the address). */
export function onAreaChange(refresh) {
  const select = $("now-area");
  if (!select) return;
  select.addEventListener("change", () => {
    const url = new URL(location.href);
    if (select.value) url.searchParams.set("area", select.value);
    else url.searchParams.delete("area");
    history.replaceState(null, "", url);
    refresh();
  });
}
