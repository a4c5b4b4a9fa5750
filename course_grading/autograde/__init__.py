"""``course-grade autograde``: one self-contained job per student, graded in a sandbox, judged outside it.

* :mod:`.job` the job and its result, as data; :mod:`.machine` what a grading machine prepares once;
* :mod:`.worker` grade one job with nbgrader's API; :mod:`.trusted` nbgrader's Execute step with
  verdicts judged outside the kernel; :mod:`.test_cells` read a test cell into check calls;
* :mod:`.verdict` the outcome; :mod:`.integrity` the static scan (a flag only);
* :mod:`.gradebook` nbgrader's gradebook; :mod:`.run` the whole lab, merged one result at a time.
"""
