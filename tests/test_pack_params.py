"""Layer parameters at file scope: shared when equal, packed when worth it; each widened object is byte for
byte the struct the generator computed."""

import subprocess

import numpy as np

from flynet_tiny.codegen.host_kernels import kernel_include_dir
from flynet_tiny.codegen.layer_code import LayerCode, ParamObject, dims_object
from flynet_tiny.codegen.pack_params import pack_parameters, share_objects


def conv_layers(count: int) -> list[LayerCode]:
    """`count` layers with distinct fn_conv_params: explicit padding on some (pads set), offsets up to 128
    (int16), and fields equal in all of them (dilation: not stored)."""
    rng = np.random.default_rng(0)
    layers = []
    for i in range(count):
        explicit = i % 2 == 0
        fields = {"stride_h": 1 + i % 2, "stride_w": 1 + i % 2, "dilation_h": 1, "dilation_w": 1,
                  "padding": "FN_PADDING_EXPLICIT" if explicit else "FN_PADDING_SAME",
                  "input_offset": 128 if i == 3 else int(rng.integers(-127, 128)),
                  "output_offset": int(rng.integers(-128, 128)), "act_min": -128, "act_max": int(rng.integers(0, 128)),
                  "depth_multiplier": 1 + i % 3}
        if explicit:
            fields.update(pad_top=1, pad_bottom=2, pad_left=i % 3, pad_right=1)
        layers.append(LayerCode("", ["status = fn_conv2d_s8(&params, &in_dims);"],
                                objects=[ParamObject("params", "fn_conv_params", fields),
                                         dims_object("in_dims", (1, 8, 8, 4 + i % 2))]))
    return layers


def test_equal_objects_are_shared_and_counted():
    shared = share_objects(conv_layers(4) + conv_layers(1))  # the fifth layer repeats the first's parameters
    assert list(shared.objects) == ["conv_params_0", "dims_1x8x8x4", "conv_params_1", "dims_1x8x8x5",
                                    "conv_params_2", "conv_params_3"]
    assert shared.names[4] == {"params": "conv_params_0", "in_dims": "dims_1x8x8x4"}
    assert shared.uses["conv_params_0"] == 2 and shared.uses["dims_1x8x8x4"] == 3


def test_few_objects_stay_unpacked():
    declarations, references = pack_parameters(share_objects(conv_layers(2)))
    assert references["conv_params_1"] == "&conv_params_1"
    assert declarations[0].startswith("static const fn_conv_params conv_params_0 = {.stride_h = 1, .stride_w = 1, ")


def test_widened_structs_equal_the_unpacked_ones(tmp_path):
    layers = conv_layers(12)
    shared = share_objects(layers)
    declarations, references = pack_parameters(shared)
    assert any(line.startswith("static const conv_params_packed conv_params_0 = ") for line in declarations)
    assert references["conv_params_5"] == "widen_conv_params(&conv_params_5)"
    assert references["dims_1x8x8x4"] == "&dims_1x8x8x4"
    checks = "\n".join(
        f"    failures += memcmp({references[f'conv_params_{i}']}, &expected_{i}, sizeof(fn_conv_params)) != 0;"
        for i in range(12))
    expected = "\n".join(f"static const fn_conv_params expected_{i} = {layer.objects[0].initializer};"
                         for i, layer in enumerate(layers))
    program = tmp_path / "pack.c"
    program.write_text("\n".join([
        "#include <stdio.h>", "#include <string.h>", '#include "flynet_kernels.h"',
        *declarations, expected,
        "int main(void)", "{", "    int failures = 0;", checks, '    printf("%d\\n", failures);', "    return 0;", "}",
    ]))
    exe = tmp_path / "pack"
    subprocess.run(["gcc", "-std=c99", "-Wall", "-Wextra", "-Werror", "-Wno-unused-variable",
                    f"-I{kernel_include_dir()}", str(program), "-o", str(exe)], check=True)
    assert subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.strip() == "0"
