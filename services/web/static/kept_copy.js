// A page's last answer kept in the browser, so a desk's list can still be shown and printed
// when the network goes (names: this desk's own screen only; the page drops it when the server
// says the session ended). Per page, school and clerk.

/** The kept copy of `page` for the signed-in person of `ctx`: keep(answer), kept(), drop(). */
export function keptCopy(page, ctx) {
  const key = `lookout.desk.${page}.${ctx.school.id}.${ctx.person.id}`;
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
