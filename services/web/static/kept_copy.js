// A page's last answer kept in the browser, so a desk's list can still be shown and printed
// when the network goes (names: this desk's own screen only; the page drops it when the server
// says the session ended). Per page, school and clerk.

const PREFIX = "lookout.desk.";

/** Signing out: every kept copy goes (visitors' names are not for the next person here). */
export function dropKeptCopies() {
  for (const key of Object.keys(localStorage)) {
    if (key.startsWith(PREFIX)) localStorage.removeItem(key);
  }
}

/** The kept copy of `page` for the signed-in person of `ctx`: keep(answer), kept(), drop(). */
export function keptCopy(page, ctx) {
  const key = `${PREFIX}${page}.${ctx.school.id}.${ctx.person.id}`;
  return {
    keep(answer) {
      try {
        localStorage.setItem(key, JSON.stringify(answer));
      } catch {
        // storage full or refused: the live page still works
      }
    },
    kept() {
      try {
        return JSON.parse(localStorage.getItem(key) ?? "null");
      } catch {
        return null;
      }
    },
    drop() {
      localStorage.removeItem(key);
    },
  };
}

/** Why an answer did not come, in words: a fetch with no network throws a TypeError. */
export function why(err) {
  if (err instanceof TypeError) return "no network";
  if (err?.name === "AbortError") return "no answer in time";
  return err?.message || "no answer";
}
