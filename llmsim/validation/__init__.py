"""`llmsim validate`: re-simulate measured serving points and report the prediction error.

points.py reads the CSV, names.py maps model and GPU names, scenario.py decides what to simulate
for a row, simulate.py runs it through `llmsim.replay.run_replay`, evaluate.py predicts every
row, report.py prints tables, MAPE, JSON, CSV and the plot.
"""

from __future__ import annotations

from llmsim.validation.evaluate import Result, evaluate
from llmsim.validation.points import PointsError, ServingPoint, read_points, shipped_points_path
from llmsim.validation.report import mape_by, summary
from llmsim.validation.scenario import Scenario, scenario_for
from llmsim.validation.simulate import Calibration

__all__ = ["Calibration", "PointsError", "Result", "Scenario", "ServingPoint", "evaluate", "mape_by",
           "read_points", "scenario_for", "shipped_points_path", "summary"]
