"""Where a layer's output may overlap the input it reads: the kernels' access order, and the safe offset.

An emitter describes each path its kernel may take (portable C, the Cortex-M DSP paths) as a
`Schedule`: for every input byte the time of its last read, for every output byte the time of its
(first) write. Times are integers; a read and a write never share one, and a write at time t lands
after every read at an earlier time. With the output at `input + d`, output byte j lands on input
byte d + j; the placement is safe when each such write comes after that byte's last read. No byte
of the input is then overwritten before the kernel has read it for the last time, so the kernel
computes what it computes with separate buffers (tests/kernels/test_kernels_overlap.py runs every
kernel path overlapped at the offset found here, on the host and in QEMU).

`safe_offset` returns the largest such d (a multiple of the arena alignment, at most 0), safe for
every path the build may take, or None where only disjoint buffers are safe. For a path in raster
order (`PixelWindows`, `Blocks`, the memcpy calls of `ConcatCopies` and `NearestCopies`,
`BilinearSamples`) every offset below a safe one is safe too, and the bound follows from prefix maxima
of the read times; the DSP depthwise planes (`ChannelBands`) work channel group by channel group and
DEQUANTIZE from its last value down (`BlocksFromTheEnd`), where only some offsets are safe, so
candidates below that bound are checked byte by byte.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from .dsp_planes import band_rows, channel_groups

NEVER = -1  # the "last read" of an input byte no path reads


class Schedule:
    """One kernel path's order of reads of one input and writes of the output."""

    exact_only = False  # True: safe offsets need not form a half line, so each candidate is checked
    dsp_only = False    # a path only builds with the Cortex-M DSP kernels take

    def times(self) -> tuple[np.ndarray, np.ndarray]:
        """(last read time of each input byte, write time of each output byte), int64 arrays."""
        raise NotImplementedError


