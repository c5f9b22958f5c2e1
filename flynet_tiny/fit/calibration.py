"""Per-board calibration of the fit estimate against a real build, cached on disk.

Once per (board, --opt, sources), a one-layer model is built with the project's own
firmware build (`build_from_tflite`). From that build fit keeps:
- every object but the model's, parsed (sections, symbols, relocations), recompiled with
  -fstack-usage for the frames (the same command lines make ran, read with `make -n`);
- the compile command of model.c, so a new model's C compiles with exactly the same flags;
- per memory region, what the linker reports minus what fit itemizes for that model: the
  part of startup code, newlib and alignment that fit does not see object by object.
The cache key hashes the firmware sources, the build code, the board file and the
compiler version, so editing a kernel recalibrates on the next fit.
"""

from __future__ import annotations

import hashlib
import json
import shlex
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..build.toolchain import find_toolchain
from ..errors import FlynetError
from ..processes import COMPILE_TIMEOUT_S, INSPECT_TIMEOUT_S, run_tool
from ..reporting import atomic_write_text
from ..resources import PACKAGE_DIR, cache_dir, firmware_dir
from ..targets import Target
from .itemize import itemize
from .libraries import library_table
from .objects import parse_object

OPTS = ("size", "speed")
MODEL_OBJECT = "model"          # the stem make gives the generated model.c's object (NN_model.o)
WEIGHTS_OBJECT = "model_weights"


@dataclass(frozen=True)
class Calibration:
    target: str
    opt: str
    folder: Path
    objects: list[dict]           # parsed objects of the build, model.c's and the weights' left out
    kernel_objects: list[str]     # paths of the kernel objects among them
    model_compile: str            # shell command compiling model/model.c into obj/model.o, paths relative to `folder`
    linked: dict[str, int]        # region -> bytes the linker reported for the calibration build
    rest: dict[str, int]          # region -> bytes not itemized (startup code, newlib, alignment)
    library: dict                 # libc / libgcc member table (libraries.library_table)
    library_names: list[str]      # external symbols the calibration build itself needed from the libraries


def calibration_model() -> bytes:
    """A one-layer int8 model (FULLY_CONNECTED 16 -> 4): just enough for a linked firmware."""
    from ..tflite import TFLiteBuilder

    rng = np.random.default_rng(0)
    b = TFLiteBuilder("flynet-tiny fit calibration")
    x = b.add_tensor("input", [1, 16], "int8", scale=0.02, zero_point=0)
    w = b.add_tensor("fc/w", [4, 16], "int8", data=rng.integers(-127, 128, (4, 16), dtype=np.int8), scale=0.01,
                     zero_point=0)
    bias = b.add_tensor("fc/b", [4], "int32", data=np.zeros(4, np.int32), scale=0.0002, zero_point=0)
    y = b.add_tensor("logits", [1, 4], "int8", scale=0.05, zero_point=0)
    b.add_operator("FULLY_CONNECTED", [x, w, bias], [y], {"fused_activation_function": "NONE"})
    b.set_io([x], [y])
    return b.build()


def _cache_key(target: Target, opt: str) -> str:
    firmware = firmware_dir()
    files = sorted([*(firmware / "kernels").rglob("*.[ch]"), *(firmware / "runtime").glob("*"),
                    *(firmware / "boards" / "common").glob("*"), *(firmware / "boards" / target.name).glob("*")])
    code = Path(__file__).resolve().parent
    # The code that measures and itemizes (not the report's): a change there recalibrates.
    measuring = [code / f"{name}.py" for name in ("calibration", "objects", "itemize", "libraries")]
    # The build's flags and layout (build/), and the ELF reading there, change the calibration too.
    files += [target.source, *sorted((PACKAGE_DIR / "build").glob("*.py")), *measuring]
    digest = hashlib.sha256(opt.encode())
    version = run_tool([find_toolchain().gcc, "--version"], timeout_s=INSPECT_TIMEOUT_S,
                       what="arm-none-eabi-gcc --version").stdout
    digest.update(version.encode())
    for path in files:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _compile_commands(build_dir: Path) -> dict[str, str]:
    """object stem (without the NN_ prefix) -> the compile command make runs for it."""
    proc = run_tool([find_toolchain().make, "-C", build_dir, "-n", "-B", "--no-print-directory", "all"],
                    timeout_s=INSPECT_TIMEOUT_S, what=f"make -n in {build_dir}")
    if proc.returncode != 0:
        raise FlynetError(f"make -n in {build_dir} failed: {(proc.stderr.strip().splitlines() or ['no output'])[0]}")
    commands = {}
    for line in proc.stdout.splitlines():
        words = shlex.split(line)
        if "-c" in words and "-o" in words:
            out = Path(words[words.index("-o") + 1])
            commands[out.stem.split("_", 1)[1]] = line
    return commands


