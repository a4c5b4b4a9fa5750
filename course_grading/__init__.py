"""The instructor's side of the course: ``course-grade`` and everything it runs.

Students never need this package (the student edition does not contain it).

* :mod:`.cli` the command; :mod:`.course_root` where the nbgrader course root is;
* :mod:`.release` the labs' student versions; :mod:`.publish` the student edition;
* :mod:`.intake` ingest and repair what students handed in;
* :mod:`.autograde` grade: jobs, the worker, the trusted checks, verdicts, the gradebook;
* :mod:`.cluster` the same jobs on a Dask cluster; :mod:`.batch` the local pool;
* :mod:`.sandbox` what a graded kernel may see and do;
* :mod:`.feedback` the students' pages; :mod:`.export` the grades as CSV;
* :mod:`.records`, :mod:`.outcomes`, :mod:`.cells` the data they share.
"""
