"""Cortex-M builds: -Werror on both cores, and SIMD vs portable C identical in QEMU (and equal to the host)."""

import subprocess

import numpy as np
import pytest

from flynet_tiny.codegen.host_kernels import kernel_include_dir, kernel_sources
from flynet_tiny.codegen.layer_code import ScratchQuery
from kernel_probe import ProbeCase, build_probe, host_output, probe_seed, run_probe
from flynet_tiny.codegen.scratch import scratch_bytes
from flynet_tiny.targets import load_target

KERNEL_FUNCTIONS = {"conv": "fn_conv2d_s8", "depthwise": "fn_depthwise_conv2d_s8", "mdw": "fn_mdw_maxout_s8",
                    "transpose": "fn_transpose_conv2d_s8"}
CORES = {
    "cortex-m4": ["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard"],
    "cortex-m7": ["-mcpu=cortex-m7", "-mfpu=fpv5-d16", "-mfloat-abi=hard"],
}

# Odd channel counts and sizes, both strides, every kernel with a DSP path.
CASES = [
    ProbeCase("conv1x1", "conv", (1, 6, 5, 12), 1, out_channels=10),
    ProbeCase("conv1x1_odd", "conv", (1, 3, 3, 7), 1, out_channels=5, stride=2),
    ProbeCase("conv3x3_s2", "conv", (1, 7, 9, 3), 3, out_channels=5, stride=2),
    ProbeCase("conv1x1_k3", "conv", (1, 5, 3, 3), 1, out_channels=6),  # K < 4: no whole group of weights
    ProbeCase("conv3x3_c8", "conv", (1, 5, 6, 8), 3, out_channels=3),  # word-wise im2col next to padding
    # 1x1 tiles of 2 channels x 3 pixels (conv/conv2d_1x1_s8_dsp.c; "conv1x1" above takes them too, in 2 blocks):
    # K tails, odd channel counts, 1 or 2 pixels left over, stride 2 (tiles across rows), K > 96 (the
    # looped kernel), the smallest map with room for 2 tiles, a full last block with a pixel left (2 blocks
    # of 8 tiles + 1 pixel), no bias, 2 images; then 1x1 convs that keep the 4-pixel block (one pixel, one
    # channel; "conv1x1_odd", "conv1x1_k3" above: no room for 2 tiles).
    ProbeCase("conv1x1_tiles_k22", "conv", (1, 5, 8, 22), 1, out_channels=9),
    ProbeCase("conv1x1_tiles_k37_s2", "conv", (1, 7, 9, 37), 1, out_channels=6, stride=2),
    ProbeCase("conv1x1_tiles_s2", "conv", (1, 8, 9, 16), 1, out_channels=7, stride=2),
    ProbeCase("conv1x1_tiles_k100", "conv", (1, 5, 8, 100), 1, out_channels=3),
    ProbeCase("conv1x1_tiles_two", "conv", (1, 3, 4, 8), 1, out_channels=2),
    ProbeCase("conv1x1_tiles_full_last", "conv", (1, 7, 7, 16), 1, out_channels=6),
    ProbeCase("conv1x1_tiles_no_bias", "conv", (1, 4, 6, 16), 1, out_channels=5, bias=False),
    ProbeCase("conv1x1_tiles_batch2_s2", "conv", (2, 5, 6, 12), 1, out_channels=4, stride=2),
    ProbeCase("conv1x1_1x1map", "conv", (1, 1, 1, 16), 1, out_channels=4),
    ProbeCase("conv1x1_one_channel", "conv", (1, 4, 4, 8), 1, out_channels=1),
    ProbeCase("dw3x3", "depthwise", (1, 7, 6, 10), 3, heads=1),
    ProbeCase("dw3x3_h2_s2", "depthwise", (1, 6, 7, 5), 3, heads=2, stride=2),
    ProbeCase("dw5x5_valid", "depthwise", (1, 8, 8, 9), 5, padding="VALID"),
    ProbeCase("mdw_h3", "mdw", (1, 5, 5, 7), 3, heads=3, stride=2),
    ProbeCase("mdw_h3_s1", "mdw", (1, 19, 5, 9), 3, heads=3),  # two bands of rows (the second odd), odd width
    ProbeCase("dw3x3_valid", "depthwise", (1, 6, 9, 12), 3, padding="VALID"),
    ProbeCase("dw3x3_one_column", "depthwise", (1, 4, 1, 5), 3),
    ProbeCase("mdw_h4_1x1map", "mdw", (1, 1, 1, 6), 3, heads=4),
    ProbeCase("dw3x3_wide", "depthwise", (1, 3, 60, 5), 3),  # pitch 128: one plane, not 4
    ProbeCase("dw3x3_c3", "depthwise", (1, 5, 6, 3), 3),  # fewer than 4 channels: one plane
    # Maps large enough for 4 planes (4 channels copied at once), 2 channels left for one plane.
    ProbeCase("dw3x3_4planes", "depthwise", (1, 4, 8, 54), 3),
    ProbeCase("mdw_h3_s2_4planes", "mdw", (1, 5, 8, 46), 3, heads=3, stride=2),
    # 3x3 bands: two bands whose zero rows are filled again (4 planes, 2 channels left; stride 2 with a
    # 4-row band), 4-channel copies with 3 pixels left per row, more heads than the set-up cache keeps
    # (prepared again per band), odd stride-2 output sizes, two images.
    ProbeCase("dw3x3_two_bands_4planes", "depthwise", (1, 20, 6, 30), 3),
    ProbeCase("mdw_h3_s2_two_bands", "mdw", (1, 19, 8, 9), 3, heads=3, stride=2),
    ProbeCase("dw3x3_4planes_w7", "depthwise", (1, 6, 7, 48), 3),
    ProbeCase("mdw_h5_uncached_bands", "mdw", (1, 19, 4, 48), 3, heads=5),
    ProbeCase("dw3x3_s2_odd_out", "depthwise", (1, 9, 10, 7), 3, stride=2),
    ProbeCase("dw3x3_h2_batch2", "depthwise", (2, 5, 6, 8), 3, heads=2),
    # Every 2-row kernel (pitch 16 for maps up to 8 wide, 32, 64, 128, 256; both strides; MDW's first
    # head stores, the others keep the max).
    ProbeCase("mdw_h2_p32", "mdw", (1, 6, 12, 6), 3, heads=2),
    ProbeCase("mdw_h3_s2_p32", "mdw", (1, 7, 12, 5), 3, heads=3, stride=2),
    ProbeCase("mdw_h2_p64", "mdw", (1, 4, 30, 3), 3, heads=2),
    ProbeCase("mdw_h2_s2_p64", "mdw", (1, 5, 40, 3), 3, heads=2, stride=2),
    ProbeCase("mdw_h2_p128", "mdw", (1, 3, 60, 2), 3, heads=2),
    ProbeCase("mdw_h2_s2_p128", "mdw", (1, 5, 100, 2), 3, heads=2, stride=2),
    ProbeCase("mdw_h2_p256", "mdw", (1, 3, 130, 2), 3, heads=2),
    ProbeCase("mdw_h2_s2_p256", "mdw", (1, 4, 200, 2), 3, heads=2, stride=2),
    # Unequal strides: C over the planes, rows stride_h and pixels stride_w apart.
    ProbeCase("dw3x3_stride_2x1", "depthwise", (1, 7, 9, 10), 3, stride=2, stride_w=1),
    ProbeCase("mdw_h2_stride_1x2", "mdw", (1, 6, 11, 8), 3, heads=2, stride=1, stride_w=2),
    # One 2-row kernel call per head covers a group's 4 channels: depthwise heads > 1 on 4 planes (output
    # steps of `heads`), odd sizes (4 calls per band), channels left for one plane.
    ProbeCase("dw3x3_h2_4planes_odd", "depthwise", (1, 9, 7, 42), 3, heads=2),
    ProbeCase("dw3x3_h3_s2_4planes", "depthwise", (1, 9, 9, 30), 3, heads=3, stride=2),
    ProbeCase("dw3x3_no_bias_4planes", "depthwise", (1, 6, 8, 24), 3, bias=False),  # set-up with bias 0
    # The column kernels (an odd width's last pixel; the pitch in a register) at pitches 64 and 128, with
    # odd bands (the last pixel of the last two rows) and MDW's running max.
    ProbeCase("mdw_h2_s2_p64_odd_width", "mdw", (1, 7, 37, 3), 3, heads=2, stride=2),
    ProbeCase("mdw_h3_p128_odd_sizes", "mdw", (1, 5, 61, 2), 3, heads=3),
    # The row kernels (an odd band's last row) at stride 2 on pitches 64 and 128.
    ProbeCase("dw3x3_s2_p64_odd_rows", "depthwise", (1, 9, 40, 3), 3, stride=2),
    ProbeCase("mdw_h2_s2_p128_odd_sizes", "mdw", (1, 9, 70, 2), 3, heads=2, stride=2),
    # 4-channel copies whose last group overlaps (W mod 4 = 1 and 2), VALID padding with odd output sizes.
    ProbeCase("dw3x3_valid_odd_4planes", "depthwise", (1, 9, 9, 30), 3, padding="VALID"),
    ProbeCase("dw3x3_w10_4planes", "depthwise", (1, 6, 10, 44), 3),
    # 5x5 over the planes: pixel pairs and an odd width's last pixel at both strides, heads 1..5 (MDW's
    # running max), 4 planes with channels left over, two bands, VALID, no bias; 1x1 maps (under 16 output
    # pixels: the per-pixel path, the planes' scratch still reserved).
    ProbeCase("dw5x5_odd_4planes", "depthwise", (1, 9, 7, 90), 5),  # 3 more planes within an eighth of the map
    ProbeCase("dw5x5_h2_s2", "depthwise", (1, 9, 11, 6), 5, heads=2, stride=2),
    ProbeCase("mdw5x5_h3_s2_4planes", "mdw", (1, 16, 16, 58), 5, heads=3, stride=2),
    ProbeCase("dw5x5_h4_two_bands", "depthwise", (1, 17, 5, 4), 5, heads=4),
    ProbeCase("dw5x5_plane_over_map", "depthwise", (1, 16, 16, 2), 5, heads=3),  # per-pixel path, no scratch
    ProbeCase("mdw5x5_h5", "mdw", (1, 5, 6, 7), 5, heads=5),
    ProbeCase("dw5x5_s2_valid_no_bias", "depthwise", (1, 13, 12, 13), 5, stride=2, padding="VALID", bias=False),
    ProbeCase("dw5x5_1x1", "depthwise", (1, 1, 1, 5), 5, heads=3),
    ProbeCase("dw5x5_s2_1x1", "depthwise", (1, 1, 1, 6), 5, stride=2),
    ProbeCase("dw5x5_stride_2x1_p64", "depthwise", (1, 6, 33, 5), 5, stride=2, stride_w=1),
    # 3x3 assembly rows with a narrowed range (clamped over the output afterwards): 4 planes with odd sizes,
    # MDW's running max, unequal strides (C rows, clamping themselves).
    ProbeCase("dw3x3_4planes_relu6", "depthwise", (1, 9, 7, 20), 3, act=(-3, 100)),
    ProbeCase("mdw_h3_s2_relu", "mdw", (1, 9, 11, 6), 3, heads=3, stride=2, act=(0, 127)),
    ProbeCase("dw3x3_h2_s2x1_relu6", "depthwise", (1, 7, 9, 5), 3, heads=2, stride=2, stride_w=1, act=(-60, 50)),
    # Issue 13's parameter families: dilation, strides 3 / 4, non-square, H x 1 and 1 x N filters (convs with
    # 1 and 3 input channels: DS-CNN's 10x4 stem, RGB stems), depth multipliers past the plane paths' 16,
    # micro_speech's 10x8 stride-2 depthwise on one channel with 8 heads, the audio CNN's 9x1 / 5x1.
    ProbeCase("conv3x3_dilated_2x3", "conv", (1, 9, 10, 5), 3, out_channels=4, dilation=2, dilation_w=3),
    ProbeCase("conv5x5_s3", "conv", (1, 11, 13, 4), 5, out_channels=6, stride=3),
    ProbeCase("conv4x4_s4_valid_rgb", "conv", (1, 12, 12, 3), 4, out_channels=16, stride=4, padding="VALID"),
    ProbeCase("conv10x4_s2_c1", "conv", (1, 49, 10, 1), 10, kernel_w=4, out_channels=8, stride=2),
    ProbeCase("conv1x5_s1x2", "conv", (1, 6, 20, 3), 1, kernel_w=5, out_channels=6, stride_w=2),
    ProbeCase("conv3x3_s2_rgb_stem", "conv", (1, 16, 16, 3), 3, out_channels=16, stride=2),
    ProbeCase("conv3x3_s1_rgb_relu", "conv", (1, 9, 7, 3), 3, out_channels=8, act=(-20, 127)),
    # Narrowed activation ranges after the assembly paths (a 4-lane clamp over what they wrote): the 4-pixel
    # block (padded weight rows, whole groups) and the 1x1 tiles.
    ProbeCase("conv3x3_c8_relu6", "conv", (1, 6, 7, 8), 3, out_channels=5, act=(-100, 30)),
    ProbeCase("conv3x3_rgb_s2_relu6", "conv", (1, 11, 10, 3), 3, out_channels=6, stride=2, act=(-60, 70)),
    ProbeCase("conv1x1_tiles_relu6", "conv", (1, 8, 8, 16), 1, out_channels=7, act=(-40, 60)),
    ProbeCase("dw10x8_s2_h8_c1", "depthwise", (1, 49, 40, 1), 10, kernel_w=8, heads=8, stride=2),
    ProbeCase("dw9x1_s2", "depthwise", (1, 49, 1, 32), 9, kernel_w=1, stride=2),
    ProbeCase("dw5x1_s1_relu", "depthwise", (1, 25, 1, 48), 5, kernel_w=1, act=(-40, 127)),
    ProbeCase("dw3x3_s3_dilated", "depthwise", (1, 10, 11, 8), 3, stride=3, dilation=2, dilation_w=3),
    ProbeCase("dw3x3_h20", "depthwise", (1, 5, 5, 2), 3, heads=20),
    ProbeCase("mdw5x3_h2", "mdw", (1, 7, 8, 6), 5, kernel_w=3, heads=2),
    ProbeCase("dw1x7_valid_s4", "depthwise", (1, 3, 30, 12), 1, kernel_w=7, stride=4, padding="VALID"),
    # The line planes (k x 1 / 1 x k, one head): every assembly kernel (k = 2..4, 5, 6..8, 9) and the C one
    # (k > 9), strides 1..3, k x 1 on maps wider than 1 (a line per column), channels past the last 4, a narrowed
    # range, no bias, two images; the conv route of one-channel depthwise layers with 4 or more heads.
    ProbeCase("dw3x1_s1_c6", "depthwise", (1, 7, 3, 6), 3, kernel_w=1),
    ProbeCase("dw1x5_s2_relu", "depthwise", (1, 2, 17, 9), 1, kernel_w=5, stride_w=2, act=(-30, 127)),
    ProbeCase("dw7x1_s3_valid", "depthwise", (1, 23, 2, 8), 7, kernel_w=1, stride=3, padding="VALID"),
    ProbeCase("dw9x1_s1_no_bias", "depthwise", (2, 12, 1, 5), 9, kernel_w=1, bias=False),
    ProbeCase("dw12x1_s2", "depthwise", (1, 30, 1, 4), 12, kernel_w=1, stride=2),
    ProbeCase("dw2x1_s1_c1", "depthwise", (1, 5, 4, 1), 2, kernel_w=1),
    ProbeCase("dw3x3_h6_c1_conv_route", "depthwise", (1, 9, 8, 1), 3, heads=6, stride=2, act=(-50, 40)),
    # TRANSPOSE_CONV: SAME / VALID, unequal strides, an odd output channel count, no bias.
    ProbeCase("tconv3x3_s2", "transpose", (1, 8, 8, 16), 3, out_channels=8, stride=2),
    ProbeCase("tconv3x2_s2x3_valid", "transpose", (1, 4, 5, 5), 3, kernel_w=2, out_channels=7, stride=2,
              stride_w=3, padding="VALID"),
    ProbeCase("tconv4x4_s2_no_bias", "transpose", (1, 3, 3, 6), 4, out_channels=5, stride=2, bias=False),
    # Pools: global average pools (ResNet-8's 8x8, VWW's 3x3, DS-CNN's 24x5 on 25x5), strides 3 / 4 with SAME
    # overhangs, a narrowed range.
    ProbeCase("avgpool_global_8x8x64", "avgpool", (1, 8, 8, 64), 8, stride=8, padding="VALID"),
    ProbeCase("avgpool_global_3x3x256", "avgpool", (1, 3, 3, 256), 3, stride=3, padding="VALID"),
    ProbeCase("avgpool_24x5_on_25x5x64", "avgpool", (1, 25, 5, 64), 24, kernel_w=5, stride=24, stride_w=5,
              padding="VALID"),
    ProbeCase("avgpool_global_7x7x13", "avgpool", (1, 7, 7, 13), 7, stride=7, padding="VALID"),
    ProbeCase("avgpool_4x4_s4_same", "avgpool", (1, 15, 15, 16), 4, stride=4),
    ProbeCase("avgpool_2x2_s2_relu", "avgpool", (2, 6, 7, 5), 2, stride=2, padding="VALID", act=(-10, 100)),
    ProbeCase("maxpool_4x4_s3_same", "maxpool", (1, 15, 15, 16), 4, stride=3),
    ProbeCase("maxpool_3x3_s3_valid", "maxpool", (1, 24, 24, 16), 3, stride=3, padding="VALID"),
    # 8 channels per pass then 4 then single ones, clamps, and a window of more than 256 taps (int32 sums).
    ProbeCase("avgpool_3x3_s1_c13_relu6", "avgpool", (1, 6, 5, 13), 3, act=(-20, 90)),
    ProbeCase("maxpool_2x3_s1x2_c12_relu", "maxpool", (1, 7, 9, 12), 2, kernel_w=3, stride_w=2, act=(0, 127)),
    ProbeCase("avgpool_global_17x17x8", "avgpool", (1, 17, 17, 8), 17, stride=17, padding="VALID"),
]


