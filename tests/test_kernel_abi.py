"""One description of the kernel ABI (flynet_tiny/codegen/kernel_abi.py) serves the C header, ctypes and the packer."""

import ctypes
import subprocess

from flynet_tiny.codegen.host_kernels import kernel_include_dir
from flynet_tiny.codegen.kernel_abi import ABI_HEADER, ENUMS, STRUCTS, ctypes_struct, render_header


def test_the_committed_header_is_the_rendered_one():
    committed = (kernel_include_dir() / ABI_HEADER).read_text()
    assert committed == render_header(), "stale header: run `python3 -m flynet_tiny.codegen.kernel_abi`"


def test_host_c_lays_out_every_struct_as_ctypes_does(tmp_path):
    """sizeof and offsetof of every field, and every enum value, printed by the host compiler from the
    header, against the ctypes structures the host binding uses."""
    prints = []
    expected = []
    for name in STRUCTS:
        prints.append(f'    printf("%zu\\n", sizeof({name}));')
        expected.append(ctypes.sizeof(ctypes_struct(name)))
        for field in STRUCTS[name].fields:
            prints.append(f'    printf("%zu\\n", offsetof({name}, {field.name}));')
            expected.append(getattr(ctypes_struct(name), field.name).offset)
    for enum in ENUMS.values():
        prints.append(f'    printf("%zu\\n", sizeof({enum.name}));')
        expected.append(4)
        for constant, value, _ in enum.values:
            prints.append(f'    printf("%d\\n", (int){constant});')
            expected.append(value)
    program = tmp_path / "layout.c"
    program.write_text("\n".join(['#include <stddef.h>', '#include <stdio.h>', '#include "flynet_kernels.h"',
                                  "int main(void)", "{", *prints, "    return 0;", "}", ""]))
    exe = tmp_path / "layout"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Werror", f"-I{kernel_include_dir()}", str(program), "-o", str(exe)],
                   check=True)
    printed = [int(v) for v in subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split()]
    assert printed == expected
