"""Packed parameter structs: widened, each is byte for byte the struct the generator wrote."""

import subprocess

import numpy as np

from flynet_tiny.codegen.host_kernels import kernel_include_dir
from flynet_tiny.codegen.pack_params import pack_parameters, parse_fields


def conv_declarations(count: int) -> list[str]:
    """`count` distinct fn_conv_params objects: explicit padding on some (pads set), offsets up to 128
    (int16), and fields equal in all of them (dilation: not stored)."""
    rng = np.random.default_rng(0)
    lines = []
    for i in range(count):
        explicit = i % 2 == 0
        fields = {"stride_h": 1 + i % 2, "stride_w": 1 + i % 2, "dilation_h": 1, "dilation_w": 1,
                  "padding": "FN_PADDING_EXPLICIT" if explicit else "FN_PADDING_SAME",
                  "input_offset": 128 if i == 3 else int(rng.integers(-127, 128)),
                  "output_offset": int(rng.integers(-128, 128)), "act_min": -128, "act_max": int(rng.integers(0, 128)),
                  "depth_multiplier": 1 + i % 3}
        if explicit:
            fields.update(pad_top=1, pad_bottom=2, pad_left=i % 3, pad_right=1)
        lines.append(f"static const fn_conv_params conv_params_{i} = {{"
                     + ", ".join(f".{k} = {v}" for k, v in fields.items()) + "};")
    return lines


def test_nested_initializers_are_flattened():
    assert parse_fields("{.a = 1, .b = {.c = -2, .d = l3_kernel}, .e = FN_PADDING_SAME}") == {
        "a": "1", "b.c": "-2", "b.d": "l3_kernel", "e": "FN_PADDING_SAME"}


def test_widened_structs_equal_the_unpacked_ones(tmp_path):
    original = conv_declarations(12)
    bodies = [f"status = fn_conv2d_s8(&conv_params_{i}, NULL);" for i in range(12)]
    declarations, packed_bodies = pack_parameters(original, bodies)
    assert any(line.startswith("static const conv_params_packed conv_params_0 = ") for line in declarations)
    assert packed_bodies[5] == "status = fn_conv2d_s8(widen_conv_params(&conv_params_5), NULL);"
    checks = "\n".join(
        f"    failures += memcmp(widen_conv_params(&conv_params_{i}), &expected_{i}, sizeof(fn_conv_params)) != 0;"
        for i in range(12))
    expected = "\n".join(line.replace(f"conv_params_{i} =", f"expected_{i} =") for i, line in enumerate(original))
    program = tmp_path / "pack.c"
    program.write_text("\n".join([
        "#include <stdio.h>", "#include <string.h>", '#include "flynet_kernels.h"',
        *declarations, expected,
        "int main(void)", "{", "    int failures = 0;", checks, '    printf("%d\\n", failures);', "    return 0;", "}",
    ]))
    exe = tmp_path / "pack"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", f"-I{kernel_include_dir()}", str(program),
                    "-o", str(exe)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip() == "0"
