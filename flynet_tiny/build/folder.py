"""Write a build folder: a self-contained project that builds wherever it is copied.

Its sources are copied in (sources.py); beside them a Makefile (makefile.py), a CMakeLists.txt with an
arm-none-eabi toolchain file (cmake.py), the linker script (linker_script.py) and a README.md saying how
to build, flash and read it (folder_readme.py), all with relative paths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from ..reporting import atomic_write_text
from ..targets import Target
from .cmake import TOOLCHAIN_FILE, render_cmakelists, render_toolchain_file
from .folder_readme import render_folder_readme
from .linker_script import render_linker_script
from .makefile import render_makefile
from .options import ARTIFACT_NAME, BuildOptions
from .plan import plan_build


def write_build_folder(
    out_dir: Path | str,
    target: Target,
    sources: Sequence[Path | str],
    include_dirs: Sequence[Path | str] = (),
    options: BuildOptions = BuildOptions(),
) -> Path:
    """Copy the sources into out_dir and write its build files: Makefile, CMakeLists.txt with its
    arm-none-eabi toolchain file, README.md and (for firmware) the linker script. Returns the Makefile."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    plan = plan_build(out_dir, target, sources, include_dirs, options)
    if not options.library:
        _write_if_changed(out_dir / f"{ARTIFACT_NAME}.ld", render_linker_script(target, options.emulation))
    _write_if_changed(out_dir / "CMakeLists.txt", render_cmakelists(plan))
    _write_if_changed(out_dir / TOOLCHAIN_FILE, render_toolchain_file())
    _write_if_changed(out_dir / "README.md", render_folder_readme(plan))
    # Objects depend on the Makefile (it holds the flags): rewrite it only when it changes.
    _write_if_changed(out_dir / "Makefile", render_makefile(plan))
    return out_dir / "Makefile"


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text() != text:
        atomic_write_text(path, text)
