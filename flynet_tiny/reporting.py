"""Terminal tables and JSON output shared by every command."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .errors import FlynetError


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], align: str | None = None) -> str:
    """Plain-text table; `align` is one char per column, 'l' or 'r' (numbers default to right)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    if align is None:
        align = "".join(
            "r" if rows and all(isinstance(r[i], (int, float)) for r in rows) else "l"
            for i in range(len(headers))
        )
    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align)).rstrip()
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), sep] + [line(r) for r in cells[1:]])


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _umask() -> int:
    mask = os.umask(0o022)  # the only way to read it is to set it: put it straight back
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path | str, data: bytes, executable: bool = False) -> None:
    """Write to a temp file beside `path`, then rename: readers never see half a file. The file gets the
    usual mode (0644, or 0755 when executable, under the default umask), not mkstemp's private 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, (0o777 if executable else 0o666) & ~_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path | str, text: str) -> None:
    atomic_write_bytes(path, text.encode())


def staging_folder(beside: Path, suffix: str = ".tmp") -> Path:
    """A fresh hidden folder beside `beside`, to be renamed onto it when complete; with the usual folder
    mode (0755 under the default umask), not mkdtemp's private 0700, since it becomes the output."""
    folder = Path(tempfile.mkdtemp(prefix=f".{beside.name}.", suffix=suffix, dir=beside.parent))
    folder.chmod(0o777 & ~_umask())
    return folder


def progress_bar(total: int | None = None, desc: str = "", enabled: bool = True, unit: str = "it", iterable=None):
    """A tqdm bar on stderr (stdout stays for results and --json), gone when done; every command's
    steps of more than a couple of seconds show one."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, file=sys.stderr, leave=False,
                dynamic_ncols=True)
def atomic_write_files(folder: Path | str, files: Mapping[str, str | bytes]) -> None:
    """Write several files into `folder` as one step: all to temporary files first, then renamed into place.
    On any failure none of them is written, and the folders this call created are removed again."""
    folder = Path(folder)
    created = create_folders(folder)
    temporary: list[tuple[Path, Path]] = []
    try:
        for name, content in files.items():
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            temporary.append((Path(tmp), folder / name))
            with os.fdopen(fd, "wb") as fh:
                fh.write(content.encode() if isinstance(content, str) else content)
                fh.flush()
                os.fsync(fh.fileno())
        for tmp, path in temporary:
            os.replace(tmp, path)
    except BaseException:
        for tmp, _ in temporary:
            tmp.unlink(missing_ok=True)
        remove_created(created)
        raise


def create_folders(folder: Path | str) -> list[Path]:
    """mkdir -p, returning the folders it created (outermost first) so that a failure can remove them."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists() and probe != probe.parent:
        missing.append(probe)
        probe = probe.parent
    folder.mkdir(parents=True, exist_ok=True)
    return missing[::-1]


def remove_created(folders: Sequence[Path]) -> None:
    """Remove folders create_folders made, innermost first, where they are still empty."""
    for folder in reversed(folders):
        try:
            folder.rmdir()
        except OSError:
            pass


def check_output_folder(out: Path | str, marker: str, flag: str = "--out") -> None:
    """FlynetError unless `out` may be replaced: absent, empty, or a folder flynet-tiny wrote (holding `marker`)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise FlynetError(f"{flag} {out} is a file: pass a folder path")
    if out.is_dir() and any(out.iterdir()) and not (out / marker).exists():
        raise FlynetError(f"{flag} {out} holds files flynet-tiny did not write (no {marker}), which replacing it "
                          "would delete: pass a new or empty folder")


@contextmanager
def staged_folder(out: Path | str, marker: str, flag: str = "--out") -> Iterator[Path]:
    """A temporary folder beside `out` to write a whole output into; it replaces `out` when the block ends
    without an error, and on any error (Ctrl-C, SIGTERM included) it is removed together with the parent
    folders this created, so a failure leaves the file system as it was."""
    out = Path(out)
    check_output_folder(out, marker, flag)
    created = create_folders(out.parent)
    try:
        staging = staging_folder(out)
    except BaseException:
        remove_created(created)
        raise
    try:
        yield staging
        replace_folder(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        remove_created(created)
        raise


def replace_folder(staging: Path, out: Path) -> None:
    """Put the finished `staging` folder at `out` (an old `out` is removed only after the rename)."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{int(time.time() * 1000)}")
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def relocated(value: Any, old: Path, new: Path) -> Any:
    """`value` with every path under `old` moved under `new`: in dataclass fields, lists and dicts too
    (results built in a staging folder, reported at their final place)."""
    if isinstance(value, Path):
        try:
            return new / value.relative_to(old)
        except ValueError:
            return value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: relocated(getattr(value, f.name), old, new) for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    if isinstance(value, list):
        return [relocated(v, old, new) for v in value]
    if isinstance(value, dict):
        return {k: relocated(v, old, new) for k, v in value.items()}
    return value


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False)
