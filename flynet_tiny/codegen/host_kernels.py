"""Host build of firmware/kernels (the machine's gcc) and a ctypes binding over numpy arrays.

    from flynet_tiny.codegen.host_kernels import HostKernels
    k = HostKernels()                          # portable C path, -O2
    y = k.conv2d(x, w, bias, multiplier=m, shift=s, padding="SAME", stride=(2, 2),
                 input_offset=-x_zp, output_offset=y_zp)

Arrays are int8 NHWC (4-D) unless a method says otherwise. A kernel's error
status becomes `KernelError` naming the status (e.g. FN_ERR_UNSUPPORTED). Methods
that take `out=` write into that array (a contiguous int8 view, which may share
memory with the input: tests/kernels/test_kernels_overlap.py) and return it.
`build_host_library(sanitize=True)` builds with -fsanitize=address,undefined;
such a library loads only into a process started with the sanitizer runtime
preloaded (`sanitizer_env()`), so tests run it in a child process.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import FlynetError
from ..processes import COMPILE_TIMEOUT_S, INSPECT_TIMEOUT_S, run_tool
from ..resources import cache_dir, firmware_dir
from ..int8 import kernel_params as qp
from .kernel_abi import ENUMS, ctypes_struct, enum_value

STATUS_NAMES = {value: name for name, value, _ in ENUMS["fn_status"].values}
BASE_FLAGS = ["-std=c99", "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Werror"]
SANITIZE_FLAGS = ["-fsanitize=address,undefined", "-fno-sanitize-recover=undefined", "-fno-omit-frame-pointer", "-g"]


class KernelError(FlynetError):
    """A kernel returned an error status."""

    def __init__(self, kernel: str, status: int):
        self.kernel = kernel
        self.status = STATUS_NAMES.get(status, f"status {status}")
        super().__init__(f"kernel {kernel} returned {self.status}")


def kernel_sources() -> list[Path]:
    """Every kernel source; the probe firmware under tests/ is not part of the library."""
    return sorted(firmware_dir("kernels").rglob("*.c"))


def kernel_include_dir() -> Path:
    return firmware_dir("kernels")


def build_host_library(sanitize: bool = False, out_dir: Path | None = None) -> Path:
    """Compile the kernels into a shared library; rebuilt only when sources or flags change."""
    sources = kernel_sources()
    headers = sorted(kernel_include_dir().rglob("*.h"))
    flags = BASE_FLAGS + (SANITIZE_FLAGS if sanitize else [])
    digest = hashlib.sha256(" ".join(flags).encode())
    for path in sources + headers:
        digest.update(str(path.relative_to(kernel_include_dir())).encode())
        digest.update(path.read_bytes())
    out_dir = Path(out_dir) if out_dir else cache_dir("host_kernels")
    out_dir.mkdir(parents=True, exist_ok=True)
    library = out_dir / f"libflynet_kernels_{'asan_' if sanitize else ''}{digest.hexdigest()[:16]}.so"
    if not library.exists():
        compile_shared_library([*flags, "-I", str(kernel_include_dir()), *map(str, sources)], library,
                               "host build of the kernels")
    return library


def compile_shared_library(gcc_arguments: Sequence[str], library: Path, what: str) -> None:
    """Host gcc into a temporary file beside `library`, renamed into place only when it compiled."""
    fd, tmp = tempfile.mkstemp(dir=library.parent, suffix=".so.tmp")
    os.close(fd)
    try:
        result = run_tool(["gcc", *gcc_arguments, "-o", tmp], timeout_s=COMPILE_TIMEOUT_S, what=f"host gcc ({what})")
        if result.returncode != 0:
            first = (result.stderr.strip().splitlines() or ["no compiler output"])[0]
            raise FlynetError(f"{what} failed: {first}")
        os.replace(tmp, library)
    finally:
        Path(tmp).unlink(missing_ok=True)


def sanitizer_env() -> dict[str, str]:
    """Environment for a child process that loads the sanitized library."""
    def runtime(name: str) -> str:
        return run_tool(["gcc", f"-print-file-name={name}"], timeout_s=INSPECT_TIMEOUT_S,
                        what="gcc -print-file-name").stdout.strip()

    env = dict(os.environ)
    env["LD_PRELOAD"] = f"{runtime('libasan.so')}:{runtime('libubsan.so')}"
    env["ASAN_OPTIONS"] = "detect_leaks=0:abort_on_error=0:exitcode=86"
    env["UBSAN_OPTIONS"] = "halt_on_error=1:exitcode=87:print_stacktrace=1"
    return env


# ---- C structs: from the one ABI description ------------------------------

_i32 = ctypes.c_int32
Dims = ctypes_struct("fn_dims")
ConvParams = ctypes_struct("fn_conv_params")
FcParams = ctypes_struct("fn_fc_params")
FcPairsParams = ctypes_struct("fn_fc_pairs_params")
AddParams = ctypes_struct("fn_add_params")
MulParams = ctypes_struct("fn_mul_params")
HardSwishParams = ctypes_struct("fn_hard_swish_params")
LogisticParams = ctypes_struct("fn_logistic_params")
SoftmaxParams = ctypes_struct("fn_softmax_params")
PoolParams = ctypes_struct("fn_pool_params")
MeanParams = ctypes_struct("fn_mean_params")
ReluParams = ctypes_struct("fn_relu_params")
LeakyReluParams = ctypes_struct("fn_leaky_relu_params")
PreluParams = ctypes_struct("fn_prelu_params")
ChannelQuant = ctypes_struct("fn_channel_quant")
EcaParams = ctypes_struct("fn_eca_params")
RequantizeParams = ctypes_struct("fn_requantize_params")
ShiftMaxParams = ctypes_struct("fn_shift_max_params")


PADDING = {name: enum_value("fn_padding", f"FN_PADDING_{name}") for name in ("VALID", "SAME", "EXPLICIT")}


def dims4(shape: Sequence[int]) -> Dims:
    shape = tuple(int(s) for s in shape)
    if len(shape) > 4:
        raise ValueError(f"shape {shape} has more than 4 dimensions")
    shape = (1,) * (4 - len(shape)) + shape
    return Dims(*shape)


def _ptr(array: np.ndarray | None, ctype=ctypes.c_int8):
    if array is None:
        return None
    return array.ctypes.data_as(ctypes.POINTER(ctype))


def _int8(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    if array.dtype != np.int8:
        raise ValueError(f"expected int8 data, got {array.dtype}")
    return array


def _output(out: np.ndarray | None, shape) -> np.ndarray:
    """A new zeroed output, or the caller's `out` (checked: its bytes are written in place)."""
    shape = tuple(int(s) for s in shape)
    if out is None:
        return np.zeros(shape, dtype=np.int8)
    if out.dtype != np.int8 or tuple(out.shape) != shape or not out.flags.c_contiguous:
        raise ValueError(f"out must be a contiguous int8 array of shape {shape}, got {out.dtype} {out.shape}")
    return out


