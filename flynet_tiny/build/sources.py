"""Copy a build's sources and headers into its folder, so the folder builds anywhere with relative paths only.

    kernels/ runtime/ boards/...   the package's firmware sources (flynet_tiny/firmware), same sub-folders
    src/                           any other source file (e.g. a test program) by file name, with the headers beside it
    include/<n>_<folder>/          the headers of any other include folder

Files inside the build folder stay where they are. A copy is rewritten only when its content changed, so
`make` rebuilds only what changed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Sequence

from ..errors import FlynetError
from ..resources import FIRMWARE_DIR

HEADER_SUFFIXES = (".h", ".inc")


def _inside(path: Path, folder: Path) -> Path | None:
    try:
        return path.relative_to(folder)
    except ValueError:
        return None


def _copy_if_changed(source: Path, destination: Path) -> None:
    if destination.is_file() and destination.read_bytes() == source.read_bytes():
        return
    destination.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, destination)


def _place(path: Path, out_dir: Path, fallback: Path) -> Path:
    """Where a file or folder lives in the build folder (relative to it): where it is when already inside,
    the same sub-folders for the package's firmware sources, else `fallback`."""
    for root in (out_dir, FIRMWARE_DIR):
        relative = _inside(path, root)
        if relative is not None:
            return relative
    return fallback


def copy_sources(out_dir: Path, sources: Sequence[Path], include_dirs: Sequence[Path]) -> tuple[list[Path], list[Path]]:
    """Copy every source and every include folder's headers (recursively) into out_dir.

    Returns (sources, include dirs), relative to out_dir, in the given order."""
    out_dir = out_dir.resolve()
    placed_includes = []
    for number, folder in enumerate(Path(i).resolve() for i in include_dirs):
        if not folder.is_dir():
            raise FlynetError(f"include folder {folder} not found: check the path")
        relative = _place(folder, out_dir, Path("include") / f"{number}_{folder.name}")
        if _inside(folder, out_dir) is None:
            for header in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix in HEADER_SUFFIXES):
                _copy_if_changed(header, out_dir / relative / header.relative_to(folder))
        placed_includes.append(relative)
    placed_sources, taken = [], {}
    for source in (Path(s).resolve() for s in sources):
        relative = _place(source, out_dir, Path("src") / source.name)
        if taken.setdefault(relative, source) != source:
            raise FlynetError(f"two sources would both be copied to {relative} ({taken[relative]} and {source}): "
                              "rename one of them")
        if _inside(source, out_dir) is None:
            _copy_if_changed(source, out_dir / relative)
            if _inside(source, FIRMWARE_DIR) is None:  # `#include "x.h"` finds a header beside its source
                for header in sorted(p for p in source.parent.iterdir() if p.is_file() and p.suffix in HEADER_SUFFIXES):
                    _copy_if_changed(header, out_dir / relative.parent / header.name)
        placed_sources.append(relative)
    return placed_sources, placed_includes
