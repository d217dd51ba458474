"""`lookout simulate`: a seeded, reproducible school week played against a running suite.

`plan.build_plan` is pure (seed + school + start + days → timed actions); `runner.run_simulation`
executes the actions when the shared clock reaches them and writes the ground truth
(`truth.py` describes its shape). `inputs.plan_for` builds a plan from the settings.
"""
