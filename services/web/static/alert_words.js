// What an alert is about, in words, for the console's board and the phone's Today card alike:
// "Weapon concern", "Missed patrol check".

const words = (value) => {
  const text = String(value ?? "").replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
};

const SOURCES = {
  check_missed: "Missed patrol check",
  heartbeat_missed: "SSO's phone silent",
  screening_flagged: "Visitor screening flagged",
  visitor_overdue: "Visitor overdue",
  visitor_out_of_bounds: "Visitor out of bounds",
  visitor_unaccounted: "Visitor unaccounted for",
  follow_up_missed: "Welfare follow-up missed",
  sensor_unchecked: "Sensor alert not checked",
};

/** What happened, in words: "Weapon concern", "Missed patrol check". */
export function whatText(alert) {
  if (alert.source === "concern") return `${words(alert.category)} concern`;
  return SOURCES[alert.source] ?? words(alert.category || alert.source);
}
