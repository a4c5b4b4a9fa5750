"""nbgrader's Execute step, with every verdict decided outside the student's kernel.

``TrustedExecute`` replaces nbgrader's ``Execute`` in ``c.Autograde.autograde_preprocessors``.
It runs the student's cells in the kernel as nbgrader does, but never runs a test cell's
code there. Each test cell is read (only calls of the course's checks are allowed) and
replaced by requests: the kernel *asks* the student's functions, as the check's ``ask``
does, and writes what they gave into an answer folder (plain data: JSON, NumPy files,
Keras models). This process reads the folder without trusting it and *judges* it with its
own copy of the checks (:mod:`course.checks.answers`); the verdict becomes the test cell's
output, which nbgrader scores as usual (an error output scores 0).

Nothing the kernel produced after it first received hidden material reaches the notebook:

1. every cell runs in order; a test cell asks only for its visible tests (whose source the
   student already has) and keeps the functions it named;
2. after the last cell the notebook is copied, then the hidden tests are asked for, one by
   one, of the kept functions; their answers are judged here;
3. the copy is put back, so whatever the kernel did meanwhile (output, display updates,
   widget state) is dropped. A hidden test that fails shows one fixed sentence, never a
   message built from its answer.

Also: outputs are cut beyond a size per cell and per notebook (and ZMQ drops any message
above a size, so this process's memory stays bounded); a student cell that runs past the
time limit stops the notebook there (the tests after it score 0: the notebook never gets
past that cell); a record of what happened goes to ``report_file`` for the grader.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from nbclient.exceptions import CellTimeoutError
from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_output
from nbgrader.preprocessors import Execute
from traitlets import Bool, Enum, Integer, Unicode

from course.checks import CHECKS
from course.checks.answers import StudentError, UnusableAnswer, read_answer

from ..cells import is_test, label
from .test_cells import Call, split_test_cell

HIDDEN_FAILED = (
    "A hidden test of this exercise failed. The visible test passes; check your function "
    "on other sizes and inputs than the visible test uses."
)
REQUESTS = "import course.checks.requests as _course_requests\n"


@dataclass
class Verdict:
    """What the trusted side decided for one test cell."""

    grade_id: str
    shown: list[str] = field(default_factory=list)  # stdout lines for the student (pre-hidden only)
    failed: str | None = None  # the message shown; None when every test passed
    ename: str = "AssertionError"
    traceback: list[str] = field(default_factory=list)
    hidden: str = "not run"  # 'passed', 'failed', 'not run', 'none'
    detail: str = ""  # for the instructor's record only (never shown to the student)


@dataclass
class Report:
    """What ``TrustedExecute`` saw, for the grader (``report_file``)."""

    verdicts: dict[str, dict] = field(default_factory=dict)
    timeouts: list[str] = field(default_factory=list)  # labels of cells that ran past the limit
    stopped_at: str | None = None  # the student cell after which nothing more ran
    unresponsive: bool = False  # the kernel did not answer the interrupt after a timeout
    output_unended: bool = False  # a cell replied, but its output did not end within the limit
    output_cut: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # errors in the student's own cells
    judge_seconds: float = 0.0
    kernel_start_seconds: float = 0.0  # from asking for a kernel to its first reply
    ask_seconds: float = 0.0  # the kernel answering the tests' requests (the student's functions)
    cell_seconds: dict[str, float] = field(default_factory=dict)  # each student/setup cell, by label

    @classmethod
    def read(cls, path: Path) -> Report | None:
        """The report ``TrustedExecute`` wrote to ``path``, or None if there is none."""
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _size(content: dict) -> int:
    """About how many bytes an output message adds to the notebook."""
    total = 0
    for value in content.values():
        if isinstance(value, str):
            total += len(value)
        elif isinstance(value, dict):
            total += _size(value)
        elif isinstance(value, list):
            total += sum(len(v) if isinstance(v, str) else 8 for v in value)
        else:
            total += 8
    return total


class MarkTrusted(Preprocessor):
    """Last of the autograde steps: mark the notebook as judged outside the kernel.

    The feedback step then keeps the test cells' outputs as :class:`TrustedExecute` wrote
    them (they hold nothing of the hidden tests); any other notebook gets its hidden-test
    cells' printing dropped (:class:`course.feedback.HideHiddenTestOutputs`).
    """

    enabled = Bool(True)

    def preprocess(self, nb, resources):
        nb.metadata["course"] = {"verdicts": "trusted"}
        return nb, resources


def judged_outside_kernel(nb) -> bool:
    return nb.metadata.get("course", {}).get("verdicts") == "trusted"


class TrustedExecute(Execute):
    """nbgrader's ``Execute`` with verdicts judged outside the kernel (see the module doc)."""

    answers_dir = Unicode(
        "",
        help="Folder the grader reads the kernel's answers from (default: <notebook folder>/.answers)",
    ).tag(config=True)
    kernel_answers_dir = Unicode(
        "", help="The same folder as the kernel sees it, if its path differs there (default: answers_dir)"
    ).tag(config=True)
    report_file = Unicode("", help="Where to write the JSON report of this run (nothing if empty)").tag(
        config=True
    )
    max_cell_output = Integer(1_000_000, help="Bytes of output kept per cell").tag(config=True)
    max_notebook_output = Integer(4_000_000, help="Bytes of output kept per notebook").tag(config=True)
    max_message = Integer(
        32 * 2**20,
        help="Largest kernel message read at all (ZMQ drops larger ones)",
    ).tag(config=True)
    max_shown_stdout = Integer(
        20_000,
        help="Characters of a test's own printing kept in its output",
    ).tag(config=True)
    interrupt_wait = Integer(
        10,
        help="Seconds an interrupted kernel gets to end its cell (send the rest of its output and "
        "go idle) before it counts as not answering",
    ).tag(config=True)
    shutdown_kernel = Enum(
        ["graceful", "immediate"],
        default_value="immediate",
        help="The kernel is killed once its notebook is done: every verdict is in by then and the "
        "sandbox goes with it; a graceful shutdown only waits for TensorFlow's teardown "
        "(2.6 s of a 9.5 s lab02 job, measured)",
    ).tag(config=True)

    # ----------------------------------------------------------------- nbclient hooks

    def create_kernel_manager(self):
        km = super().create_kernel_manager()
        import zmq

        with contextlib.suppress(Exception):  # every socket made from here on refuses huge messages
            km.context.setsockopt(zmq.MAXMSGSIZE, self.max_message)
        return km

    async def async_start_new_kernel_client(self):
        import zmq

        client = self.km.client
        limit = self.max_message

        def bounded_client(**kwargs):
            kc = client(**kwargs)
            with contextlib.suppress(Exception):
                kc.context.setsockopt(zmq.MAXMSGSIZE, limit)
            return kc

        self.km.client = bounded_client
        try:
            return await super().async_start_new_kernel_client()
        finally:
            self.km.client = client

    async def _async_handle_timeout(self, timeout, cell=None):
        self._timed_out = True
        self.iopub_timeout = self.interrupt_wait  # read by nbclient right after this returns
        return await super()._async_handle_timeout(timeout, cell)

    def output(self, outs, msg, display_id, cell_index):
        size = _size(msg.get("content", {}))
        self._cell_bytes += size
        self._total_bytes += size
        if self._cell_bytes > self.max_cell_output or self._total_bytes > self.max_notebook_output:
            if not self._cut_noted:
                self._cut_noted = True
                limit = (
                    f"{self.max_cell_output / 1e6:g} MB per cell"
                    if self._cell_bytes > self.max_cell_output
                    else f"{self.max_notebook_output / 1e6:g} MB per notebook"
                )
                self._cuts.append(limit)
                outs.append(
                    new_output(
                        "stream",
                        name="stdout",
                        text=(
                            f"\n[output cut here: more than {limit}; the rest of this cell's output "
                            "was dropped]\n"
                        ),
                    )
                )
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _update_display_id(self, display_id, msg):
        return None  # a display update may not rewrite another cell's output

    def handle_comm_msg(self, outs, msg, cell_index):
        return None  # widget messages: not kept while grading

    def set_widgets_metadata(self):
        return None

    # ----------------------------------------------------------------- running cells

    def _run(self, cell, index: int) -> bool:
        """Execute ``cell`` (at position ``index``); False if the kernel stopped answering."""
        self._timed_out, self._cell_bytes, self._cut_noted, self._cuts = False, 0, False, []
        # nbclient waits iopub_timeout (4 s by default) after the kernel's reply for the rest of
        # the cell's output, then raises CellTimeoutError. A cell that finished in time but
        # printed a lot can need longer on a loaded machine (300 MB of print: 11 s of student
        # code, then more than 4 s of draining), so a cell that replied on its own gets the
        # cell's time limit again for its output; an interrupted one gets interrupt_wait.
        self.iopub_timeout = max(int(self.timeout), self.interrupt_wait) if self.timeout else 600
        try:
            self.execute_cell(cell, index, store_history=True)
        except CellTimeoutError:
            if not self._timed_out:  # no interrupt was sent: the kernel replied, then never went idle
                self._report.output_unended = True
            self._timed_out = True
            return False
        return True

    def _answers(self) -> Path:
        if self.answers_dir:
            return Path(self.answers_dir)
        return Path(self.resources.get("metadata", {}).get("path") or ".") / ".answers"

    def _ask(self, index: int, request: str, *args) -> tuple[Path, bool]:
        """Run one request in the kernel; return its answer folder and whether it finished in time."""
        token = secrets.token_hex(8)
        folder = self._answers() / token
        shutil.rmtree(folder, ignore_errors=True)
        there = Path(self.kernel_answers_dir) / token if self.kernel_answers_dir else folder
        call = ", ".join([repr(str(there)), *args])
        probe = new_code_cell(source=f"{REQUESTS}_course_requests.{request}({call})\n")
        start = time.monotonic()
        alive = self._run(probe, index)
        self._report.ask_seconds += time.monotonic() - start
        self._probe_outputs = probe.outputs
        if not alive:
            self._unresponsive = True
        return folder, not self._timed_out

    def _judge(self, folder: Path, call: Call) -> tuple[list[str], str | None, str, list[str]]:
        """(printed lines, failure message or None, exception name, traceback) of one answer."""
        start = time.monotonic()
        out = io.StringIO()
        try:
            answer = read_answer(folder, self._answers().parent.parent)
            with contextlib.redirect_stdout(out):
                CHECKS[call.check].judge_answer(answer, call.params)
            return out.getvalue().splitlines(), None, "", []
        except AssertionError as err:
            return out.getvalue().splitlines(), str(err), "AssertionError", []
        except StudentError as err:
            return out.getvalue().splitlines(), err.message, err.type_name, []
        except UnusableAnswer as err:
            return out.getvalue().splitlines(), f"your answer could not be used: {err}", "AssertionError", []
        except Exception as err:  # noqa: BLE001 - a judge that cannot use an answer never passes it
            return (
                out.getvalue().splitlines(),
                f"the check could not use what your function returned "
                f"({type(err).__name__}: {str(err)[:300]})",
                "AssertionError",
                [],
            )
        finally:
            self._report.judge_seconds += time.monotonic() - start
            shutil.rmtree(folder, ignore_errors=True)

    def _kernel_stdout(self) -> list[str]:
        text = "".join(
            o.get("text", "")
            for o in self._probe_outputs
            if o.get("output_type") == "stream" and o.get("name") == "stdout"
        )
        if len(text) > self.max_shown_stdout:
            text = text[: self.max_shown_stdout] + "\n[... cut]\n"
        return text.splitlines()

    def _visible(self, index: int, cell, calls: list[Call], hidden: list[Call], limit: int) -> Verdict:
        gid = label(cell, index)
        verdict = Verdict(gid, hidden="none" if not hidden else "not run")
        asked = {(c.check, c.functions) for c in calls}
        for call in calls:
            names = ", ".join(call.functions) + ("," if len(call.functions) == 1 else "")
            folder, in_time = self._ask(
                index, "answer", repr(gid), repr(call.check), f"lambda: ({names})", repr(call.params)
            )
            printed, failed, ename, _ = self._judge(folder, call)
            verdict.shown += self._kernel_stdout() + printed
            if not in_time:
                failed, ename = (
                    f"test {gid} ran past the {limit} s time limit for a cell and was interrupted",
                    "CellTimeoutError",
                )
                self._report.timeouts.append(f"test {gid}")
            if failed is not None:
                verdict.failed, verdict.ename = failed, ename
                verdict.detail = (
                    f"visible: {ename}: {failed}"[:300]
                    if ename != "AssertionError"
                    else f"visible: {failed[:300]}"
                )
                return verdict
            if self._unresponsive:
                return verdict
        for call in hidden:  # a hidden test of functions no visible test named: keep them only
            if (call.check, call.functions) not in asked:
                asked.add((call.check, call.functions))
                names = ", ".join(call.functions) + ("," if len(call.functions) == 1 else "")
                folder, _ = self._ask(index, "keep", repr(gid), repr(call.check), f"lambda: ({names})")
                shutil.rmtree(folder, ignore_errors=True)
        return verdict

    def _hidden(self, index: int, verdict: Verdict, calls: list[Call]) -> None:
        for call in calls:
            folder, in_time = self._ask(
                index, "answer_again", repr(verdict.grade_id), repr(call.check), repr(call.params)
            )
            _, failed, _, _ = self._judge(folder, call)
            if failed is not None or not in_time or self._unresponsive:
                verdict.hidden = "failed"
                verdict.detail = f"hidden: {'ran past the time limit' if not in_time else failed[:300]}"
                verdict.failed = HIDDEN_FAILED
                return
        verdict.hidden = "passed"

    # ----------------------------------------------------------------- the notebook

    def preprocess(self, nb, resources=None, km=None):
        from nbclient import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self._report, self._unresponsive = Report(), False
        self._total_bytes, self._cell_bytes, self._cut_noted, self._cuts = 0, 0, False, []
        self._probe_outputs = []
        self.store_widget_state = False
        limit = self.timeout
        plans = {}
        for index, cell in enumerate(self.nb.cells):
            if is_test(cell):
                plans[index] = split_test_cell(cell.source, label(cell, index))
        verdicts: dict[int, Verdict] = {}
        self._answers().mkdir(parents=True, exist_ok=True)
        stopped = None
        started = time.monotonic()
        with self.setup_kernel():
            info = self.wait_for_reply(self.kc.kernel_info())
            self._report.kernel_start_seconds = round(time.monotonic() - started, 3)
            self.nb.metadata["language_info"] = info["content"]["language_info"]
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code":
                    continue
                if self._unresponsive and stopped is None:
                    stopped = f"test {label(self.nb.cells[index - 1], index - 1)}"
                if stopped is not None:
                    cell.outputs, cell.execution_count = [], None
                    if index in plans:
                        verdicts[index] = Verdict(
                            label(cell, index),
                            failed=(
                                f"not graded: the notebook did not get past {stopped} "
                                f"(it ran past the {limit} s "
                                "time limit for a cell), so it never reaches this test"
                            ),
                            detail="not reached",
                        )
                    continue
                if index in plans:
                    visible, hidden = plans[index]
                    verdicts[index] = self._visible(index, cell, visible, hidden, limit)
                    self.nb.cells[index] = cell
                    cell.outputs = []
                    continue
                started = time.monotonic()
                alive = self._run(cell, index)
                self._report.cell_seconds[label(cell, index)] = round(time.monotonic() - started, 3)
                self.nb.cells[index] = cell
                if self._cuts:
                    self._report.output_cut.append(f"{label(cell, index)} (over {self._cuts[0]})")
                for out in cell.get("outputs", []):
                    if out.get("output_type") == "error" and out.get("ename") not in {"CellTimeoutError"}:
                        self._report.errors.append(
                            f"{label(cell, index)}: {out.get('ename')}: {str(out.get('evalue'))[:160]}"
                        )
                if self._timed_out or not alive:
                    stopped = label(cell, index)
                    self._report.timeouts.append(stopped)
                    self._report.stopped_at = stopped
                    self._unresponsive = self._unresponsive or not alive
            kept = copy.deepcopy(self.nb)  # 2. what the student may see: nothing after this point
            for index, verdict in verdicts.items():
                hidden = plans[index][1]
                if verdict.failed is None and hidden:
                    if self._unresponsive:
                        verdict.failed, verdict.hidden = HIDDEN_FAILED, "not run"
                        verdict.detail = "hidden: the kernel stopped answering before the hidden tests"
                    else:
                        self._hidden(index, verdict, hidden)
        self.nb.cells[:] = kept.cells  # 3. drop whatever the kernel did after the copy
        self.nb.metadata.clear()
        self.nb.metadata.update(kept.metadata)
        self._report.unresponsive = self._unresponsive
        for index, verdict in verdicts.items():
            self._show(self.nb.cells[index], verdict)
            self._report.verdicts[verdict.grade_id] = asdict(verdict)
        shutil.rmtree(self._answers(), ignore_errors=True)
        if self.report_file:
            Path(self.report_file).write_text(json.dumps(asdict(self._report), indent=1))
        return self.nb, self.resources

    def _show(self, cell: NotebookNode, verdict: Verdict) -> None:
        """The test cell's outputs: what its visible tests printed, then the error if one failed."""
        outputs = []
        if verdict.shown:
            outputs.append(new_output("stream", name="stdout", text="\n".join(verdict.shown) + "\n"))
        if verdict.failed is not None:
            text = f"{verdict.ename}: {verdict.failed}"
            outputs.append(new_output("error", ename=verdict.ename, evalue=verdict.failed, traceback=[text]))
        cell.outputs = outputs
