"""Parameter sweeps and walk-forward optimisation, one module a job: the parameter space (``space``), the
objective (``objective``), one job as a back-test (``jobs``), where jobs run (``executors``), the rows saved as
they finish (``store``), the sweep and its table (``sweep``), walk-forward windows (``walk_forward``) and the
probability of backtest overfitting (``pbo``).
"""

from engine.optimize.executors import EXECUTORS, Executor, InProcessExecutor, ProcessExecutor, make_executor
from engine.optimize.jobs import DataSet, Job, SweepSetup
from engine.optimize.objective import Objective
from engine.optimize.pbo import PboResult, pbo_from_moments, pbo_from_returns
from engine.optimize.space import Axis, ParamSpace, parse_axis
from engine.optimize.store import ResultsFile
from engine.optimize.sweep import best_rows, results_table, run_jobs, save_table, sweep_jobs, sweep_pbo

__all__ = ["EXECUTORS", "Axis", "DataSet", "Executor", "InProcessExecutor", "Job", "Objective", "ParamSpace",
           "PboResult", "ProcessExecutor", "ResultsFile", "SweepSetup", "best_rows", "make_executor",
           "parse_axis", "pbo_from_moments", "pbo_from_returns", "results_table", "run_jobs", "save_table",
           "sweep_jobs", "sweep_pbo"]
