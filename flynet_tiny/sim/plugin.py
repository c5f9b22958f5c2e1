"""Build the instruction-counting QEMU plugin (firmware/qemu_plugin/: fn_insn_count.c, the
Thumb-2 decoder and the timing model).

The shared library is cached under ~/.cache/flynet-tiny/qemu_plugin/, keyed by a hash of its
sources, so an edited plugin is rebuilt and concurrent users never see a half-written file.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from ..errors import FlynetError
from ..processes import COMPILE_TIMEOUT_S, run_tool
from ..resources import cache_dir as user_cache_dir, firmware_dir


def plugin_sources() -> list[Path]:
    """The plugin's C files and headers, in a stable order."""
    folder = firmware_dir("qemu_plugin")
    return sorted(folder.glob("*.c")) + sorted(folder.glob("*.h"))


def build_counting_plugin(cache_dir: Path | str | None = None) -> Path:
    """Path of the compiled plugin, compiling it with the host gcc when not cached."""
    sources = plugin_sources()
    digest = hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in sources)).hexdigest()[:16]
    cache = Path(cache_dir) if cache_dir else user_cache_dir("qemu_plugin")
    library = cache / f"fn_insn_count-{digest}.so"
    if library.is_file():
        return library
    gcc = shutil.which("gcc")
    if gcc is None:
        raise FlynetError("host gcc not found (needed for the QEMU counting plugin): apt-get install gcc")
    cache.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=cache, prefix=".fn_insn_count.", suffix=".so")
    os.close(fd)
    try:
        proc = run_tool([gcc, "-shared", "-fPIC", "-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror",
                         "-o", tmp, *(str(p) for p in sources if p.suffix == ".c")],
                        timeout_s=COMPILE_TIMEOUT_S, what="host gcc (QEMU counting plugin)")
        if proc.returncode != 0:
            first = next((l for l in proc.stderr.splitlines() if "error" in l), proc.stderr.strip())
            raise FlynetError(f"counting plugin does not compile: {first}")
        os.replace(tmp, library)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return library
