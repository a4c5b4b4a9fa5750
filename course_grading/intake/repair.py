"""Turn whatever a student handed in into a notebook nbgrader can grade, or say why not.

Colab and VS Code round trips drop or duplicate the cells' nbgrader metadata; students
paste cells twice, edit or delete test cells. nbgrader then cannot tell which cell is
which. :func:`repair` matches the submission's cells to the released notebook's cells,
in order, by nbgrader ``grade_id`` where one is present and otherwise by how alike the
sources are (difflib), then

* restores every matched cell's nbgrader metadata (and the locked cells' source);
* keeps one copy of a duplicated cell (an exact copy of a locked cell is removed, a
  second copy of an answer stays as ordinary code);
* puts back deleted locked cells (tests, instructions) and unanswered stubs for
  deleted answers;

and reports each change in a sentence. A file that is empty, not JSON, not a
notebook, or another lab's notebook gets that outcome instead.
"""

from __future__ import annotations

import ast
import copy
import difflib
import json
import re
import uuid
from dataclasses import dataclass, field

import nbformat

from ..cells import nbgrader_meta, text
from ..outcomes import Outcome

MAX_ATTACHMENTS = 1_000_000  # bytes of cell attachments and embedded images kept per notebook
MAX_SOURCE = 500_000  # characters of one cell's source
EMBEDDED = re.compile(r"data:[\w/+.-]+;base64,[A-Za-z0-9+/=\s]+")
LOCKED_MATCH = 0.6  # how alike a locked cell's source must be to the released one to count as it
ANSWER_MATCH = 0.3  # the same for an answer cell (answers differ from the released stub)
WRONG_LAB = 0.5  # fewer of the released locked cells than this fraction found: another lab


@dataclass
class Repair:
    """The result: a gradable notebook, or the outcome that says why there is none."""

    notebook: dict | None
    outcome: Outcome | None = None  # None when gradable; else NOT_JSON / NOT_NOTEBOOK / EMPTY / WRONG_LAB
    detail: str = ""
    changes: list[str] = field(default_factory=list)


def defined_names(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.ClassDef)}


def similarity(a: str, b: str) -> float:
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.real_quick_ratio() < ANSWER_MATCH or matcher.quick_ratio() < ANSWER_MATCH:
        return 0.0
    return matcher.ratio()


def score(cell: dict, ref: dict) -> float:
    """How well submission ``cell`` matches released cell ``ref`` (0: not at all)."""
    if cell.get("cell_type") != ref["cell_type"]:
        return 0.0
    gid = nbgrader_meta(cell).get("grade_id")
    if gid and gid == nbgrader_meta(ref).get("grade_id"):
        return 3.0 + (text(cell) == text(ref))
    sim = similarity(text(cell), text(ref))
    if nbgrader_meta(ref).get("solution"):
        names = defined_names(text(ref))
        defines = bool(names) and names <= defined_names(text(cell))
        return 1.0 * defines + sim + 0.01 if defines or sim >= ANSWER_MATCH else 0.0
    return sim + 0.01 if sim >= LOCKED_MATCH else 0.0


def align(cells: list[dict], refs: list[dict]) -> dict[int, int]:
    """Order-preserving matching of submission cells to released cells with the highest total score."""
    n, m = len(cells), len(refs)
    scores = [[score(c, r) for r in refs] for c in cells]
    best = [[0.0] * (m + 1) for _ in range(n + 1)]
    for i in range(n - 1, -1, -1):
        for j in range(m - 1, -1, -1):
            take = best[i + 1][j + 1] + scores[i][j] if scores[i][j] > 0 else -1.0
            best[i][j] = max(take, best[i + 1][j], best[i][j + 1])
    pairs, i, j = {}, 0, 0
    while i < n and j < m:
        if scores[i][j] > 0 and best[i][j] == best[i + 1][j + 1] + scores[i][j]:
            pairs[i] = j
            i, j = i + 1, j + 1
        elif best[i][j] == best[i + 1][j]:
            i += 1
        else:
            j += 1
    return pairs


