// The console's concerns page: the open concerns (GET /api/v1/console/concerns; the patrol
// service access-logs each reading, so it is asked once per visit of the page, never polled)
// and the hotspots of the last four weeks with next week's focus (GET
// /api/v1/console/hotspots). Students appear by reference only; notes never reach the page.

import { fillAreas, rollUp, watchArea, withArea } from "./console_area.js";
import { ageText, ask } from "./console_overview.js";

const $ = (id) => document.getElementById(id);
const DAY_TIME = new Intl.DateTimeFormat([], {
  weekday: "short",
  day: "numeric",
  month: "short",
  hour: "numeric",
  minute: "2-digit",
});

function para(text, className) {
  const p = document.createElement("p");
  p.textContent = text;
  if (className) p.className = className;
  return p;
}

/** One open concern in words: what and how severe, where, since when, who, which students. */
export function concernLines(c) {
  const students = c.students.length
    ? `Students: ${c.students.join(", ")}`
    : "No student referenced";
  const age = c.age_minutes < 1 ? "just now" : `${ageText(c.age_minutes)} ago`;
  return [
    `${c.severity[0].toUpperCase()}${c.severity.slice(1)} · ${c.category}`,
    `${c.zone_name} · raised ${DAY_TIME.format(new Date(c.raised_at))} (${age})`,
    `Raised by ${c.raised_by}`,
    students,
  ];
}

function drawConcerns(answer) {
  const list = $("concerns-list");
  list.replaceChildren(
    ...answer.concerns.map((c) => {
      const li = document.createElement("li");
      li.className = "card attention";
      li.dataset.severity = c.severity;
      const [what, where, who, students] = concernLines(c);
      li.append(para(what, "attention__what"), para(where), para(who, "muted"), para(students));
      return li;
    }),
  );
  const note = $("concerns-note");
  const more = answer.total - answer.concerns.length;
  note.textContent = !answer.total
    ? "No open concerns."
    : `${answer.total} open${more > 0 ? `; ${more} more not shown` : ""}.`;
  note.hidden = false;
  const grades = $("concerns-grades");
  grades.textContent = answer.by_grade?.length
    ? `Students named, by grade: ${answer.by_grade.map((g) => `${gradeWords(g.grade)} ${g.students}`).join(" · ")}`
    : "";
  grades.hidden = !grades.textContent;
  $("concerns").dataset.state = "ready";
}

// A roster grade in words: "09" → "grade 9"; a grade the roster does not give, said so.
function gradeWords(grade) {
  if (!grade) return "not on the roster or no grade:";
  return /^\d\d$/.test(grade) ? `grade ${Number(grade)}:` : `${grade}:`;
}

function drawHotspots(answer) {
  $("hotspots-list").replaceChildren(
    ...answer.hotspots.map((h) => {
      const li = document.createElement("li");
      li.className = "card";
      const plan = h.in_plan ? "Already in the patrol plan." : "Not in the patrol plan.";
      li.append(para(`${h.zone_name}, ${h.period}`, "attention__what"), para(h.what), para(plan, "muted"));
      return li;
    }),
  );
  const note = $("hotspots-note");
  note.textContent = answer.hotspots.length
    ? `The last ${answer.school_days} school days, worst first.`
    : `Nothing gathered in the last ${answer.school_days} school days.`;
  $("focus-list").replaceChildren(
    ...answer.focus.map((f) => {
      const li = document.createElement("li");
      li.className = "card";
      li.append(para(`${f.zone_name}, ${f.period}`, "attention__what"), para(f.reason));
      return li;
    }),
  );
  const focusNote = $("focus-note");
  focusNote.textContent = answer.focus.length ? "" : "No extra checks recommended.";
  focusNote.hidden = !!answer.focus.length;
  fillAreas($("hotspots-area"), answer);
  rollUp($("hotspots-areas"), answer, (a) => `${a.name}: ${a.per_school_day} per school day (${a.what})`);
  $("hotspots").dataset.state = "ready";
}

async function load(part, path, draw) {
  try {
    draw(await ask(path));
    $(`${part}-error`).hidden = true;
  } catch (err) {
    if (err.message === "signed out") return;
    const box = $(`${part}-error`);
    box.textContent = `${err.message || "No answer"}. Reload the page to try again.`;
    box.hidden = false;
    $(`${part}-note`).hidden = true;
    $(part).dataset.state = "error";
  }
}

if ($("concerns")) {
  load("concerns", "/api/v1/console/concerns", drawConcerns);
  load("hotspots", withArea("/api/v1/console/hotspots"), drawHotspots);
  watchArea($("hotspots-area"), () => load("hotspots", withArea("/api/v1/console/hotspots"), drawHotspots));
}
