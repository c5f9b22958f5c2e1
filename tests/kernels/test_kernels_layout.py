"""The kernel tree's rules (docs/kernels.md, Files): unique stems, DSP code beside its op, the documented tree."""

import re
from pathlib import Path

from flynet_tiny.codegen.host_kernels import kernel_include_dir, kernel_sources

DOCS = Path(__file__).resolve().parents[2] / "docs" / "kernels.md"
INCLUDE = re.compile(r'^#include "([^"]+)"', re.M)


def kernel_files() -> list[Path]:
    root = kernel_include_dir()
    return sorted(p for p in root.rglob("*") if p.suffix in (".c", ".h"))


def test_source_stems_are_unique():
    # Builds name objects by stem (obj/NN_<stem>.o) and the code-size report sorts them by stem.
    stems = [p.stem for p in kernel_sources()]
    assert len(stems) == len(set(stems)), sorted(s for s in stems if stems.count(s) > 1)


def test_includes_stay_inside_the_tree():
    # Relative includes resolve from the including file, so kernels/ alone is on the include path.
    root = kernel_include_dir().resolve()
    for path in kernel_files():
        for name in INCLUDE.findall(path.read_text()):
            target = (path.parent / name).resolve()
            assert target.is_file() and root in target.parents, f"{path.relative_to(root)} includes {name}"


def test_each_dsp_header_serves_its_own_op():
    # <op>_s8_dsp.h holds what <op>_s8.c inlines: only that file includes it, and it sits beside it.
    root = kernel_include_dir()
    includers: dict[str, list[str]] = {}
    for path in kernel_files():
        for name in INCLUDE.findall(path.read_text()):
            includers.setdefault(Path(name).name, []).append(str(path.relative_to(root)))
    headers = [p for p in kernel_files() if p.name.endswith("_s8_dsp.h")]
    assert headers
    for header in headers:
        op_source = header.with_name(header.name.replace("_dsp.h", ".c"))
        assert op_source.is_file(), f"{header.name} has no {op_source.name} beside it"
        assert includers.get(header.name) == [str(op_source.relative_to(root))], header.name


def test_docs_list_every_kernel_file():
    text = DOCS.read_text()
    tree = text[text.index("```\nkernels/\n") + 4:]
    tree = tree[:tree.index("```")]
    listed, folder = set(), ""
    for line in tree.splitlines()[1:]:
        name = line.split()[0]
        if name.endswith("/"):
            folder = name
        else:
            listed.add(folder + name if line.startswith("    ") else name)
    on_disk = {str(p.relative_to(kernel_include_dir())) for p in kernel_files()}
    assert listed == on_disk
