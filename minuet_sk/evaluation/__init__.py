"""The benchmark harness: Minuet vs the VAE vs PCA on the same simulated galaxies, its tables,
figures and HTML report. Used by the command line (``minuet demo``, ``benchmark``,
``report``) and ``benchmarks/``; never imported by the estimators.
"""

from minuet_sk.evaluation.config import PRESETS, BenchmarkConfig
from minuet_sk.evaluation.figures import write_figures
from minuet_sk.evaluation.harness import run_benchmark
from minuet_sk.evaluation.report import write_report
from minuet_sk.evaluation.tables import results_markdown

__all__ = ["PRESETS", "BenchmarkConfig", "results_markdown", "run_benchmark", "write_figures",
           "write_report"]