@pytest.mark.parametrize("portable", [False, True], ids=["dsp", "portable"])
@pytest.mark.parametrize("core", sorted(CORES))
def test_kernels_compile_warning_free_for_cortex_m(tmp_path, core, portable):
    flags = ["-mthumb", *CORES[core], "-std=c99", "-O2", "-Wall", "-Wextra", "-Werror", "-I", str(kernel_include_dir())]
    if portable:
        flags.append("-DFN_PORTABLE_ONLY")
    result = subprocess.run(["arm-none-eabi-gcc", *flags, "-c", *map(str, kernel_sources())], cwd=tmp_path,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(list(tmp_path.glob("*.o"))) == len(kernel_sources())


def test_simd_and_portable_paths_are_identical_in_qemu(kernels, tmp_path):
    expected = [host_output(kernels, case, probe_seed(i)) for i, case in enumerate(CASES)]
    assert len({e for e in expected}) == len(CASES)  # the cases really differ
    runs = {}
    for target_name, portable in [("f446re", False), ("f446re", True), ("f746zg", False)]:
        target = load_target(target_name)
        build = build_probe(tmp_path / f"{target_name}_{portable}", target, CASES, portable)
        runs[(target_name, portable)] = run_probe(build.elf, target, CASES)
    for key, run in runs.items():
        for i, case in enumerate(CASES):
            mismatching = int(np.count_nonzero(np.frombuffer(run.outputs[i], np.int8) !=
                                               np.frombuffer(expected[i], np.int8)))
            assert mismatching == 0, f"{key} {case.name}"
    # The DSP build really runs a different instruction stream for the SIMD kernels.
    assert runs[("f446re", False)].instructions[0] < runs[("f446re", True)].instructions[0]
    # The scratch the code generator plans (scratch.py mirrors the DSP formulas) is what the target asks for.
    planned = [scratch_bytes(ScratchQuery(f"{KERNEL_FUNCTIONS[case.kind]}_get_buffer_size",
                                          (case.in_shape, case.filter_shape), ""))
               if case.kind in KERNEL_FUNCTIONS else 0 for case in CASES]
    assert runs[("f446re", False)].scratch_bytes == planned
    assert runs[("f746zg", False)].scratch_bytes == planned
