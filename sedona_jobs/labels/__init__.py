"""Land-cover, country and overlap labels of patches: Sedona spatial joins over GeoParquet tables."""

from __future__ import annotations

from sedona_jobs.labels.build import LabelsReport, build_labels, compute_labels
from sedona_jobs.labels.incremental import build_new_labels

__all__ = ["LabelsReport", "build_labels", "build_new_labels", "compute_labels"]