def parse(data: bytes) -> tuple[dict | None, Outcome | None, str]:
    """(notebook dict, outcome, detail): decode and check the bare structure."""
    if not data.strip():
        return None, Outcome.EMPTY, f"the file is empty ({len(data)} bytes)"
    try:
        nb = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError) as err:
        return (
            None,
            Outcome.NOT_JSON,
            f"not JSON ({err}); ask for the .ipynb file again (File > Download > .ipynb)",
        )
    if isinstance(nb, dict) and nb.get("nbformat") == 3 and "worksheets" in nb:
        try:
            return nbformat.reads(data.decode("utf-8-sig"), as_version=4), None, ""
        except Exception as err:  # noqa: BLE001 - any failure means: not a usable notebook
            return None, Outcome.NOT_NOTEBOOK, f"an nbformat 3 notebook that cannot be upgraded ({err})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        keys = ", ".join(sorted(nb)[:6]) if isinstance(nb, dict) else type(nb).__name__
        return (
            None,
            Outcome.NOT_NOTEBOOK,
            f"not a Jupyter notebook: JSON without a list of cells (it has: {keys})",
        )
    cells = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") not in {"code", "markdown", "raw"}:
            return None, Outcome.NOT_NOTEBOOK, "not a Jupyter notebook: a cell without a known cell_type"
        cell = dict(cell)
        cell["source"] = text(cell) if isinstance(cell.get("source", ""), str | list) else ""
        cell["metadata"] = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        if cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        else:
            cell.pop("outputs", None)
            cell.pop("execution_count", None)
        cells.append(cell)
    nb["cells"] = cells
    return nb, None, ""


def limit_sizes(cells: list[dict]) -> list[str]:
    """Cut what would make the graded notebook and its feedback page huge; say what was cut.

    Attachments and embedded (``data:``) images beyond :data:`MAX_ATTACHMENTS` in all are
    dropped, with a note in the cell; a cell's source beyond :data:`MAX_SOURCE` characters
    is replaced by a note (as code, a comment).
    """
    changes, kept = [], 0
    for i, cell in enumerate(cells):
        attachments = cell.get("attachments")
        if isinstance(attachments, dict):
            for name in list(attachments):
                size = len(json.dumps(attachments[name]))
                if kept + size > MAX_ATTACHMENTS:
                    del attachments[name]
                    note = (
                        f"[attachment {name[:40]!r} removed: {size / 1e6:.1f} MB is over the "
                        f"{MAX_ATTACHMENTS / 1e6:g} MB limit]"
                    )
                    cell["source"] = text(cell) + f"\n\n{note}\n"
                    changes.append(
                        f"cell {i + 1}: attachment of {size / 1e6:.1f} MB removed (limit "
                        f"{MAX_ATTACHMENTS / 1e6:g} MB)"
                    )
                else:
                    kept += size
            if not attachments:
                cell.pop("attachments", None)
        source = text(cell)
        for match in EMBEDDED.findall(source) if "data:" in source else []:
            if kept + len(match) > MAX_ATTACHMENTS:
                source = source.replace(match, f"removed:embedded-image-of-{len(match) // 1000}-KB", 1)
                changes.append(f"cell {i + 1}: an embedded image of {len(match) / 1e6:.1f} MB removed")
            else:
                kept += len(match)
        if len(source) > MAX_SOURCE:
            note = (
                f"[this cell's source ({len(source) / 1e6:.1f} MB) was removed: over the limit of "
                f"{MAX_SOURCE / 1e6:g} MB per cell]"
            )
            source = f"# {note}\n" if cell["cell_type"] == "code" else note + "\n"
            changes.append(f"cell {i + 1}: source of {len(text(cell)) / 1e6:.1f} MB removed")
        cell["source"] = source
    return changes


def _present(ref: dict, cells: list[dict]) -> bool:
    """Whether some cell of ``cells`` has (nearly) the source of released cell ``ref``."""
    same_type = [text(c) for c in cells if c["cell_type"] == ref["cell_type"]]
    wanted = _normal(text(ref))
    return any(_normal(t) == wanted for t in same_type) or any(
        similarity(t, text(ref)) >= LOCKED_MATCH for t in same_type
    )


def _normal(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip().splitlines())


def _label(ref: dict) -> str:
    meta = nbgrader_meta(ref)
    kind = (
        "test"
        if meta.get("grade") and not meta.get("solution")
        else "answer"
        if meta.get("solution")
        else "fixed"
    )
    return f"{kind} cell {meta.get('grade_id')}"


