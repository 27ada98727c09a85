"""``s2lake run``: the whole workflow, incrementally, under one lock (:mod:`.run`, :mod:`.steps`)."""

from __future__ import annotations

from s2lake.pipeline.report import PipelineReport, StepReport
from s2lake.pipeline.run import run_pipeline

__all__ = ["PipelineReport", "StepReport", "run_pipeline"]
