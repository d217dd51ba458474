// Find a student by name for the concern and contact forms: asks the roster
// (GET /api/v1/roster/students?q=) and, when the officer picks one, adds the student's reference
// to the form's references. Names are only shown: never kept (no storage, no outbox), never in
// the form's data, and gone from the page once a student is picked or the form is saved.
// Loaded as its own module, so a phone without it (offline, before the service worker kept
// it) still has the app: references can always be typed.

const WAIT_MS = 250; // typing pauses this long before the roster is asked
const MIN = 2;

function gradeText(grade) {
  if (!grade) return "";
  if (/^\d\d$/.test(grade)) return ` · grade ${Number(grade)}`;
  return ` · ${grade}`;
}

function setUp(box) {
  const refs = document.getElementById(box.dataset.rosterFind);
  const input = box.querySelector("input[type=search]");
  const state = box.querySelector("[role=status]");
  const list = box.querySelector(".find__found");
  let timer = null;
  let asking = null;

  const say = (text) => {
    state.textContent = text;
  };
  const clear = () => {
    list.replaceChildren();
    list.hidden = true;
  };

  function pick(student) {
    const have = refs.value.split(/[\s,;]+/).filter(Boolean);
    if (!have.includes(student.reference)) have.push(student.reference);
    refs.value = have.join(", ");
    refs.dispatchEvent(new Event("input", { bubbles: true }));
    refs.removeAttribute("aria-invalid");
    input.value = "";
    clear();
    say(`Added ${student.reference}.`);
    input.focus();
  }

  function show(answer) {
    if (!answer.roster) {
      clear();
      say("The school has no roster in Lookout: type the references.");
      return;
    }
    const items = answer.students.map((s) => {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "find__pick";
      const name = document.createElement("span");
      name.className = "find__name";
      name.textContent = `${s.given_name} ${s.family_name}`;
      const about = document.createElement("span");
      about.className = "find__ref";
      about.textContent = `${s.reference}${gradeText(s.grade)}`;
      button.append(name, about);
      button.addEventListener("click", () => pick(s));
      li.append(button);
      return li;
    });
    list.replaceChildren(...items);
    list.hidden = items.length === 0;
    if (!items.length) say("No student on the roster matches.");
    else if (answer.more) say(`${items.length} shown; more match: type more of the name.`);
    else say(items.length === 1 ? "1 student matches." : `${items.length} students match.`);
  }

  async function ask(q) {
    asking?.abort();
    const mine = new AbortController();
    asking = mine;
    say("Searching the roster…");
    try {
      const res = await fetch(`/api/v1/roster/students?q=${encodeURIComponent(q)}`, {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: mine.signal,
      });
      if (mine !== asking) return;
      if (res.status === 401) throw new Error("Sign in again to search the roster.");
      if (!res.ok) throw new Error("The roster could not be searched: type the references.");
      show(await res.json());
    } catch (err) {
      if (err.name === "AbortError") return;
      clear();
      say(err instanceof TypeError ? "Name search needs the network: type the references." : err.message);
    }
  }

  input.addEventListener("input", () => {
    clearTimeout(timer);
    const q = input.value.trim();
    if (q.length < MIN) {
      asking?.abort();
      clear();
      say("Type 2 letters or more of a name.");
      return;
    }
    timer = setTimeout(() => ask(q), WAIT_MS);
  });
  input.addEventListener("keydown", (e) => {
    if (e.key !== "Enter") return;
    e.preventDefault(); // Enter searches; it does not save the form
    clearTimeout(timer);
    if (input.value.trim().length >= MIN) ask(input.value.trim());
  });
  // A saved or cleared form forgets the names it showed.
  input.form?.addEventListener("reset", () => {
    clearTimeout(timer);
    asking?.abort();
    clear();
    say("Type 2 letters or more of a name.");
  });
}

for (const box of document.querySelectorAll("[data-roster-find]")) setUp(box);
