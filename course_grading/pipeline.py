"""The phases of ``course-grade`` as functions, for scripts and notebooks of the instructor's.

ingest -> repair -> autograde -> feedback -> export, each over every student of one lab;
each reads and updates the students' records and reports progress through a callback
``progress(phase, record, done, total)``; nbgrader's gradebook holds the scores.
"""

from __future__ import annotations

from .autograde.gradebook import final_scores, max_scores
from .autograde.job import Settings
from .autograde.run import LocalPool, ensure_assignment, run_autograde
from .export import run_export
from .feedback import run_feedback
from .intake import run_ingest, run_repair

__all__ = ["LocalPool", "Settings", "ensure_assignment", "final_scores", "max_scores", "run_autograde",
           "run_export", "run_feedback", "run_ingest", "run_repair"]
