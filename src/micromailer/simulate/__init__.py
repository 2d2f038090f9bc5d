"""The selection-strategy simulation: scenarios, a simulated clock, the real Dispatcher, plots.

``micromailer simulate`` runs every scenario with every strategy over a few seeds and prints a
table (or ``--json``); ``--plot DIR`` writes the figures. Method and results: docs/selection.md.
"""

from micromailer.simulate.engine import Engine, RunResult, run_once
from micromailer.simulate.policies import strategy_names
from micromailer.simulate.report import Row, aggregate, suite_totals, to_json, to_table
from micromailer.simulate.scenarios import SCENARIOS, Scenario, get_scenario, scenario_names
from micromailer.simulate.suite import DEFAULT_SEEDS, jobs_for, run_suite, select

__all__ = [
    "DEFAULT_SEEDS",
    "SCENARIOS",
    "Engine",
    "Row",
    "RunResult",
    "Scenario",
    "aggregate",
    "get_scenario",
    "jobs_for",
    "run_once",
    "run_suite",
    "scenario_names",
    "select",
    "strategy_names",
    "suite_totals",
    "to_json",
    "to_table",
]
