// The badge page's one button: print the label (the print CSS leaves only the label).
import { initSignOut } from "./signout.js";

initSignOut();
document.getElementById("badge-print").addEventListener("click", () => window.print());
