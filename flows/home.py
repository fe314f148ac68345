"""Where the claim catalogue lives: a folder you own, not the installed package.

The catalogue every command reads (``run``, ``serve``, ``match``, ``eval``, ``claims ...``) is, in
this order:

1. the folder given with ``--claims`` (``--claims-dir`` is the same option);
2. ``$CLAIMWATCH_HOME/claims`` when ``CLAIMWATCH_HOME`` is set and that folder exists (made by
   ``claimwatch init``), else ``$CLAIMWATCH_HOME/rules/claims`` when ``CLAIMWATCH_HOME`` is a
   checkout of the repository (as a worker set up from a checkout has it); a ``CLAIMWATCH_HOME``
   with neither is said in one line on stderr;
3. the catalogue shipped with the package (``rules/claims`` of the checkout or installation).

``claimwatch init [DIR]`` copies the shipped catalogue to ``DIR/claims`` and says to set
``CLAIMWATCH_HOME=DIR``. Commands that write claim files (``claims import``, ``approve``,
``retire``) refuse a catalogue inside an installed package (site-packages): an upgrade would
overwrite the edits, and the folder is often not writable. A source checkout installed with
``pip install -e .`` is not an installed package, so its ``rules/claims`` stays editable.
"""

from __future__ import annotations

import os
import site
import sys
import sysconfig
from pathlib import Path

SHIPPED_CLAIMS_DIR = Path(__file__).resolve().parent.parent / "rules" / "claims"
HOME_ENV = "CLAIMWATCH_HOME"


class HomeError(Exception):
    """A catalogue folder that cannot be used or written; the message is one line."""


def home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser() if value else None


def claims_dir(given: str | Path | None = None) -> Path:
    """The catalogue folder a command uses (see the module docstring)."""
    if given is not None and str(given) != "":
        return Path(given)
    h = home()
    if h is not None:
        for candidate in (h / "claims", h / "rules" / "claims"):
            if candidate.is_dir():
                return candidate
        _say_once(f"claimwatch: {HOME_ENV}={h} holds no claims folder; using the shipped catalogue "
                  f"{SHIPPED_CLAIMS_DIR} (run `claimwatch init {h}` to make one there)")
    return SHIPPED_CLAIMS_DIR


_said: set[str] = set()


def _say_once(line: str) -> None:
    """One line on stderr, once per process: a CLAIMWATCH_HOME without a catalogue is a mistake
    worth seeing, but not a reason to stop a scheduled run."""
    if line not in _said:
        _said.add(line)
        print(line, file=sys.stderr)


def _install_dirs() -> list[Path]:
    dirs = {sysconfig.get_paths().get(k) for k in ("purelib", "platlib")}
    try:
        dirs.update(site.getsitepackages())
    except AttributeError:  # some virtualenv versions
        pass
    user = getattr(site, "getusersitepackages", lambda: None)()
    dirs.add(user)
    return [Path(d).resolve() for d in dirs if d]


def inside_installed_package(path: str | Path) -> bool:
    """True when ``path`` is inside site-packages (a non-editable install), not a checkout."""
    p = Path(path).resolve()
    for d in _install_dirs():
        if p == d or d in p.parents:
            return True
    return any(part in ("site-packages", "dist-packages") for part in p.parts)


def check_writable(folder: str | Path) -> Path:
    """``folder`` if claim files may be written there; :class:`HomeError` saying what to do if not."""
    folder = Path(folder)
    if inside_installed_package(folder):
        raise HomeError(f"the catalogue {folder} is inside the installed package and is not edited in place; "
                        "run `claimwatch init DIR` and set CLAIMWATCH_HOME=DIR (or pass --claims DIR/claims)")
    probe = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder)
    if not os.access(probe, os.W_OK):
        raise HomeError(f"the catalogue {folder} is not writable; run `claimwatch init DIR` for a copy you can "
                        "edit and set CLAIMWATCH_HOME=DIR (or pass --claims DIR/claims)")
    return folder


def init_home(target: str | Path, source: str | Path = SHIPPED_CLAIMS_DIR) -> tuple[Path, int]:
    """Copy the catalogue ``source`` to ``target/claims``; returns that folder and the files copied.

    Refuses (:class:`HomeError`) when ``target/claims`` already exists, so nothing is overwritten.
    Files are copied without their modes, so a read-only installation gives a writable copy."""
    import shutil

    target = Path(target).expanduser()
    dest = target / "claims"
    if dest.exists():
        raise HomeError(f"{dest} exists already; it is left as it is (set CLAIMWATCH_HOME={target.resolve()} "
                        "to use it, or choose another folder)")
    source = Path(source)
    if not source.is_dir():
        raise HomeError(f"{source}: no shipped catalogue to copy; check the installation")
    if target.exists() and not target.is_dir():
        raise HomeError(f"{target} is a file; give a folder")
    try:
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".claims.{os.getpid()}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        n = 0
        for src in sorted(source.rglob("*")):
            rel = src.relative_to(source)
            if "__pycache__" in rel.parts or src.name.startswith("."):
                continue
            out = tmp / rel
            if src.is_dir():
                out.mkdir(parents=True, exist_ok=True)
            elif src.suffix.lower() in (".yaml", ".yml", ".jsonl", ".md"):
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, out)
                n += 1
        (tmp / "imported").mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dest)
    except OSError as exc:
        shutil.rmtree(target / f".claims.{os.getpid()}.tmp", ignore_errors=True)
        raise HomeError(f"{target}: cannot create the catalogue there ({exc.strerror or exc}); choose a writable folder") from None
    return dest, n
