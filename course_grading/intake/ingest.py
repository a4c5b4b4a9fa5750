"""Take submissions as instructors really receive them and file them under student ids.

Accepted layouts of the input folder (or ``.zip`` of it):

* nbgrader's ``submitted/<student>/<lab>/<file>`` (the folder itself or one holding
  ``submitted/``);
* one folder per student: ``<student>/<file>``;
* loose files named by the LMS or by the student, e.g. Moodle's
  ``Maria Silva_123456_assignsubmission_file_lab02.ipynb``, Canvas's
  ``silvamaria_4242_99001_lab02.ipynb`` (``_LATE_`` too), or
  ``lab02_dense_autoencoder - Maria Silva.ipynb`` / ``Copy of lab02 (1).ipynb``.

Every file is kept as it came (``received/<student>/<lab>/``), whatever it contains:
:mod:`.repair` decides later whether it is a gradable notebook. With a roster
(CSV with an ``id`` column and any of ``name``, ``email``, ``login``), names and logins
found in file names are mapped to roster ids; without one the id is derived from the name.
"""

from __future__ import annotations

import csv
import re
import shutil
import tempfile
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import records

MOODLE = re.compile(r"^(?P<name>.+?)_(?P<num>\d+)_assignsubmission_[a-z]+_?(?P<rest>.*)$")
CANVAS = re.compile(r"^(?P<login>[A-Za-z0-9.\-]+?)(?:_LATE)?_(?P<uid>\d+)_(?P<sid>\d+)_(?P<rest>.+)$")
NOISE = re.compile(r"\b(copy of|c[oó]pia de|copia de|submission|entrega|final)\b|\(\d+\)", re.I)
SKIP = {".DS_Store", "Thumbs.db", "desktop.ini"}


def slug(text: str) -> str:
    """A student id from free text: lower case ASCII letters, digits, '.', '-' and '_'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"_+", "_", re.sub(r"[^a-z0-9.\-]+", "_", ascii_text.lower())).strip("_.-")


@dataclass
class Found:
    student: str  # id the file will be filed under
    path: Path
    how: str  # how the id was found, for the record


def lab_tokens(lab: str) -> list[str]:
    """Ways a file name may spell the lab: the full name, its words, its number ('lab02')."""
    words = lab.split("_")
    spellings = {lab, lab.replace("_", " "), lab.replace("_", "-"), *words}
    return sorted(spellings, key=len, reverse=True)


def name_from_file(filename: str, lab: str) -> tuple[str, str]:
    """(free-text name, how) of the student in a loose file's name."""
    stem = filename
    while Path(stem).suffix in {".ipynb", ".json", ".txt", ".py", ".zip", ".html", ".pdf"}:
        stem = Path(stem).stem
    if m := MOODLE.match(stem):
        return m["name"], "Moodle file name"
    if m := CANVAS.match(stem):
        return m["login"], "Canvas file name"
    rest = NOISE.sub(" ", stem)
    for token in lab_tokens(lab):
        rest = re.sub(re.escape(token), " ", rest, flags=re.I)
    if "@" in rest:
        rest = rest.split("@")[0].split()[-1]
    return rest.strip(" -_.,"), "file name"


def read_roster(path: Path) -> dict[str, str]:
    """Every spelling of a roster entry (slugged id, name, email, email user, login) -> id."""
    keys: dict[str, str] = {}
    with path.open(newline="", encoding="utf-8-sig") as f:
        for row in csv.DictReader(f):
            row = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k}
            sid = slug(row.get("id", ""))
            if not sid:
                continue
            for value in (row.get("id"), row.get("name"), row.get("email"), row.get("login"),
                          (row.get("email") or "").split("@")[0]):
                if value:
                    keys.setdefault(slug(value), sid)
    return keys


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.name not in SKIP and not p.name.startswith("."))


def discover(source: Path, lab: str) -> list[tuple[str, Path, str]]:
    """(free-text student, file, how) for every submission in ``source``."""
    if (source / "submitted").is_dir():
        source = source / "submitted"
    dirs = sorted(d for d in source.iterdir()
                  if d.is_dir() and d.name != "__MACOSX" and not d.name.startswith("."))
    found = []
    for d in dirs:
        inner = d / lab if (d / lab).is_dir() else d
        files = _files(inner)
        notebooks = [f for f in files if f.suffix == ".ipynb"] or files
        if notebooks:
            how = "nbgrader submitted/ folder" if inner != d else "folder per student"
            found.append((d.name, notebooks[0], how))
    for f in _files(source):
        name, how = name_from_file(f.name, lab)
        found.append((name or f.stem, f, how))
    return found


def ingest(lab: str, source: Path, course_root: Path, roster: Path | None = None) -> list[records.Record]:
    """File every submission in ``source`` (folder or zip) under ``received/<id>/<lab>/``."""
    with tempfile.TemporaryDirectory() as tmp:
        if source.is_file() and zipfile.is_zipfile(source):
            with zipfile.ZipFile(source) as archive:
                archive.extractall(tmp)
            tops = [p for p in Path(tmp).iterdir() if p.name != "__MACOSX"]
            source = tops[0] if len(tops) == 1 and tops[0].is_dir() else Path(tmp)
        keys = read_roster(roster) if roster else {}
        chosen: dict[str, Found] = {}
        extra: dict[str, list[str]] = {}
        for name, path, how in discover(source, lab):
            sid = keys.get(slug(name)) or next((keys[slug(w)] for w in re.split(r"[\s_]+", name)
                                                if slug(w) in keys), None)
            if sid:
                how = f"{how}, roster"
            else:
                sid = slug(name) or slug(path.stem) or "unknown"
                if keys:
                    how = f"{how}; NOT in the roster"
            found = Found(sid, path, f"{how}: {name!r}")
            if sid in chosen:  # two files for one student: the newer one counts
                keep, drop = sorted([chosen[sid], found], key=lambda f: (f.path.stat().st_mtime, f.path.name),
                                    reverse=True)
                chosen[sid] = keep
                extra.setdefault(sid, []).append(drop.path.name)
            else:
                chosen[sid] = found
        out = []
        for sid, found in sorted(chosen.items()):
            target = course_root / "received" / sid / lab
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            shutil.copy2(found.path, target / found.path.name)
            record = records.Record(sid, lab, received=str(found.path.relative_to(source)))
            record.notes.append(f"filed as {sid} from {found.how}")
            if sid in extra:
                record.notes.append("also handed in, ignored (older): " + ", ".join(extra[sid]))
            records.save(record, course_root)
            out.append(record)
        return out


def received_file(course_root: Path, lab: str, student: str) -> Path | None:
    """The file a student handed in; nbgrader's own ``submitted/`` copy when nothing was ingested."""
    folder = course_root / "received" / student / lab
    files = _files(folder) if folder.is_dir() else []
    if files:
        return files[0]
    nb = course_root / "submitted" / student / lab / f"{lab}.ipynb"
    return nb if nb.exists() else None


def students(course_root: Path, lab: str) -> list[str]:
    """Everyone with a received file or an nbgrader submission of ``lab``."""
    ids = {p.parent.name for p in (course_root / "received").glob(f"*/{lab}")}
    ids |= {p.parent.name for p in (course_root / "submitted").glob(f"*/{lab}")}
    return sorted(ids)
