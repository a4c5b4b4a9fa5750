"""nbgrader configuration of the course (the course root is this folder).

Run nbgrader from this folder, e.g. ``cd autograder && nbgrader generate_assignment lab02_dense_autoencoder``,
or use ``course-grade`` from anywhere.
"""

import os

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    ClearHiddenTests,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)

from course_grading.autograde.trusted import MarkTrusted, TrustedExecute
from course_grading.feedback.hide import HideHiddenTestOutputs

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
c.CourseDirectory.course_id = "autoencoders"

# A cell that imports TensorFlow or trains a small model takes longer than nbgrader's 30 s.
c.Execute.timeout = 300

# Verdicts are computed outside the student's kernel: the kernel only answers what a test
# asks of the student's functions; TrustedExecute judges the answers in nbgrader's own
# process, and nothing the kernel printed after it saw a hidden test is kept
# (course_grading/autograde/trusted.py).
c.Autograde.autograde_preprocessors = [
    TrustedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata, MarkTrusted,
]

# A student who deletes a test cell must not escape it: put it back from the gradebook.
c.OverwriteCells.add_missing_cells = True

# `course-grade autograde` adds, per student: the sandboxed kernel (Execute.kernel_name,
# KernelManager.transport = "ipc") and, if given, --cell-timeout (see course_grading/sandbox/).

# Feedback shows the student's results, never the hidden tests: not their source
# (ClearHiddenTests) and not the tracebacks or prints that quote them (course_grading.feedback.hide).
c.GenerateFeedback.preprocessors = [
    GetGrades, HideHiddenTestOutputs, ClearHiddenTests, CSSHTMLHeaderPreprocessor,
]
