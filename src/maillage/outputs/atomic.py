"""Write an output directory all at once, and never touch a folder a command did not write.

Readers never see an output half-written: the files go to a temporary sibling that is renamed
into place at the end. A user's folder is never emptied, replaced or moved: an existing
``--out`` is refused unless it is a previous output of the same command (it carries the
:data:`MARKER` file that lists what the command wrote, and nothing else), and even then it is
replaced only when asked (``--overwrite``).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from maillage.errors import CommandError

#: The file every output folder carries: the command that wrote it and the files it wrote.
MARKER = ".maillage-output.json"


class OutputRefused(CommandError):
    """``--out`` names something the command must not replace; nothing was touched."""


def check_output(target: Path, command: str, *, overwrite: bool = False) -> None:
    """Refuse a ``target`` the command may not write: checked before any work and again before
    anything is written, so that a refusal costs nothing and leaves everything as it was."""
    target = Path(target)
    resolved = target.resolve()
    if resolved == Path(resolved.anchor) or Path.cwd().resolve().is_relative_to(resolved):
        raise OutputRefused(
            f"--out {target} : le dossier courant ou l'un de ses parents ne peut pas recevoir "
            "les résultats ; choisissez un nouveau dossier, par exemple out/resultats"
        )
    if not target.exists() and not target.is_symlink():
        return
    if not target.is_dir() or target.is_symlink():
        raise OutputRefused(
            f"--out {target} existe et n'est pas un dossier : rien n'a été modifié ; "
            "choisissez un nouveau dossier"
        )
    if not any(target.iterdir()):
        return
    written = _written_by(target, command)
    if written is None:
        raise OutputRefused(
            f"--out {target} existe déjà et n'est pas un résultat de « maillage {command} » : "
            "rien n'a été modifié ; choisissez un nouveau dossier"
        )
    foreign = sorted(_contents(target) - written - {MARKER})
    if foreign:
        raise OutputRefused(
            f"--out {target} contient des fichiers que « maillage {command} » n'a pas écrits "
            f"({', '.join(foreign[:3])}{'…' if len(foreign) > 3 else ''}) : rien n'a été "
            "modifié ; déplacez-les ou choisissez un nouveau dossier"
        )
    if not overwrite:
        raise OutputRefused(
            f"--out {target} contient déjà un résultat de « maillage {command} » : ajoutez "
            "--overwrite pour le remplacer, ou choisissez un nouveau dossier"
        )


@contextlib.contextmanager
def atomic_directory(target: Path, command: str, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling of ``target``; on success it becomes ``target`` in one rename.

    ``target`` must be new, empty, or (with ``overwrite``) a previous output of ``command``,
    which is then removed file by file from the list its marker keeps. On any error the
    temporary directory is removed and ``target`` is left as it was.
    """
    target = Path(target)
    check_output(target, command, overwrite=overwrite)
    created = _make_parents(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    umask = os.umask(0)
    os.umask(umask)
    tmp.chmod(0o777 & ~umask)  # mkdtemp's 0700 would hide the results from colleagues
    try:
        yield tmp
        _write_marker(tmp, command)
        check_output(target, command, overwrite=overwrite)
        _swap(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _swap(tmp: Path, target: Path) -> None:
    """``tmp`` renamed to ``target``; a previous output is set aside first, then removed."""
    if not target.exists():
        tmp.rename(target)
        return
    if not any(target.iterdir()):
        tmp.rename(target)  # rename(2) replaces an empty directory, and only an empty one
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=target.parent))
    old.rmdir()
    target.rename(old)
    tmp.rename(target)
    _remove_output(old)


def _remove_output(folder: Path) -> None:
    """Delete what the marker of ``folder`` lists, then the folder if nothing else is left."""
    listed = json.loads((folder / MARKER).read_text(encoding="utf-8"))["files"]
    for name in sorted([*listed, MARKER], key=lambda n: -n.count("/")):
        path = folder / name
        with contextlib.suppress(FileNotFoundError):
            if path.is_dir() and not path.is_symlink():
                path.rmdir()
            else:
                path.unlink()
    try:
        folder.rmdir()
    except OSError:  # something was added while the command ran: it stays, and is named
        warnings.warn(
            f"{folder} garde ce qui a été ajouté au résultat précédent pendant le calcul",
            stacklevel=1,
        )


def _written_by(folder: Path, command: str) -> set[str] | None:
    """The files a previous output of ``command`` wrote in ``folder``, or None if it is not one."""
    try:
        marker = json.loads((folder / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("command") != command:
        return None
    files = marker.get("files")
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files)


def _contents(folder: Path) -> set[str]:
    """Every file and folder below ``folder``, as relative POSIX paths."""
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*")}


def _write_marker(folder: Path, command: str) -> None:
    marker = {
        "command": command,
        "written": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": sorted(_contents(folder)),
    }
    (folder / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")


def _make_parents(folder: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return those created, deepest first."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        path.mkdir(exist_ok=True)
    return missing
