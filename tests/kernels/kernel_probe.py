"""Run the kernels on the Cortex-M builds in QEMU: SIMD vs portable identity, instruction counts.

A probe is a list of `ProbeCase`s. `build_probe` writes them as a C header next to
tests/kernels/probe/probe_main.c and builds one firmware (the DSP path, or the
portable C path with FN_PORTABLE_ONLY); `run_probe` runs it in QEMU and returns
each case's output bytes and instruction count. `host_inputs` regenerates the
firmware's LCG data so the host build can compute the same case.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.build.make import build_firmware
from flynet_tiny.errors import CheckFailed
from flynet_tiny.reporting import atomic_write_text
from flynet_tiny.sim.qemu import run_qemu
from flynet_tiny.codegen.host_kernels import kernel_include_dir, kernel_sources

PROBE_MAIN = Path(__file__).resolve().parent / "probe" / "probe_main.c"

KINDS = {"conv": "PROBE_CONV", "depthwise": "PROBE_DEPTHWISE", "mdw": "PROBE_MDW", "transpose": "PROBE_TRANSPOSE",
         "avgpool": "PROBE_AVGPOOL", "maxpool": "PROBE_MAXPOOL"}
POOLS = ("avgpool", "maxpool")
SCRATCH_WORDS = 2048


@dataclass(frozen=True)
class ProbeCase:
    name: str
    kind: str                      # conv | depthwise | mdw | transpose | avgpool | maxpool
    in_shape: tuple[int, int, int, int]
    kernel: int                    # filter height (and width, unless kernel_w)
    out_channels: int = 0          # conv and transpose only
    stride: int = 1
    stride_w: int = 0              # horizontal stride where it differs (0: `stride`)
    padding: str = "SAME"
    heads: int = 1                 # depthwise multiplier / MDW heads
    input_offset: int = 5
    output_offset: int = -3
    bias: bool = True              # False: the kernel gets no bias (NULL)
    kernel_w: int = 0              # filter width where it differs (0: `kernel`)
    dilation: int = 1
    dilation_w: int = 0            # horizontal dilation where it differs (0: `dilation`)
    act: tuple[int, int] = (-128, 127)

    @property
    def kernel_hw(self) -> tuple[int, int]:
        return self.kernel, self.kernel_w or self.kernel

    @property
    def dilations(self) -> tuple[int, int]:
        return self.dilation, self.dilation_w or self.dilation
    overlap: int | None = None     # the output starts this many bytes from the input, in one buffer

    @property
    def filter_shape(self) -> tuple[int, int, int, int]:
        c = self.in_shape[3]
        kh, kw = self.kernel_hw
        if self.kind in ("conv", "transpose"):
            return (self.out_channels, kh, kw, c)
        if self.kind in POOLS:
            return (1, kh, kw, 1)
        return (1, kh, kw, c * self.heads)

    @property
    def out_shape(self) -> tuple[int, int, int, int]:
        n, h, w, c = self.in_shape
        if self.kind == "transpose":  # TFLite's output size for the padding
            oh, ow = ((size * s if self.padding == "SAME" else (size - 1) * s + k)
                      for size, s, k in zip((h, w), self.strides, self.kernel_hw))
            return (n, oh, ow, self.out_channels)
        oh, _ = qp.conv_padding(self.padding, h, self.kernel_hw[0], self.stride, self.dilations[0])
        ow, _ = qp.conv_padding(self.padding, w, self.kernel_hw[1], self.strides[1], self.dilations[1])
        channels = {"conv": self.out_channels, "depthwise": c * self.heads, "mdw": c}.get(self.kind, c)
        return (n, oh, ow, channels)

    @property
    def strides(self) -> tuple[int, int]:
        return self.stride, self.stride_w or self.stride

    @property
    def quant_channels(self) -> int:
        """Requantized channels: biases, multipliers and shifts the case draws."""
        f = self.filter_shape
        return f[0] if self.kind in ("conv", "transpose") else f[3]

    @property
    def macs(self) -> int:
        """Multiply-accumulates of the layer (MDW: all h heads, as it computes them; transpose conv: the
        products TFLM's scatter adds into the output; pools: window taps)."""
        n, oh, ow, oc = self.out_shape
        kh, kw = self.kernel_hw
        c = self.in_shape[3]
        if self.kind == "conv":
            return n * oh * ow * oc * kh * kw * c
        if self.kind == "transpose":
            return int(np.prod(self.in_shape)) * kh * kw * oc
        if self.kind in POOLS:
            return n * oh * ow * oc * kh * kw
        return n * oh * ow * kh * kw * c * self.heads

    @property
    def shift(self) -> int:
        """A right shift that keeps outputs off the int8 rails for LCG data."""
        kh, kw = self.kernel_hw
        terms = kh * kw * (self.in_shape[3] if self.kind in ("conv", "transpose") else 1)
        if self.kind == "transpose":
            terms = max(1, terms // (self.strides[0] * self.strides[1]))
        return -max(1, round(math.log2(math.sqrt(terms) * 128 * 74 / 40)))


def _lcg(state: int, count: int) -> tuple[np.ndarray, int]:
    values = np.empty(count, dtype=np.uint32)
    for i in range(count):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        values[i] = state
    return values, state


def host_inputs(case: ProbeCase, seed: int) -> dict:
    """The data probe_main.c generates for `case` (same LCG, same order)."""
    x_count, w_count = int(np.prod(case.in_shape)), int(np.prod(case.filter_shape))
    channels = case.quant_channels
    values, state = _lcg(seed, x_count + w_count + 2 * channels)
    to_int8 = (values >> 24).astype(np.uint8).view(np.int8)
    x = to_int8[:x_count].reshape(case.in_shape)
    w = to_int8[x_count:x_count + w_count].reshape(case.filter_shape)
    tail = values[x_count + w_count:]
    bias = ((tail[0::2] >> 20).astype(np.int64) - 2048).astype(np.int32)
    multiplier = ((1 << 30) + (tail[1::2] >> 2).astype(np.int64)).astype(np.int32)
    return dict(x=x.copy(), w=w.copy(), bias=bias if case.bias else None, multiplier=multiplier,
                shift=np.full(channels, case.shift, dtype=np.int32))


def _shared_layout(case: ProbeCase) -> tuple[int, int]:
    """(input's start in the shared buffer, bytes the case uses there) for an overlapped case; the input
    starts 16-byte aligned, the output `overlap` bytes from it."""
    if case.overlap is None:
        return 0, 0
    start = (max(0, -case.overlap) + 15) // 16 * 16
    return start, start + max(int(np.prod(case.in_shape)), case.overlap + int(np.prod(case.out_shape)))


def host_output(kernels, case: ProbeCase, seed: int) -> bytes:
    """What the host build computes for `case` on the probe's data (separate input and output buffers)."""
    data = host_inputs(case, seed)
    if case.kind in ("avgpool", "maxpool"):
        pool = kernels.avgpool if case.kind == "avgpool" else kernels.maxpool
        return pool(data["x"], case.kernel_hw, case.strides, case.padding, case.act).tobytes()
    common = dict(multiplier=data["multiplier"], shift=data["shift"], stride=case.strides,
                  padding=case.padding, input_offset=case.input_offset, output_offset=case.output_offset,
                  act=case.act)
    if case.kind == "transpose":
        return kernels.transpose_conv2d(data["x"], data["w"], data["bias"], out_hw=case.out_shape[1:3],
                                        **common).tobytes()
    common["dilation"] = case.dilations
    if case.kind == "conv":
        y = kernels.conv2d(data["x"], data["w"], data["bias"], **common)
    elif case.kind == "depthwise":
        y = kernels.depthwise_conv2d(data["x"], data["w"], data["bias"], depth_multiplier=case.heads, **common)
    else:
        y = kernels.mdw_maxout(data["x"], data["w"], data["bias"], heads=case.heads, **common)
    return y.tobytes()


def render_cases_header(cases: Sequence[ProbeCase]) -> str:
    rows, max_in, max_w, max_out, max_c, max_shared = [], 1, 1, 1, 1, 16
    for i, case in enumerate(cases):
        n, h, w, c = case.in_shape
        f, o = case.filter_shape, case.out_shape
        max_in, max_w, max_out = max(max_in, n * h * w * c), max(max_w, int(np.prod(f))), max(max_out, int(np.prod(o)))
        input_at, used = _shared_layout(case)
        max_shared = max(max_shared, used)
        max_c = max(max_c, case.quant_channels)
        rows.append(
            f'    {{"{marker_name(case.name)}", {KINDS[case.kind]}, {i}, {probe_seed(i)}u, {n}, {h}, {w}, {c}, '
            f"{{{', '.join(map(str, f))}}}, {{{', '.join(map(str, o))}}}, {case.stride}, {case.strides[1]}, "
            f"{case.dilations[0]}, {case.dilations[1]}, "
            f"{'FN_PADDING_SAME' if case.padding == 'SAME' else 'FN_PADDING_VALID'}, {case.heads}, "
            f"{case.input_offset}, {case.output_offset}, {case.shift}, {int(case.bias)}, {case.act[0]}, {case.act[1]}, "
            f"{int(case.overlap is not None)}, {input_at}, {case.overlap or 0}}},"
        )
    return "\n".join([
        "/* Generated by tests/kernels/kernel_probe.py. */",
        "#ifndef PROBE_CASES_H", "#define PROBE_CASES_H", "", '#include "flynet_kernels.h"', "",
        "typedef enum { PROBE_CONV, PROBE_DEPTHWISE, PROBE_MDW, PROBE_TRANSPOSE, PROBE_AVGPOOL, PROBE_MAXPOOL } "
        "probe_kind;",
        "typedef struct {",
        "    const char *name; probe_kind kind; int32_t index; uint32_t seed;",
        "    int32_t n, h, w, c; fn_dims filter; fn_dims out; int32_t stride, stride_w, dilation, dilation_w;",
        "    fn_padding padding; int32_t heads, input_offset, output_offset, shift, has_bias, act_min, act_max;",
        "    int32_t overlapped, input_at, overlap; /* input and output in shared_buf, output at input + overlap */",
        "} probe_case;", "",
        f"#define PROBE_CASE_COUNT {len(cases)}",
        f"#define PROBE_MAX_INPUT {max_in}", f"#define PROBE_MAX_WEIGHTS {max_w}",
        f"#define PROBE_MAX_OUTPUT {max_out}", f"#define PROBE_MAX_CHANNELS {max_c}",
        f"#define PROBE_SCRATCH_WORDS {SCRATCH_WORDS}", f"#define PROBE_SHARED_BYTES {max_shared}", "",
        "static const probe_case probe_cases[PROBE_CASE_COUNT] = {", *rows, "};", "", "#endif", "",
    ])


def marker_name(name: str) -> str:
    """The runtime's layer markers take names without spaces."""
    return "".join(ch if ch.isalnum() or ch in "_-." else "_" for ch in name)


def probe_seed(index: int) -> int:
    return (2654435761 * (index + 1)) & 0xFFFFFFFF


def build_probe(out_dir: Path | str, target, cases: Sequence[ProbeCase], portable: bool):
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / "probe_cases.h", render_cases_header(cases))
    kernels = kernel_include_dir()
    sources = [*kernel_sources(), PROBE_MAIN]
    defines = ["FN_PORTABLE_ONLY"] if portable else []
    return build_firmware(out_dir, target, sources, [kernels, out_dir], opt="speed", emulation=True,
                          defines=defines)


@dataclass(frozen=True)
class ProbeRun:
    outputs: list[bytes]
    instructions: list[int]
    scratch_bytes: list[int]  # each kernel's *_get_buffer_size answer on the target build


def run_probe(elf: Path, target, cases: Sequence[ProbeCase], timeout_s: float = 300.0) -> ProbeRun:
    result = run_qemu(elf, target, timeout_s=timeout_s)
    if not result.ok:
        raise CheckFailed(f"kernel probe failed in QEMU: {result.console.strip()[-200:] or result.stderr[-200:]}")
    counts = result.instructions_per_marker
    if len(counts) != len(cases) or any(c is None for c in counts):
        raise CheckFailed(f"kernel probe counted {len(counts)} of {len(cases)} kernels")
    scratch = {int(i): int(n) for i, n in re.findall(r"^scratch (\d+) (-?\d+)$", result.console, re.M)}
    return ProbeRun([result.output(i) for i in range(len(cases))], [int(c) for c in counts],
                    [scratch.get(i, -1) for i in range(len(cases))])
