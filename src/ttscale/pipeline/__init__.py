"""One pipeline for the lab and the sweep: a plan (plan.py), run by an executor (execute.py) that
samples and searches each model into the store, then analysed (analysis.py) into points and the
tradeoff. The lab builds its plan from a trained ladder, the sweep from model specs."""

from ttscale.pipeline.analysis import Analysis, analyse_plan
from ttscale.pipeline.execute import ModelOutcome, run_plan, searched_details
from ttscale.pipeline.plan import Chunking, ModelEntry, Plan, SearchPlan, Split, TaskSampling, VariantSampling

__all__ = ["Analysis", "Chunking", "ModelEntry", "ModelOutcome", "Plan", "SearchPlan", "Split", "TaskSampling",
           "VariantSampling", "analyse_plan", "run_plan", "searched_details"]