def repair(data: bytes, released: dict, lab: str) -> Repair:
    """Match the submission to the ``released`` notebook of ``lab``; see the module doc."""
    nb, outcome, detail = parse(data)
    if nb is None:
        return Repair(None, outcome, detail)
    refs = released["cells"]
    cells = nb["cells"]
    cut = limit_sizes(cells)
    pairs = align(cells, refs)
    locked = [j for j, r in enumerate(refs) if not nbgrader_meta(r).get("solution")]
    found = sum(_present(refs[j], cells) for j in locked)  # by content: other labs reuse the same grade_ids
    if not locked or found < WRONG_LAB * len(locked):
        title = next(
            (
                text(c).strip().splitlines()[0]
                for c in cells
                if c["cell_type"] == "markdown" and text(c).strip()
            ),
            "no title",
        )
        return Repair(
            None,
            Outcome.WRONG_LAB,
            f"not the {lab} notebook: only {found} of its {len(locked)} fixed "
            f"cells are there; the notebook starts with {title[:80]!r}",
        )

    changes: list[str] = list(cut)
    restored_meta = 0
    out: list[dict] = []
    ref_ids = {nbgrader_meta(r).get("grade_id") for r in refs}

    def put_back(j: int) -> None:
        ref = copy.deepcopy(refs[j])
        out.append(ref)
        changes.append(
            f"{_label(ref)} was missing: put back as released"
            + (" (unanswered)" if nbgrader_meta(ref).get("solution") else "")
        )

    j_next = 0
    for i, cell in enumerate(cells):
        if i in pairs:
            j = pairs[i]
            for k in range(j_next, j):
                put_back(k)
            j_next = j + 1
            ref = refs[j]
            new = copy.deepcopy(cell)
            if nbgrader_meta(cell) != nbgrader_meta(ref) or cell["metadata"].get("editable") is not ref[
                "metadata"
            ].get("editable"):
                restored_meta += 1
            new["metadata"] = {
                **{k: v for k, v in cell["metadata"].items() if k != "nbgrader"},
                **copy.deepcopy(ref["metadata"]),
            }
            if not nbgrader_meta(ref).get("solution") and text(cell) != text(ref):
                new["source"] = text(ref)
                if _normal(text(cell)) != _normal(text(ref)):
                    changes.append(f"{_label(ref)} was edited: restored as released")
            out.append(new)
            continue
        gid = nbgrader_meta(cell).get("grade_id")
        twin = next((r for r in refs if nbgrader_meta(r).get("grade_id") == gid), None) if gid else None
        if twin is None:
            twin = next(
                (
                    r
                    for r in refs
                    if not nbgrader_meta(r).get("solution")
                    and r["cell_type"] == cell["cell_type"]
                    and _normal(text(r)) == _normal(text(cell))
                ),
                None,
            )
        plain = copy.deepcopy(cell)
        plain["metadata"] = {
            k: v for k, v in cell["metadata"].items() if k not in {"nbgrader", "deletable", "editable"}
        }
        if (
            twin is not None
            and not nbgrader_meta(twin).get("solution")
            and _normal(text(cell)) == _normal(text(twin))
        ):
            changes.append(f"duplicate of {_label(twin)} removed")
            continue
        if twin is not None:
            changes.append(f"duplicate of {_label(twin)} kept as ordinary code")
        elif gid and gid not in ref_ids:
            changes.append(f"cell with unknown grade_id {gid!r} kept as ordinary code")
        out.append(plain)
    for k in range(j_next, len(refs)):
        put_back(k)
    if restored_meta:
        changes.insert(
            0,
            f"nbgrader metadata restored on {restored_meta} of {len(refs)} cells "
            "(dropped or changed by Colab, VS Code or an editor)",
        )

    seen: set[str] = set()
    for cell in out:  # nbformat 4.5 wants unique cell ids
        if not isinstance(cell.get("id"), str) or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])
    nb["cells"] = out
    nb["nbformat"], nb["nbformat_minor"] = released["nbformat"], released["nbformat_minor"]
    nb["metadata"] = {
        **(nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}),
        "kernelspec": released["metadata"].get("kernelspec", {}),
        "language_info": released["metadata"].get("language_info", {"name": "python"}),
    }
    try:
        nbformat.validate(nbformat.from_dict(nb))
    except nbformat.ValidationError as err:
        return Repair(
            None, Outcome.NOT_NOTEBOOK, f"not a valid notebook after repair: {str(err).splitlines()[0]}"
        )
    return Repair(nb, None, "", changes)