def run_compile(command: str, cwd: Path) -> None:
    """Run one compile line of `make -n` (a plain command: no shell is involved)."""
    proc = run_tool(shlex.split(command), timeout_s=COMPILE_TIMEOUT_S, what="arm-none-eabi-gcc (fit estimate)", cwd=cwd)
    if proc.returncode != 0:
        first = next((l for l in proc.stderr.splitlines() if "error" in l), proc.stderr.strip()[:200])
        raise FlynetError(f"compiling for the fit estimate failed: {first}")


def load_calibration(target: Target, opt: str = "size", progress=lambda message: None) -> Calibration:
    """The board's calibration: from the cache, or measured now with a real build (seconds)."""
    if opt not in OPTS:
        raise FlynetError(f"unknown --opt {opt!r}: choose one of {', '.join(OPTS)}")
    folder = cache_dir("fit") / f"{target.name}-{opt}-{_cache_key(target, opt)}"
    data_file = folder / "calibration.json"
    if not data_file.is_file():
        progress(f"calibrating the fit estimate for {target.board} (-{'Os' if opt == 'size' else 'O2'}): "
                 "one real build, cached in " + str(folder))
        _calibrate(target, opt, folder)
    data = json.loads(data_file.read_text())
    return Calibration(target=target.name, opt=opt, folder=folder, **data)


def _calibrate(target: Target, opt: str, folder: Path) -> None:
    from ..build.from_tflite import build_from_tflite

    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        tflite = staging / "calibration.tflite"
        tflite.write_bytes(calibration_model())
        result = build_from_tflite(tflite, target, staging, opt=opt)
        commands = _compile_commands(staging)
        for stem, command in commands.items():
            if stem != WEIGHTS_OBJECT:  # same flags plus -fstack-usage: identical code, and a .su beside each object
                run_compile(f"{command} -fstack-usage", staging)
        model_object = next(p for p in (staging / "obj").glob("*.o") if p.stem.split("_", 1)[1] == MODEL_OBJECT)
        objects, kernels = [], []
        kernel_stems = {p.stem for p in firmware_dir("kernels").rglob("*.c")}
        for path in sorted((staging / "obj").glob("*.o")):
            stem = path.stem.split("_", 1)[1]
            if stem in (MODEL_OBJECT, WEIGHTS_OBJECT):
                continue
            parsed = parse_object(path)
            parsed["path"] = path.name  # relative: the cache folder may move
            objects.append(parsed)
            if stem in kernel_stems:
                kernels.append(path.name)
        linked = {name: usage.used for name, usage in result.region_usage.items()}
        library = library_table(target)
        model = parse_object(model_object)
        items, library_names = itemize(objects, kernels, target, model, staging / "model", n_inputs=1)
        rest = dict(linked)
        for item in items:
            rest[item.region] = rest.get(item.region, 0) - item.bytes
        data = {"objects": objects, "kernel_objects": kernels, "model_compile": commands[MODEL_OBJECT],
                "linked": linked, "rest": rest, "library": library, "library_names": sorted(library_names)}
        atomic_write_text(staging / "calibration.json", json.dumps(data))
        if folder.exists():  # another process calibrated meanwhile: keep theirs
            shutil.rmtree(staging, ignore_errors=True)
        else:
            staging.rename(folder)
        # Calibrations of older sources are never read again (a loaded one lives in memory).
        for stale in folder.parent.glob(f"{target.name}-{opt}-*"):
            if stale != folder and stale.is_dir():
                shutil.rmtree(stale, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