def _int32(array) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(array, dtype=np.int32))


def table_inputs() -> np.ndarray:
    """Every int8 value, -128 to 127: what a lookup table is computed on."""
    return np.arange(-128, 128, dtype=np.int16).astype(np.int8)


def trimmed_table(values: np.ndarray) -> tuple[int, int, np.ndarray]:
    """(lo, hi, table) for fn_lut_s8 from a function's values on `table_inputs()`: the runs of equal
    values at either end are left to the kernel's clamp, so the table holds only lo..hi."""
    values = _int8(values)
    if values.shape != (256,):
        raise ValueError(f"a function of int8 has 256 values, got shape {values.shape}")
    changes = np.flatnonzero(values[1:] != values[:-1])  # i: values[i] != values[i + 1]
    first, last = (int(changes[0]), int(changes[-1]) + 1) if changes.size else (0, 0)
    return first - 128, last - 128, values[first:last + 1].copy()


@functools.lru_cache(maxsize=1)
def shared_kernels() -> "HostKernels":
    """One loaded library per process for the code generator (lookup tables, scratch sizes)."""
    return HostKernels()


class HostKernels:
    """The kernel library loaded into this process (portable C path on the host)."""

    def __init__(self, library: Path | None = None):
        self.path = Path(library) if library else build_host_library()
        self.lib = ctypes.CDLL(str(self.path))
        for name in ("fn_conv2d_s8_get_buffer_size", "fn_depthwise_conv2d_s8_get_buffer_size",
                     "fn_mdw_maxout_s8_get_buffer_size", "fn_eca_s8_get_buffer_size",
                     "fn_transpose_conv2d_s8_get_buffer_size", "fn_group_conv2d_s8_get_buffer_size",
                     "fn_shift_max_s8_get_buffer_size"):
            getattr(self.lib, name).restype = _i32
        self.lib.fn_status_name.restype = ctypes.c_char_p
        self.lib.fn_multiply_by_quantized_multiplier.restype = _i32
        self.lib.fn_multiply_by_quantized_multiplier.argtypes = [_i32, _i32, _i32]
        # float arguments: without argtypes ctypes would pass a double
        float_p, int8_p = ctypes.POINTER(ctypes.c_float), ctypes.POINTER(ctypes.c_int8)
        self.lib.fn_quantize_f32_s8.argtypes = [ctypes.c_float, _i32, _i32, float_p, int8_p]
        self.lib.fn_dequantize_s8_f32.argtypes = [ctypes.c_float, _i32, _i32, int8_p, float_p]

    def _check(self, kernel: str, status: int) -> None:
        if status != 0:
            raise KernelError(kernel, status)

    def multiply_by_quantized_multiplier(self, x: int, multiplier: int, shift: int) -> int:
        return int(self.lib.fn_multiply_by_quantized_multiplier(x, multiplier, shift))

    def status_name(self, status: int) -> str:
        return self.lib.fn_status_name(status).decode()

    # -- convolutions ---------------------------------------------------------
    def _conv_like(self, function: str, x, w, bias, multiplier, shift, stride, dilation, padding, input_offset,
                   output_offset, act, depth_multiplier, out_channels, out=None):
        """`padding`: "SAME", "VALID", or explicit (top, bottom, left, right) rows / columns of zero points."""
        x, w = _int8(x), _int8(w)
        n, h, wd, _ = x.shape
        pads = (0, 0, 0, 0)
        if not isinstance(padding, str):
            pads, padding = tuple(int(p) for p in padding), "EXPLICIT"
            h, wd = h + pads[0] + pads[1], wd + pads[2] + pads[3]
        # The output buffer's size; the kernel itself refuses strides and dilations below 1.
        sizing = "VALID" if padding == "EXPLICIT" else padding
        out_h, _ = qp.conv_padding(sizing, h, w.shape[1], max(stride[0], 1), max(dilation[0], 1))
        out_w, _ = qp.conv_padding(sizing, wd, w.shape[2], max(stride[1], 1), max(dilation[1], 1))
        out = _output(out, (n, max(out_h, 1), max(out_w, 1), out_channels))
        params = ConvParams(stride[0], stride[1], dilation[0], dilation[1], PADDING[padding], input_offset,
                            output_offset, act[0], act[1], depth_multiplier, *pads)
        m, s = _int32(multiplier), _int32(shift)
        quant = ChannelQuant(_ptr(m, _i32), _ptr(s, _i32))
        b = None if bias is None else _int32(bias)
        in_dims, f_dims = dims4(x.shape), dims4(w.shape)
        scratch_bytes = getattr(self.lib, f"{function}_get_buffer_size")(ctypes.byref(in_dims), ctypes.byref(f_dims))
        scratch = np.zeros(max(scratch_bytes, 1), dtype=np.int32)
        status = getattr(self.lib, function)(
            ctypes.byref(params), ctypes.byref(quant), ctypes.byref(in_dims), _ptr(x), ctypes.byref(f_dims), _ptr(w),
            _ptr(b, _i32), ctypes.byref(dims4(out.shape)), _ptr(out), scratch.ctypes.data_as(ctypes.c_void_p))
        self._check(function, status)
        return out

    def conv2d(self, x, w, bias, *, multiplier, shift, stride=(1, 1), dilation=(1, 1), padding="SAME",
               input_offset=0, output_offset=0, act=(-128, 127), out=None) -> np.ndarray:
        """CONV_2D: x [n,h,w,c], w OHWI."""
        return self._conv_like("fn_conv2d_s8", x, w, bias, multiplier, shift, stride, dilation, padding,
                               input_offset, output_offset, act, 1, w.shape[0], out)

    def depthwise_conv2d(self, x, w, bias, *, depth_multiplier, multiplier, shift, stride=(1, 1), dilation=(1, 1),
                         padding="SAME", input_offset=0, output_offset=0, act=(-128, 127), out=None) -> np.ndarray:
        """DEPTHWISE_CONV_2D: w [1, kh, kw, c*depth_multiplier]."""
        return self._conv_like("fn_depthwise_conv2d_s8", x, w, bias, multiplier, shift, stride, dilation, padding,
                               input_offset, output_offset, act, depth_multiplier, w.shape[3], out)

    def mdw_maxout(self, x, w, bias, *, heads, multiplier, shift, stride=(1, 1), dilation=(1, 1), padding="SAME",
                   input_offset=0, output_offset=0, act=(-128, 127), out=None) -> np.ndarray:
        """Fused depthwise(multiplier heads) + max over heads: output has x's channel count."""
        return self._conv_like("fn_mdw_maxout_s8", x, w, bias, multiplier, shift, stride, dilation, padding,
                               input_offset, output_offset, act, heads, x.shape[3], out)

    def transpose_conv2d(self, x, w, bias, *, out_hw, multiplier, shift, stride=(1, 1), padding="SAME",
                         input_offset=0, output_offset=0, act=(-128, 127)) -> np.ndarray:
        """TRANSPOSE_CONV: x [n,h,w,c], w OHWI [out_c, kh, kw, c], output [n, *out_hw, out_c] (the model's
        output_shape operand)."""
        x, w = _int8(x), _int8(w)
        out = np.zeros((x.shape[0], int(out_hw[0]), int(out_hw[1]), w.shape[0]), dtype=np.int8)
        params = ConvParams(stride[0], stride[1], 1, 1, PADDING[padding], input_offset, output_offset, act[0], act[1],
                            1, 0, 0, 0, 0)
        m, s = _int32(multiplier), _int32(shift)
        quant = ChannelQuant(_ptr(m, _i32), _ptr(s, _i32))
        b = None if bias is None else _int32(bias)
        status = self.lib.fn_transpose_conv2d_s8(
            ctypes.byref(params), ctypes.byref(quant), ctypes.byref(dims4(x.shape)), _ptr(x),
            ctypes.byref(dims4(w.shape)), _ptr(w), _ptr(b, _i32), ctypes.byref(dims4(out.shape)), _ptr(out), None)
        self._check("fn_transpose_conv2d_s8", status)
        return out

    def conv_scratch_bytes(self, kind: str, x_shape, w_shape) -> int:
        function = {"conv": "fn_conv2d_s8", "depthwise": "fn_depthwise_conv2d_s8", "mdw": "fn_mdw_maxout_s8"}[kind]
        in_dims, f_dims = dims4(x_shape), dims4(w_shape)
        return int(getattr(self.lib, f"{function}_get_buffer_size")(ctypes.byref(in_dims), ctypes.byref(f_dims)))

    def fully_connected(self, x, w, bias, *, multiplier, shift, input_offset=0, filter_offset=0, output_offset=0,
                        act=(-128, 127)) -> np.ndarray:
        """FULLY_CONNECTED: x [batches, in], w [out, in]; one multiplier or one per output."""
        x, w = _int8(x), _int8(w)
        m, s = _int32(np.atleast_1d(multiplier)), _int32(np.atleast_1d(shift))
        out = np.zeros((x.shape[0], w.shape[0]), dtype=np.int8)
        params = FcParams(input_offset, filter_offset, output_offset, act[0], act[1], int(m.size > 1))
        quant = ChannelQuant(_ptr(m, _i32), _ptr(s, _i32))
        b = None if bias is None else _int32(bias)
        status = self.lib.fn_fully_connected_s8(ctypes.byref(params), ctypes.byref(quant), x.shape[0], x.shape[1],
                                                _ptr(x), w.shape[0], _ptr(w), _ptr(b, _i32), _ptr(out))
        self._check("fn_fully_connected_s8", status)
        return out

    def fully_connected_pairs(self, x, w, bias, *, multiplier, shift, input_offset=0, output_offset=0,
                              act=(-128, 127)) -> np.ndarray:
        """FULLY_CONNECTED through fn_fully_connected_pairs_s8: the weights packed and the input offset
        folded into the bias as the code generator does (codegen/fc_pairs.py)."""
        from . import fc_pairs

        x, w = _int8(x), _int8(w)
        m, s = np.atleast_1d(multiplier), np.atleast_1d(shift)
        folded = fc_pairs.folded_bias(w, None if bias is None else np.asarray(bias), input_offset)
        table, folded = _int32(fc_pairs.requant_table(m, s)), _int32(folded)
        packed = _int8(fc_pairs.pack_weights(w))
        params = FcPairsParams(output_offset, act[0], act[1], int(m.size > 1),
                               int(fc_pairs.fast_requant_applies(folded, s, w.shape[1])))
        out = np.zeros((x.shape[0], w.shape[0]), dtype=np.int8)
        status = self.lib.fn_fully_connected_pairs_s8(ctypes.byref(params), _ptr(table, _i32), x.shape[0], x.shape[1],
                                                      _ptr(x), w.shape[0], _ptr(packed), _ptr(folded, _i32),
                                                      _ptr(out), None)
        self._check("fn_fully_connected_pairs_s8", status)
        return out

    # -- elementwise ----------------------------------------------------------
    def _binary(self, function: str, a, b, params, out=None) -> np.ndarray:
        a, b = _int8(a), _int8(b)
        # Elementwise max of the dims; the kernel itself rejects shapes that do not broadcast.
        da, db = dims4(a.shape), dims4(b.shape)
        shape = tuple(max(getattr(da, f), getattr(db, f)) for f in "nhwc")[4 - max(a.ndim, b.ndim):]
        out = _output(out, shape)
        args = [ctypes.byref(params)] if params is not None else []
        status = getattr(self.lib, function)(*args, ctypes.byref(dims4(a.shape)), _ptr(a), ctypes.byref(dims4(b.shape)),
                                             _ptr(b), ctypes.byref(dims4(shape)), _ptr(out))
        self._check(function, status)
        return out

    def add(self, a, b, params: dict, out=None) -> np.ndarray:
        """ADD with broadcast; params from quant_params.add_params plus act_min / act_max."""
        return self._binary("fn_add_s8", a, b, AddParams(**params), out)

    def mul(self, a, b, params: dict, out=None) -> np.ndarray:
        return self._binary("fn_mul_s8", a, b, MulParams(**params), out)

    def sub(self, a, b, params: dict) -> np.ndarray:
        """SUB with broadcast; params from kernel_params.sub_params plus act_min / act_max."""
        return self._binary("fn_sub_s8", a, b, AddParams(**params))

    def squared_difference(self, a, b, params: dict) -> np.ndarray:
        """SQUARED_DIFFERENCE; params from kernel_params.squared_difference_params plus act_min / act_max."""
        return self._binary("fn_squared_difference_s8", a, b, AddParams(**params))

    def maximum(self, a, b, out=None) -> np.ndarray:
        return self._binary("fn_maximum_s8", a, b, None, out)

    def minimum(self, a, b) -> np.ndarray:
        return self._binary("fn_minimum_s8", a, b, None)

    def prelu(self, x, alpha, params: dict) -> np.ndarray:
        """PRELU: alpha broadcasts against x; params from kernel_params.prelu_params."""
        return self._binary("fn_prelu_s8", x, alpha, PreluParams(**params))

    def _unary(self, function: str, x, params) -> np.ndarray:
        x = _int8(x)
        out = np.zeros_like(x)
        status = getattr(self.lib, function)(ctypes.byref(params), x.size, _ptr(x), _ptr(out))
        self._check(function, status)
        return out

    def hard_swish(self, x, params: dict) -> np.ndarray:
        return self._unary("fn_hard_swish_s8", x, HardSwishParams(**params))

    def logistic(self, x, params: dict) -> np.ndarray:
        return self._unary("fn_logistic_s8", x, LogisticParams(**params))

    def tanh(self, x, params: dict) -> np.ndarray:
        return self._unary("fn_tanh_s8", x, LogisticParams(**params))

    def relu(self, x, params: dict) -> np.ndarray:
        """RELU / RELU_N1_TO_1 / RELU6; params from kernel_params.relu_params or relu6_params."""
        return self._unary("fn_relu_s8", x, ReluParams(**params))

    def leaky_relu(self, x, params: dict) -> np.ndarray:
        return self._unary("fn_leaky_relu_s8", x, LeakyReluParams(**params))

    def lut(self, x, lo: int, table: np.ndarray, out=None) -> np.ndarray:
        """fn_lut_s8: out = table[clip(x, lo, lo + len(table) - 1) - lo]."""
        x, table = _int8(x), _int8(table)
        out = _output(out, x.shape)
        status = self.lib.fn_lut_s8(_ptr(table), lo, lo + table.size - 1, x.size, _ptr(x), _ptr(out))
        self._check("fn_lut_s8", status)
        return out

    def clamp(self, x, lo: int, hi: int) -> np.ndarray:
        x = _int8(x)
        out = np.zeros_like(x)
        self._check("fn_clamp_s8", self.lib.fn_clamp_s8(lo, hi, x.size, _ptr(x), _ptr(out)))
        return out

    def maxout(self, x, heads: int, out=None) -> np.ndarray:
        """fn_maxout_s8: max over each group of `heads` adjacent values of the last axis."""
        x = _int8(x)
        out = _output(out, x.shape[:-1] + (x.shape[-1] // heads,))
        self._check("fn_maxout_s8", self.lib.fn_maxout_s8(out.size, heads, _ptr(x), _ptr(out)))
        return out

    def softmax(self, x, params: dict, out=None) -> np.ndarray:
        """SOFTMAX over the last axis."""
        x = _int8(x)
        out = _output(out, x.shape)
        depth = x.shape[-1]
        status = self.lib.fn_softmax_s8(ctypes.byref(SoftmaxParams(**params)), x.size // depth, depth, _ptr(x),
                                        _ptr(out))
        self._check("fn_softmax_s8", status)
        return out

    # -- pooling and reductions -----------------------------------------------
    def _pool(self, function: str, x, filter_hw, stride, padding, act, out=None) -> np.ndarray:
        x = _int8(x)
        out_h, _ = qp.conv_padding(padding, x.shape[1], filter_hw[0], stride[0])
        out_w, _ = qp.conv_padding(padding, x.shape[2], filter_hw[1], stride[1])
        out = _output(out, (x.shape[0], max(out_h, 1), max(out_w, 1), x.shape[3]))
        params = PoolParams(stride[0], stride[1], filter_hw[0], filter_hw[1], PADDING[padding], act[0], act[1])
        status = getattr(self.lib, function)(ctypes.byref(params), ctypes.byref(dims4(x.shape)), _ptr(x),
                                             ctypes.byref(dims4(out.shape)), _ptr(out))
        self._check(function, status)
        return out

    def avgpool(self, x, filter_hw, stride, padding="VALID", act=(-128, 127), out=None) -> np.ndarray:
        return self._pool("fn_avgpool_s8", x, filter_hw, stride, padding, act, out)

    def maxpool(self, x, filter_hw, stride, padding="VALID", act=(-128, 127), out=None) -> np.ndarray:
        return self._pool("fn_maxpool_s8", x, filter_hw, stride, padding, act, out)

    def _reduce(self, function: str, x, axes: Sequence[int], params) -> np.ndarray:
        x = _int8(x)
        axes = sorted({int(a) % x.ndim for a in axes})
        shape = tuple(1 if i in axes else s for i, s in enumerate(x.shape))
        flags = [1 if i in axes else 0 for i in range(x.ndim)]
        out = np.zeros(shape, dtype=np.int8)
        args = [ctypes.byref(params)] if params is not None else []
        status = getattr(self.lib, function)(*args, ctypes.byref(dims4(x.shape)), ctypes.byref(Dims(*([0] * (4 - x.ndim) + flags))),
                                             _ptr(x), _ptr(out))
        self._check(function, status)
        return out

    def mean(self, x, axes: Sequence[int], params: dict) -> np.ndarray:
        """MEAN over `axes` (keep_dims shape); params from kernel_params.mean_params."""
        return self._reduce("fn_mean_s8", x, axes, MeanParams(**params))

    def reduce_max(self, x, axes: Sequence[int]) -> np.ndarray:
        return self._reduce("fn_reduce_max_s8", x, axes, None)

    # -- data movement --------------------------------------------------------
    def concat(self, arrays: Sequence[np.ndarray], axis: int, out=None) -> np.ndarray:
        arrays = [_int8(a) for a in arrays]
        axis = axis % arrays[0].ndim
        shape = list(arrays[0].shape)
        outer = int(np.prod(shape[:axis], dtype=np.int64))
        inner = int(np.prod(shape[axis + 1:], dtype=np.int64))
        sizes = _int32([a.shape[axis] for a in arrays])
        shape[axis] = int(sizes.sum())
        out = _output(out, shape)
        pointers = (ctypes.POINTER(ctypes.c_int8) * len(arrays))(*[_ptr(a) for a in arrays])
        status = self.lib.fn_concat_s8(len(arrays), pointers, _ptr(sizes, _i32), outer, inner, _ptr(out))
        self._check("fn_concat_s8", status)
        return out

    def split(self, x, axis: int, sizes: Sequence[int]) -> list[np.ndarray]:
        x = _int8(x)
        axis = axis % x.ndim
        outer = int(np.prod(x.shape[:axis], dtype=np.int64))
        inner = int(np.prod(x.shape[axis + 1:], dtype=np.int64))
        outs = [np.zeros(x.shape[:axis] + (int(s),) + x.shape[axis + 1:], dtype=np.int8) for s in sizes]
        pointers = (ctypes.POINTER(ctypes.c_int8) * len(outs))(*[_ptr(o) for o in outs])
        status = self.lib.fn_split_s8(len(outs), pointers, _ptr(_int32(sizes), _i32), outer, inner, _ptr(x))
        self._check("fn_split_s8", status)
        return outs

    def transpose(self, x, perm: Sequence[int]) -> np.ndarray:
        """TRANSPOSE of a tensor of up to 4 dims (leading axes of size 1 added, as the generator does)."""
        x = _int8(x)
        lead = 4 - x.ndim
        perm4 = list(range(lead)) + [lead + int(p) for p in perm]
        out = np.zeros(tuple(x.shape[int(p)] for p in perm), dtype=np.int8)
        status = self.lib.fn_transpose_s8(ctypes.byref(dims4(x.shape)), _ptr(x), ctypes.byref(Dims(*perm4)), _ptr(out))
        self._check("fn_transpose_s8", status)
        return out

    def strided_slice(self, x, begin: Sequence[int], strides: Sequence[int], out_shape: Sequence[int]) -> np.ndarray:
        """4-D: out[i] = x[begin + i * strides] per axis."""
        x = _int8(x)
        out = np.zeros(tuple(out_shape), dtype=np.int8)
        status = self.lib.fn_strided_slice_s8(ctypes.byref(dims4(x.shape)), _ptr(x), ctypes.byref(Dims(*begin)),
                                              ctypes.byref(Dims(*strides)), ctypes.byref(dims4(out.shape)), _ptr(out))
        self._check("fn_strided_slice_s8", status)
        return out

    def _resize(self, function: str, x, rows, cols, out_hw, out=None) -> np.ndarray:
        x = _int8(x)
        out = _output(out, (x.shape[0], int(out_hw[0]), int(out_hw[1]), x.shape[3]))
        r, c = _int32(rows), _int32(cols)
        status = getattr(self.lib, function)(ctypes.byref(dims4(x.shape)), _ptr(x), ctypes.byref(dims4(out.shape)),
                                             _ptr(r, _i32), _ptr(c, _i32), _ptr(out))
        self._check(function, status)
        return out

    def resize_nearest(self, x, rows, cols, out=None) -> np.ndarray:
        """rows / cols: the input row of each output row, the input column of each output column."""
        return self._resize("fn_resize_nearest_s8", x, rows, cols, (len(rows), len(cols)), out)

    def resize_bilinear(self, x, rows, cols, out=None) -> np.ndarray:
        """rows / cols: (lower, upper, weight of upper in 1/1024) per output row / column, flattened."""
        return self._resize("fn_resize_bilinear_s8", x, rows, cols, (len(rows) // 3, len(cols) // 3), out)

    def slice(self, x, begin: Sequence[int], size: Sequence[int]) -> np.ndarray:
        x = _int8(x)
        out = np.zeros(tuple(size), dtype=np.int8)
        status = self.lib.fn_slice_s8(ctypes.byref(dims4(x.shape)), _ptr(x), ctypes.byref(Dims(*begin)),
                                      ctypes.byref(dims4(out.shape)), _ptr(out))
        self._check("fn_slice_s8", status)
        return out

    def pad(self, x, before: Sequence[int], after: Sequence[int], value: int) -> np.ndarray:
        x = _int8(x)
        out = np.zeros(tuple(int(s) + int(a) + int(b) for s, a, b in zip(x.shape, before, after)), dtype=np.int8)
        status = self.lib.fn_pad_s8(ctypes.byref(dims4(x.shape)), _ptr(x), ctypes.byref(Dims(*before)),
                                    ctypes.c_int8(value), ctypes.byref(dims4(out.shape)), _ptr(out))
        self._check("fn_pad_s8", status)
        return out

    # -- ECA ------------------------------------------------------------------
    _REQUANTIZE = {("int8", "int8"): "fn_requantize_s8", ("uint8", "int8"): "fn_requantize_u8_s8",
                   ("int8", "uint8"): "fn_requantize_s8_u8"}

    def requantize(self, x, params: dict, out_dtype: str = "int8") -> np.ndarray:
        """QUANTIZE between integer types (x: int8 or uint8; params: kernel_params.requantize_params)."""
        x = np.ascontiguousarray(x)
        function = self._REQUANTIZE[(x.dtype.name, out_dtype)]
        out = np.zeros(x.shape, dtype=out_dtype)
        status = getattr(self.lib, function)(ctypes.byref(RequantizeParams(**params)), x.size,
                                             _ptr(x, ctypes.c_uint8), _ptr(out, ctypes.c_uint8))
        self._check(function, status)
        return out

    def quantize_f32(self, x, scale: float, zero_point: int) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        out = np.zeros(x.shape, dtype=np.int8)
        status = self.lib.fn_quantize_f32_s8(scale, zero_point, x.size, _ptr(x, ctypes.c_float), _ptr(out))
        self._check("fn_quantize_f32_s8", status)
        return out

    def dequantize(self, x, scale: float, zero_point: int, out=None) -> np.ndarray:
        x = _int8(x)
        if out is None:
            out = np.zeros(x.shape, dtype=np.float32)
        elif out.dtype != np.float32 or out.shape != x.shape or not out.flags.c_contiguous:
            raise ValueError(f"out must be a contiguous float32 array of shape {x.shape}, got {out.dtype} {out.shape}")
        status = self.lib.fn_dequantize_s8_f32(scale, zero_point, x.size, _ptr(x), _ptr(out, ctypes.c_float))
        self._check("fn_dequantize_s8_f32", status)
        return out

    def eca_scratch_bytes(self, x_shape) -> int:
        return int(self.lib.fn_eca_s8_get_buffer_size(ctypes.byref(dims4(x_shape))))

    def eca(self, x, params: dict, kernel: np.ndarray, in_place: bool = False) -> np.ndarray:
        """Fused mean/variance ECA; params as flynet_tiny.int8.kernel_params.eca_params returns."""
        x = _int8(x)
        kernel = _int8(np.asarray(kernel).reshape(-1))
        fields = dict(params)
        struct = EcaParams(
            mean=MeanParams(**fields.pop("mean")), var_mean=MeanParams(**fields.pop("var_mean")),
            logistic=LogisticParams(**fields.pop("logistic")), softmax=SoftmaxParams(**fields.pop("softmax")),
            mul=MulParams(**fields.pop("mul")), kernel=_ptr(kernel), **fields)
        out = x.copy() if in_place else np.zeros_like(x)
        source = out if in_place else x
        scratch = np.zeros(max(self.eca_scratch_bytes(x.shape), 1), dtype=np.int8)
        status = self.lib.fn_eca_s8(ctypes.byref(struct), ctypes.byref(dims4(x.shape)), _ptr(source), _ptr(out),
                                    scratch.ctypes.data_as(ctypes.c_void_p))
        self._check("fn_eca_s8", status)
        return out

    # -- MicroNet: grouped conv, channel gather, Shift-Max ---------------------
    def group_conv2d(self, x, w, bias, *, multiplier, shift, channel_map=None, stride=(1, 1), padding="SAME",
                     input_offset=0, output_offset=0, act=(-128, 127)) -> np.ndarray:
        """Grouped CONV_2D: w OHWI with x.shape[3] / w.shape[3] groups; `channel_map` (int16, one entry per
        input channel) reorders the input channels the groups read."""
        x, w = _int8(x), _int8(w)
        n, h, wd, _ = x.shape
        out_h, _ = qp.conv_padding(padding, h, w.shape[1], stride[0])
        out_w, _ = qp.conv_padding(padding, wd, w.shape[2], stride[1])
        out = np.zeros((n, out_h, out_w, w.shape[0]), dtype=np.int8)
        params = ConvParams(stride[0], stride[1], 1, 1, PADDING[padding], input_offset, output_offset, act[0], act[1],
                            1, 0, 0, 0, 0)
        m, s = _int32(multiplier), _int32(shift)
        quant = ChannelQuant(_ptr(m, _i32), _ptr(s, _i32))
        b = None if bias is None else _int32(bias)
        cmap = None if channel_map is None else np.ascontiguousarray(channel_map, dtype=np.int16)
        in_dims, f_dims = dims4(x.shape), dims4(w.shape)
        scratch = np.zeros(max(self.lib.fn_group_conv2d_s8_get_buffer_size(ctypes.byref(in_dims),
                                                                            ctypes.byref(f_dims)), 1), dtype=np.int32)
        status = self.lib.fn_group_conv2d_s8(
            ctypes.byref(params), ctypes.byref(quant), ctypes.byref(in_dims), _ptr(x), _ptr(cmap, ctypes.c_int16),
            ctypes.byref(f_dims), _ptr(w), _ptr(b, _i32), ctypes.byref(dims4(out.shape)), _ptr(out),
            scratch.ctypes.data_as(ctypes.c_void_p))
        self._check("fn_group_conv2d_s8", status)
        return out

    def channel_gather(self, x, channel_map) -> np.ndarray:
        """out[..., c] = x[..., channel_map[c]] over the last axis."""
        x = _int8(x)
        cmap = np.ascontiguousarray(channel_map, dtype=np.int16)
        out = np.zeros((*x.shape[:-1], cmap.size), dtype=np.int8)
        status = self.lib.fn_channel_gather_s8(int(np.prod(x.shape[:-1])), x.shape[-1], cmap.size,
                                               _ptr(cmap, ctypes.c_int16), _ptr(x), _ptr(out))
        self._check("fn_channel_gather_s8", status)
        return out

    def shift_max(self, x, coefficients, params: dict, in_place: bool = False) -> np.ndarray:
        """Fused Shift-Max on x [n,h,w,c] with the coefficient vector (2Kc int8); params as
        flynet_tiny.int8.kernel_params.shift_max_params returns."""
        x = _int8(x)
        coefficients = _int8(np.asarray(coefficients).reshape(-1))
        fields = dict(params)
        nested = {name: (AddParams if name.startswith("add") else MulParams)(**fields.pop(name))
                  for name in ("mul_a0", "mul_b0", "add0", "mul_a1", "mul_b1", "add1")}
        struct = ShiftMaxParams(**fields, **nested)
        out = x.copy() if in_place else np.zeros_like(x)
        source = out if in_place else x
        dims, coefficient_dims = dims4(x.shape), dims4((1, 1, 1, coefficients.size))
        scratch = np.zeros(max(self.lib.fn_shift_max_s8_get_buffer_size(ctypes.byref(dims),
                                                                         ctypes.byref(coefficient_dims)), 1),
                           dtype=np.int32)
        status = self.lib.fn_shift_max_s8(ctypes.byref(struct), ctypes.byref(dims), _ptr(source), _ptr(coefficients),
                                          _ptr(out), scratch.ctypes.data_as(ctypes.c_void_p))
        self._check("fn_shift_max_s8", status)
        return out