@dataclass(frozen=True)
class Blocks(Schedule):
    """Block k, in increasing k: its `read` input bytes are read, then its `write` output bytes written.
    One and one: elementwise (ADD, MUL, MAXIMUM, lookup tables, SOFTMAX's last pass, QUANTIZE uint8 <-> int8);
    h and one: Max-out over h heads; 4 and 1: float32 -> int8 QUANTIZE; 1 and 4: DEQUANTIZE."""

    count: int
    read: int = 1
    write: int = 1

    def times(self):
        return (2 * (np.arange(self.count * self.read, dtype=np.int64) // self.read),
                2 * (np.arange(self.count * self.write, dtype=np.int64) // self.write) + 1)


@dataclass(frozen=True)
class BlocksFromTheEnd(Blocks):
    """`Blocks` in decreasing k: DEQUANTIZE writes its float32 values from the last down, so its output may
    start at its input (offsets below that would land a value on input bytes not read yet)."""

    exact_only = True

    def times(self):
        read, write = super().times()
        last = 2 * (self.count - 1)
        return np.where(read >= 0, last - read, NEVER), last - (write - 1) + 1


@dataclass(frozen=True)
class ChannelMajor(Schedule):
    """Per image, element (pixel i, channel c) is read and then written, channel by channel (ECA's product
    x * gate, after its statistics read the whole map): only offsets that keep each channel on itself hold."""

    dims: tuple[int, int, int, int]

    exact_only = True

    def times(self):
        n, h, w, c = self.dims
        pixels = h * w
        image = np.arange(n, dtype=np.int64)[:, None, None] * (pixels * c)
        order = image + np.arange(c, dtype=np.int64)[None, None, :] * pixels + np.arange(pixels, dtype=np.int64)[None, :, None]
        order = order.reshape(-1)
        return 2 * order, 2 * order + 1


def _last_reader(size_in: int, size_out: int, kernel: int, stride: int, dilation: int, pad: int) -> np.ndarray:
    """For each input row (or column), the last output row whose window holds it; -1 where none does."""
    rows = np.arange(size_in, dtype=np.int64)
    last = np.full(size_in, -1, dtype=np.int64)
    for k in range(kernel):
        # Output row o reads input row o * stride - pad + k * dilation.
        offset = rows + pad - k * dilation
        o = offset // stride
        ok = (offset >= 0) & (offset % stride == 0) & (o < size_out)
        last = np.where(ok, np.maximum(last, o), last)
    return last


@dataclass(frozen=True)
class PixelWindows(Schedule):
    """Output pixels in raster order (NHWC), each written channel by channel while its window of input
    pixels (all their channels, to be safe for every kernel) is read: the portable conv, depthwise, MDW
    and pooling loops, and, more strictly than needed, the DSP conv's blocks of 4 pixels and 1x1 tiles
    (those read a whole block before writing it) and the DSP depthwise's per-pixel path."""

    in_dims: tuple[int, int, int, int]
    out_dims: tuple[int, int, int, int]
    kernel: tuple[int, int]
    stride: tuple[int, int]
    pads: tuple[int, int]                 # leading padding: top, left
    dilation: tuple[int, int] = (1, 1)

    def times(self):
        n, h, w, c = self.in_dims
        on, oh, ow, oc = self.out_dims
        last_y = _last_reader(h, oh, self.kernel[0], self.stride[0], self.dilation[0], self.pads[0])
        last_x = _last_reader(w, ow, self.kernel[1], self.stride[1], self.dilation[1], self.pads[1])
        pixel = (np.arange(n, dtype=np.int64)[:, None, None] * oh + last_y[None, :, None]) * ow + last_x[None, None, :]
        read = np.where((last_y[None, :, None] >= 0) & (last_x[None, None, :] >= 0), 2 * pixel + 2, NEVER)
        write = 2 * np.arange(on * oh * ow, dtype=np.int64) + 1
        return np.repeat(read.reshape(-1), c), np.repeat(write, oc)


@dataclass(frozen=True)
class ChannelBands(Schedule):
    """The DSP build's 3x3 / 5x5 depthwise and MDW over channel planes (depthwise_3x3_s8_dsp.c,
    depthwise_5x5_s8_dsp.c): channel groups (4 adjacent channels, or 1) outer, bands of output rows
    inner; each band first copies its input rows of the group's channels into the planes, then writes
    the band's outputs of those channels."""

    in_dims: tuple[int, int, int, int]
    out_dims: tuple[int, int, int, int]
    kernel: int
    stride: tuple[int, int]
    pads: tuple[int, int]
    heads: int
    maxout: bool

    exact_only = True
    dsp_only = True

    def times(self):
        n, h, w, c = self.in_dims
        _, oh, ow, oc = self.out_dims
        k, stride_h = self.kernel, self.stride[0]
        band = band_rows(h, oh, stride_h, k)
        starts = list(range(0, oh, band))
        bands = len(starts)
        groups = channel_groups(self.in_dims, k)
        group_of = np.repeat(np.arange(len(groups), dtype=np.int64), groups)  # input channel -> its group
        last_band = np.full(h, -1, dtype=np.int64)
        for b, oy0 in enumerate(starts):
            rows = min(band, oh - oy0)
            first = oy0 * stride_h - self.pads[0]
            last_band[max(first, 0):max(min(first + (rows - 1) * stride_h + k, h), 0)] = b
        step = (np.arange(n, dtype=np.int64)[:, None, None] * len(groups) + group_of[None, None, :]) * bands
        read = np.where(last_band[None, :, None] >= 0, 2 * (step + last_band[None, :, None]), NEVER)
        read = np.broadcast_to(read[:, :, None, :], (n, h, w, c))
        channel = np.arange(oc, dtype=np.int64) // (1 if self.maxout else self.heads)
        out_step = (np.arange(n, dtype=np.int64)[:, None, None] * len(groups) + group_of[channel][None, None, :]) * bands
        write = 2 * (out_step + (np.arange(oh, dtype=np.int64) // band)[None, :, None]) + 1
        write = np.broadcast_to(write[:, :, None, :], (n, oh, ow, oc))
        return read.reshape(-1), write.reshape(-1)


def _calls(write_calls: np.ndarray, read_calls: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Times for a kernel that moves bytes with memcpy calls numbered 0, 1, ... in the order it makes them
    (`write_calls`: the call writing each output byte; `read_calls`: the last call reading each input byte,
    -1 for none). memcpy may read and write its bytes in any order (its source and destination must not
    overlap), so a call's writes count as coming before its own reads: an output byte may land only on an
    input byte no later call, and not its own, reads."""
    return np.where(read_calls >= 0, 2 * read_calls + 1, NEVER), 2 * write_calls


@dataclass(frozen=True)
class ConcatCopies(Schedule):
    """fn_concat_s8 (concat_s8.c): for each of `outer` slices, one memcpy per input in turn, input i's
    `chunks[i]` bytes of that slice; the schedule is of input `part`."""

    outer: int
    chunks: tuple[int, ...]
    part: int

    def times(self):
        count = len(self.chunks)
        call = np.arange(self.outer, dtype=np.int64)[:, None] * count + np.arange(count, dtype=np.int64)[None, :]
        writes = np.repeat(call.reshape(-1), np.tile(np.asarray(self.chunks, dtype=np.int64), self.outer))
        reads = np.repeat(call[:, self.part], self.chunks[self.part])
        return _calls(writes, reads)


@dataclass(frozen=True)
class NearestCopies(Schedule):
    """fn_resize_nearest_s8 (resize_nearest_s8.c): output rows in order; a row whose source row equals the
    one above is one memcpy from the output row above (no input read), any other row one memcpy per pixel
    from input pixel (rows[y], cols[x])."""

    in_dims: tuple[int, int, int, int]
    rows: tuple[int, ...]
    cols: tuple[int, ...]

    def times(self):
        n, h, w, c = self.in_dims
        out_w = len(self.cols)
        cols = np.asarray(self.cols, dtype=np.int64)
        writes, read_pixel, call = [], np.full(n * h * w, -1, dtype=np.int64), 0
        for b in range(n):
            for y, source in enumerate(self.rows):
                if y > 0 and source == self.rows[y - 1]:
                    writes.append(np.full(out_w, call, dtype=np.int64))
                    call += 1
                    continue
                calls = call + np.arange(out_w, dtype=np.int64)
                np.maximum.at(read_pixel, (b * h + source) * w + cols, calls)
                writes.append(calls)
                call += out_w
        writes = np.concatenate(writes) if writes else np.zeros(0, dtype=np.int64)
        return _calls(np.repeat(writes, c), np.repeat(read_pixel, c))


def _last_sampler(samples: tuple[int, ...], size_in: int) -> np.ndarray:
    """For each input row (column), the last output row (column) whose (lower, upper, weight) sample reads it."""
    triples = np.asarray(samples, dtype=np.int64).reshape(-1, 3)
    last = np.full(size_in, -1, dtype=np.int64)
    for position in (0, 1):
        np.maximum.at(last, triples[:, position], np.arange(len(triples), dtype=np.int64))
    return last


@dataclass(frozen=True)
class BilinearSamples(Schedule):
    """fn_resize_bilinear_s8 (resize_bilinear_s8.c): output bytes in order (NHWC), each written after its
    four input bytes (rows[3y], rows[3y+1]) x (cols[3x], cols[3x+1]) of its channel were read."""

    in_dims: tuple[int, int, int, int]
    rows: tuple[int, ...]   # per output row: lower input row, upper input row, weight
    cols: tuple[int, ...]

    def times(self):
        n, h, w, c = self.in_dims
        out_h, out_w = len(self.rows) // 3, len(self.cols) // 3
        last_y, last_x = _last_sampler(self.rows, h), _last_sampler(self.cols, w)
        pixel = (np.arange(n, dtype=np.int64)[:, None, None] * out_h + last_y[None, :, None]) * out_w + last_x[None, None, :]
        pixel = np.where((last_y[None, :, None] >= 0) & (last_x[None, None, :] >= 0), pixel, -1)
        byte = pixel[..., None] * c + np.arange(c, dtype=np.int64)
        read = np.where(pixel[..., None] >= 0, 2 * byte, NEVER)
        return read.reshape(-1), 2 * np.arange(n * out_h * out_w * c, dtype=np.int64) + 1


@dataclass(frozen=True)
class Overlap:
    """What an emitter declares: the output may be written over input `input` wherever every path allows."""

    input: int                          # the input's position in the layer's inputs
    schedules: tuple[Schedule, ...]     # every path the kernel may take
    reason: str                         # for the memory plan: why the order makes it safe

    def paths(self, dsp_kernels: bool) -> tuple[Schedule, ...]:
        return tuple(s for s in self.schedules if dsp_kernels or not s.dsp_only)


MAX_EXACT_TRIES = 512


def half_line_bound(read: np.ndarray, write: np.ndarray) -> int:
    """The largest d such that every offset <= d is safe (at most 0): output byte j may land on input byte
    i only if every input byte up to i was last read before j's write."""
    if read.size == 0 or write.size == 0:
        return 0
    prefix_max = np.maximum.accumulate(read)
    readable = np.searchsorted(prefix_max, write, side="left")  # input bytes all read before each write
    bound = readable - np.arange(write.size, dtype=np.int64) - 1
    limited = readable < read.size
    return min(0, int(bound[limited].min())) if limited.any() else 0


def safe_at(read: np.ndarray, write: np.ndarray, d: int) -> bool:
    """Whether the output at input + d overwrites no input byte before its last read."""
    lo, hi = max(0, -d), min(write.size, read.size - d)
    return lo >= hi or bool(np.all(read[d + lo:d + hi] < write[lo:hi]))


@functools.lru_cache(maxsize=4096)  # the placement and the layer order ask for the same layers
def safe_offset(overlap: Overlap, in_size: int, out_size: int, alignment: int, dsp_kernels: bool = True) -> int | None:
    """The output's start minus the input's start, at most 0 and a multiple of `alignment`, safe for every
    path; None where the output would have to lie wholly before the input."""
    timed = [(s, *s.times()) for s in overlap.paths(dsp_kernels)]
    for _, read, write in timed:
        if read.size != in_size or write.size != out_size:
            raise ValueError(f"schedule of {read.size} -> {write.size} bytes for a {in_size} -> {out_size} layer")
    bound = min([half_line_bound(r, w) for s, r, w in timed if not s.exact_only], default=0)
    d = math.floor(bound / alignment) * alignment
    exact = [(r, w) for s, r, w in timed if s.exact_only]
    for _ in range(MAX_EXACT_TRIES):
        if d <= -out_size:
            return None
        if all(safe_at(r, w, d) for r, w in exact):
            return d
        d -= alignment
    return None
