"""`lookout simulate`: a seeded, reproducible school week played against a running suite.

- `build_plan(school, seed=…, start=…, days=…, sso=…, patrol_seed=…, watchlist=…)` is pure:
  seed + school + start + days → a `Plan` of timed actions (and what they are meant to cause);
  `plan_for(settings, seed=…, start=…)` builds it from the configured school file;
  `Plan.slice(start, end)` keeps a part of it (a morning, one day).
- `run_simulation(settings, plan, clock, truth_path, on_action=None, *, pace=…, settle=…)` plays
  it against NATS when the clock reaches each action and writes the ground truth
  (`truth.py` describes its shape); `on_action` gets an `ActionOutcome` per action (a live feed).
"""

from lookout.simulation.inputs import plan_for
from lookout.simulation.plan import Plan, PlanError, build_plan
from lookout.simulation.runner import ActionOutcome, SimulationError, run_simulation, write_truth

__all__ = [
    "ActionOutcome",
    "Plan",
    "PlanError",
    "SimulationError",
    "build_plan",
    "plan_for",
    "run_simulation",
    "write_truth",
]
