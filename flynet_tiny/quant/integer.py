"""Integer-exact inference of a QuantizedModel: TFLite Micro's int8 arithmetic, in torch.

The fake-quant graph rounds each op's float result to the int8 grid; TFLite Micro computes
conv requantization, MEAN, SQUARED_DIFFERENCE, MUL, ADD, HARD_SWISH, LOGISTIC, SOFTMAX and
average pooling in fixed point, which lands 1-3 steps away on some values. This interpreter
walks the same fx graph with the same qparams, but every op whose output is quantized computes
TFLM's integer result from its int8 inputs (the ActFakeQuant after the op gives the output
qparams; the kernel parameters come from int8/kernel_params.py, the one place that mirrors
TFLM's Prepare functions). Ops that only move values (reshape, slice, max, concat on a shared
grid) run as they are on the integer values.

Values between ops are float32 tensors holding int8 integers (exact), so torch's reshape / pad /
pooling / max / concat run on them unchanged; conv and linear accumulate in float32 or float64,
whichever is exact for the layer (_WeightedLayer); the fixed-point steps go through int64
(int8/fixed_point.py). Evaluation only: QAT keeps the float fake-quant (STE).
"""

from __future__ import annotations

import math

import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from ..int8 import kernel_params as qp
from ..errors import FlynetError
from ..int8 import fixed_point as fx32
from .graph import (_ADD, _FREE_FUNCTIONS, _MUL, _PROBABILITY_FUNCTIONS, _RELU_FUNCTIONS, _RELU_MODULES, _SUB)
from .modules import ActFakeQuant, QuantConstant, QuantWeighted
from .qparams import quantize_to_int

Grid = tuple[float, int]  # (scale, zero point) of an int8 tensor

_AVG_POOL_MODULES = (nn.AvgPool2d, nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
_AVG_POOL_FUNCTIONS = {F.avg_pool2d, F.adaptive_avg_pool1d, F.adaptive_avg_pool2d}
_MEAN_FUNCTIONS = {torch.mean, "mean"}
_INT8 = torch.arange(-128, 128, dtype=torch.int64)  # every int8 value, for 256-entry tables
# The int8 values between ops: float32 holds them exactly, and torch's reshape / pad / pooling / max / concat
# run on it unchanged (at half the memory traffic of float64).
VALUES = torch.float32


def _clamp(y: torch.Tensor, low: int = -128, high: int = 127) -> torch.Tensor:
    return y.clamp(low, high).to(VALUES)


def _requantize(acc: torch.Tensor, multiplier, shift, out: Grid, activation: str = "NONE") -> torch.Tensor:
    """TFLite's output stage: MultiplyByQuantizedMultiplier, + zero point, clamp to the activation range."""
    low, high = qp.activation_range(activation, *out)
    result = fx32.multiply_by_quantized_multiplier(acc, multiplier, shift)  # a new tensor: finished in place
    result += out[1]
    return result.clamp_(low, high).to(VALUES)


def _rescale(q: torch.Tensor, grid: Grid, out: Grid, activation: str = "NONE") -> torch.Tensor:
    """int8 on `grid` to `out` by in_scale / out_scale (QUANTIZE int8 -> int8, RELU / RELU6)."""
    multiplier, shift = qp.quantize_multiplier(grid[0] / out[0])  # the scales are float32 values
    return _requantize(q - grid[1], multiplier, shift, out, activation)


class IntegerInterpreter(fx.Interpreter):
    """Runs a QuantizedModel's graph with TFLM's integer kernels; `run_int8` returns (values, grid)."""

    def __init__(self, qmodel: nn.Module):
        super().__init__(qmodel.graph_module)
        self.named = dict(qmodel.graph_module.named_modules())
        self.grid: dict[fx.Node, Grid] = {}
        self.kind = {node: kind for node in qmodel.graph_module.graph.nodes
                     if (kind := self._arithmetic_kind(node)) is not None}
        self._layers: dict[tuple, _WeightedLayer] = {}
        self._free_when_computed()

    def _free_when_computed(self) -> None:
        """fx.Interpreter frees a value after its last reader runs; an op computed later by the
        ActFakeQuant after it (or a fused consumer) still needs its inputs then."""
        def computed_at(node: fx.Node) -> fx.Node:
            users = list(node.users)
            quantizer = next((u for u in users if isinstance(self.named.get(u.target), ActFakeQuant)), None)
            return quantizer if quantizer is not None else computed_at(users[0])

        for node in [n for n in self.graph.nodes if n in self.kind]:
            freed = self.user_to_last_uses.pop(node, [])
            self.user_to_last_uses.setdefault(computed_at(node), []).extend(freed)

    # ------------------------------------------------------------------ graph walk
    def run_int8(self, x: torch.Tensor) -> tuple[torch.Tensor, Grid]:
        self.grid.clear()
        with torch.no_grad():
            values = self.run(x)
        node = next(n for n in self.graph.nodes if n.op == "output").args[0]
        if not isinstance(node, fx.Node) or node not in self.grid:
            raise FlynetError("integer mode needs a model with one quantized tensor output")
        return values, self.grid[node]

    def run_node(self, node: fx.Node):
        module = self.named.get(node.target) if node.op == "call_module" else None
        if isinstance(module, ActFakeQuant):
            return self._quantized_output(node, (float(module.scale), int(module.zero_point)))
        if isinstance(module, QuantConstant):
            self.grid[node] = (float(module.scale), int(module.zero_point))
            return quantize_to_int(module.value, module.scale, module.zero_point, -128, 127).to(VALUES)
        if node in self.kind:
            return None  # computed by the ActFakeQuant (or fused consumer) that reads it
        return super().run_node(node)

    def _arithmetic_kind(self, node: fx.Node) -> str | None:
        """Ops whose int8 result TFLM computes in fixed point; None for value-moving ops."""
        if node.op == "call_module":
            module = self.named[node.target]
            return ("weighted" if isinstance(module, QuantWeighted) else
                    "relu" if isinstance(module, _RELU_MODULES) else
                    "hardswish" if isinstance(module, nn.Hardswish) else
                    "sigmoid" if isinstance(module, nn.Sigmoid) else
                    "softmax" if isinstance(module, nn.Softmax) else
                    "avgpool" if isinstance(module, _AVG_POOL_MODULES) else None)
        if node.op not in ("call_function", "call_method"):
            return None
        op = node.target
        for kind, ops in (("add", _ADD), ("sub", _SUB), ("mul", _MUL), ("relu", _RELU_FUNCTIONS),
                          ("mean", _MEAN_FUNCTIONS), ("avgpool", _AVG_POOL_FUNCTIONS)):
            if op in ops:
                return kind
        if op in _FREE_FUNCTIONS:
            return "hardswish"  # the remaining free function: F.hardswish
        if op in _PROBABILITY_FUNCTIONS:
            return "softmax" if "softmax" in getattr(op, "__name__", str(op)) else "sigmoid"
        return None

    def _grid_of(self, node: fx.Node) -> Grid:
        """The int8 grid a value-moving op's output stays on: that of its first tensor input."""
        if node not in self.grid:
            sources: list[fx.Node] = []
            fx.node.map_arg((node.args, node.kwargs), sources.append)
            sources = [s for s in sources if s.op not in ("placeholder", "get_attr")]
            if not sources:
                raise FlynetError(f"integer mode: node {node.name} reads no int8 tensor")
            self.grid[node] = self._grid_of(sources[0])
        return self.grid[node]

    def _quantized_output(self, node: fx.Node, out: Grid) -> torch.Tensor:
        self.grid[node] = out
        source = node.args[0]
        if source.op == "placeholder":
            return quantize_to_int(self.env[source], out[0], out[1], -128, 127).to(VALUES)
        if source in self.kind:
            return self._compute(source, out, "NONE")
        return self._to_grid(self.env[source], self._grid_of(source), out)

    @staticmethod
    def _to_grid(values: torch.Tensor, grid: Grid, out: Grid) -> torch.Tensor:
        """int8 -> int8 QUANTIZE where the grids differ."""
        return values if grid == out else _rescale(values.long(), grid, out)

    def _int(self, node: fx.Node) -> tuple[torch.Tensor, Grid]:
        return self.env[node].long(), self.grid[node] if node in self.grid else self._grid_of(node)

    # ------------------------------------------------------------------ ops
    def _compute(self, node: fx.Node, out: Grid, activation: str) -> torch.Tensor:
        kind = self.kind[node]
        if kind == "relu":
            relu6 = node.target is F.relu6 or isinstance(self.named.get(node.target), nn.ReLU6)
            activation = "RELU6" if relu6 else "RELU"
            inner = node.args[0]
            if inner in self.kind:  # fused into the conv / FC / ADD / SUB / MUL before it
                return self._compute(inner, out, activation)
            return self._relu(inner, out, activation)
        if activation != "NONE" and kind not in ("weighted", "add", "sub", "mul"):
            raise FlynetError(f"integer mode: {node.name} cannot take a fused {activation}")
        return getattr(self, f"_{kind}")(node, out, activation)

    def _relu(self, source: fx.Node, out: Grid, activation: str) -> torch.Tensor:
        return _rescale(*self._int(source), out, activation)

    def _weighted(self, node: fx.Node, out: Grid, activation: str) -> torch.Tensor:
        q, grid = self._int(node.args[0])
        key = (node, grid, out)
        if key not in self._layers:  # the same for every batch: the int8 weights, bias and multipliers
            self._layers[key] = _WeightedLayer(self.named[node.target], grid, out)
        layer = self._layers[key]
        acc = layer.accumulate(q - grid[1])
        return _requantize(acc, layer.multiplier, layer.shift, out, activation)

    def _binary_operands(self, node: fx.Node):
        a, b = node.args[:2]
        return (*self._int(a), *self._int(b))

    def _add(self, node: fx.Node, out: Grid, activation: str, sign: int = 1) -> torch.Tensor:
        a, grid_a, b, grid_b = self._binary_operands(node)
        p = qp.add_params(*grid_a, *grid_b, *out)
        scaled_a, scaled_b = _rescaled_operands(a, b, p)
        total = fx32.wrap32(scaled_a + sign * scaled_b)
        return _requantize(total, p["output_multiplier"], p["output_shift"], out, activation)

    def _sub(self, node: fx.Node, out: Grid, activation: str) -> torch.Tensor:
        # TFLM's SUB prepares exactly as ADD (left shift 20, inputs rescaled to twice the larger scale).
        return self._add(node, out, activation, sign=-1)

    def _mul(self, node: fx.Node, out: Grid, activation: str) -> torch.Tensor:
        a, b = node.args[:2]
        if a is b and self.kind.get(a) == "sub":
            return self._squared_difference(a, out, activation)
        qa, grid_a, qb, grid_b = self._binary_operands(node)
        p = qp.mul_params(*grid_a, *grid_b, *out)
        product = (qa + p["input1_offset"]) * (qb + p["input2_offset"])
        return _requantize(product, p["output_multiplier"], p["output_shift"], out, activation)

    def _squared_difference(self, sub: fx.Node, out: Grid, activation: str) -> torch.Tensor:
        a, grid_a, b, grid_b = self._binary_operands(sub)
        p = qp.squared_difference_params(*grid_a, *grid_b, *out)
        scaled_a, scaled_b = _rescaled_operands(a, b, p)
        diff = scaled_a - scaled_b
        return _requantize(diff * diff, p["output_multiplier"], p["output_shift"], out, activation)

    def _mean(self, node: fx.Node, out: Grid, _activation: str) -> torch.Tensor:
        dims = node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        keepdim = node.kwargs.get("keepdim", node.args[2] if len(node.args) > 2 else False)
        q, grid = self._int(node.args[0])
        dims = list(range(q.ndim)) if dims is None else [dims] if isinstance(dims, int) else list(dims)
        return self._reduce_mean(q, grid, out, dims, keepdim)

    def _reduce_mean(self, q: torch.Tensor, grid: Grid, out: Grid, dims: list[int], keepdim: bool) -> torch.Tensor:
        """TFLM MEAN (QuantizedMeanOrSum): the sum of x - zp, the 1/count folded into the multiplier."""
        count = math.prod(q.shape[d] for d in dims)
        acc = (q - grid[1]).sum(dim=dims, keepdim=keepdim)
        p = qp.mean_params(*grid, *out)
        headroom = min(count.bit_length() - 1, 32, 31 + p["shift"])
        multiplier = (p["multiplier"] << headroom) // count
        return _requantize(acc, multiplier, p["shift"] - headroom, out)

    def _avgpool(self, node: fx.Node, out: Grid, _activation: str) -> torch.Tensor:
        module = self.named.get(node.target) if node.op == "call_module" else None
        source = node.args[0]
        q, grid = self._int(source)
        adaptive = isinstance(module, (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)) or node.target in (
            F.adaptive_avg_pool1d, F.adaptive_avg_pool2d)
        if adaptive:
            size = module.output_size if module is not None else node.args[1]
            if any(s != 1 for s in ((size,) if isinstance(size, int) else size)):
                raise FlynetError(f"integer mode: adaptive average pool {node.name} to a size other than 1 "
                                  "is not supported (TFLite lowers only the global one, to MEAN)")
            spatial = 2 if isinstance(module, nn.AdaptiveAvgPool2d) or node.target is F.adaptive_avg_pool2d else 1
            return self._reduce_mean(q, grid, out, list(range(q.ndim - spatial, q.ndim)), True)
        if module is not None:
            kernel, stride, padding = module.kernel_size, module.stride, module.padding
        else:
            options = {**dict(zip(("kernel_size", "stride", "padding"), node.args[1:])), **node.kwargs}
            kernel = options["kernel_size"]
            stride = options.get("stride") or kernel
            padding = options.get("padding", 0)
        # AVERAGE_POOL_2D: sum of the in-bounds taps (padding adds 0), divided by their count,
        # rounded half away from zero, on the input's grid.
        total = F.avg_pool2d(q.to(torch.float64), kernel, stride, padding, divisor_override=1).long()
        count = F.avg_pool2d(torch.ones_like(q[:1, :1], dtype=torch.float64), kernel, stride, padding,
                             divisor_override=1).long()
        half = count // 2
        average = torch.where(total > 0, fx32.trunc_div(total + half, count), fx32.trunc_div(total - half, count))
        return self._to_grid(_clamp(average), grid, out)

    def _hardswish(self, node: fx.Node, out: Grid, _activation: str) -> torch.Tensor:
        q, grid = self._int(node.args[0])
        p = qp.hard_swish_params(*grid, *out)
        table = torch.tensor([_hard_swish_one(v, p) for v in range(-128, 128)], dtype=VALUES)
        return table[q + 128]

    def _sigmoid(self, node: fx.Node, out: Grid, _activation: str) -> torch.Tensor:
        q, grid = self._int(node.args[0])
        self._check_probability_grid(node, out)
        p = qp.logistic_params(*grid)
        x = _INT8 - p["input_zero_point"]
        inner = x.clamp(-p["input_range_radius"], p["input_range_radius"])
        y_q0 = fx32.logistic_q4(fx32.multiply_by_quantized_multiplier(inner, p["input_multiplier"],
                                                                      p["input_left_shift"]))
        table = fx32.rdbpot(y_q0, 31 - 8) - 128
        table = torch.where(x <= -p["input_range_radius"], -128, torch.where(x >= p["input_range_radius"], 127, table))
        return _clamp(table)[q + 128]

    def _softmax(self, node: fx.Node, out: Grid, _activation: str) -> torch.Tensor:
        module = self.named.get(node.target) if node.op == "call_module" else None
        dim = module.dim if module is not None else node.kwargs.get("dim", node.args[1] if len(node.args) > 1 else None)
        if dim is None:
            raise FlynetError(f"integer mode: softmax {node.name} needs an explicit dim")
        self._check_probability_grid(node, out)
        q, grid = self._int(node.args[0])
        return _softmax_rows(q.movedim(dim, -1), qp.softmax_params(grid[0])).movedim(-1, dim)

    @staticmethod
    def _check_probability_grid(node: fx.Node, out: Grid) -> None:
        if out != (qp.ATTENTION_SCALE, qp.ATTENTION_ZERO_POINT):
            raise FlynetError(f"integer mode: {node.name} output is on {out}, TFLM's int8 LOGISTIC / SOFTMAX "
                              "write (1/256, -128) only")


class _WeightedLayer:
    """A conv / linear layer's integer constants, and its int32 accumulator for centred int8 inputs.

    The products and sums are integers; float32 holds every integer up to 2^24 exactly, so when no
    partial sum can pass that (sum |w| * the largest |x - zero point| per output), torch's float32 conv
    gives the exact accumulator, several times faster than float64. Otherwise float64 (exact below 2^53).
    The int32 bias is added in int64 afterwards."""

    def __init__(self, layer: QuantWeighted, grid: Grid, out: Grid):
        self.layer = layer
        weight_scale, _ = layer.weight_qparams()
        multiplier, shift = qp.conv_channel_quant(grid[0], weight_scale.numpy(), out[0])
        weight = layer.int8_weight()
        largest_input = max(127 - grid[1], grid[1] + 128)
        bound = int(weight.long().abs().flatten(1).sum(1).max()) * largest_input
        self.dtype = torch.float32 if bound < FLOAT32_EXACT else torch.float64
        self.weight = weight.to(self.dtype)
        # Output channels are dim 1: (-1, 1, 1) against a conv2d's (N, C, H, W), (-1,) against a linear's (N, F).
        channel_shape = (-1,) + (1,) * (weight.ndim - 2)
        self.bias = layer.int32_bias().long().reshape(channel_shape)
        # Conv: one multiplier per output channel; FULLY_CONNECTED: one per tensor.
        self.multiplier = torch.from_numpy(multiplier).long().reshape(channel_shape if layer.per_channel else ())
        self.shift = torch.from_numpy(shift).long().reshape(channel_shape if layer.per_channel else ())

    def accumulate(self, centred: torch.Tensor) -> torch.Tensor:
        acc = self.layer.apply_layer(centred.to(self.dtype), self.weight, None).long()
        acc += self.bias
        return acc


FLOAT32_EXACT = 1 << 24


def _rescaled_operands(a: torch.Tensor, b: torch.Tensor, p: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """ADD / SUB / SQUARED_DIFFERENCE inputs: offset, shifted left, rescaled to twice the larger scale."""
    return tuple(fx32.multiply_by_quantized_multiplier(fx32.wrap32((x + p[f"input{i}_offset"]) << p["left_shift"]),
                                                       p[f"input{i}_multiplier"], p[f"input{i}_shift"])
                 for i, x in ((1, a), (2, b)))


def integer_forward(qmodel: nn.Module, x: torch.Tensor, interpreter: IntegerInterpreter | None = None) -> torch.Tensor:
    """The model's output computed with TFLM's integer arithmetic, dequantized like the fake-quant output.
    An `interpreter` kept across calls keeps the layers' integer constants (one per thread: it holds the run)."""
    values, (scale, zero_point) = (interpreter or IntegerInterpreter(qmodel)).run_int8(x)
    return (values.to(torch.float32) - zero_point) * torch.tensor(scale, dtype=torch.float32)


def _softmax_rows(x: torch.Tensor, p: dict) -> torch.Tensor:
    """TFLM int8 SOFTMAX over the last dim: exp of the difference to the row max in Q5.26, sum in
    Q12.19, one fixed-point reciprocal per row."""
    diff = x - x.amax(dim=-1, keepdim=True)
    valid = diff >= p["diff_min"]
    scaled = fx32.srdhm(fx32.wrap32(diff << p["input_left_shift"]), p["input_multiplier"])
    exp_q0 = fx32.exp_on_negative_values(scaled, 5)
    total = fx32.wrap32(torch.where(valid, fx32.rescale(exp_q0, 0, 12), 0).sum(dim=-1, keepdim=True))
    bit_length = sum(((total >> k) > 0).long() for k in range(32))
    headroom_plus_one = 32 - bit_length
    shifted_sum_minus_one = fx32.wrap32((total << headroom_plus_one) - (1 << 31))
    shifted_scale = fx32.one_over_one_plus_x_for_x_in_0_1(shifted_sum_minus_one)
    exponent = (12 - headroom_plus_one) + 31 - 8
    quotient = fx32.rdbpot(fx32.srdhm(shifted_scale, exp_q0), exponent.clamp(max=40))
    y = torch.where(exponent > 31, 0, quotient) - 128
    return _clamp(torch.where(valid, y, -128))


def _hard_swish_one(value: int, p: dict) -> int:
    """TFLM reference_ops::HardSwish<int8_t> on one value: 16-bit fixed point, Python ints."""

    def sat16(v: int) -> int:
        return max(-32768, min(32767, v))

    def div_trunc(n: int, d: int) -> int:
        return n // d if n >= 0 else -((-n) // d)

    def srdhm16(a: int, b: int) -> int:
        if a == b == -32768:
            return 32767
        ab = a * b
        return div_trunc(ab + ((1 << 14) if ab >= 0 else 1 - (1 << 14)), 1 << 15)

    def rdbpot16(v: int, exponent: int) -> int:
        mask = (1 << exponent) - 1
        return (v >> exponent) + ((v & mask) > (mask >> 1) + (v < 0))

    x_hires = (value - p["input_zero_point"]) * (1 << 7)
    x_preshift_out = srdhm16(x_hires, p["output_multiplier_fixedpoint_int16"])
    relu_exp = p["reluish_multiplier_exponent"]
    reluish = x_hires
    if relu_exp > 0:
        reluish = sat16(reluish * (1 << (relu_exp - 1)))
    reluish = srdhm16(reluish, p["reluish_multiplier_fixedpoint_int16"])
    if relu_exp > 0:
        reluish = sat16(reluish * 2)
    if relu_exp < 0:
        reluish = rdbpot16(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1
    preshift = div_trunc(reluish * x_preshift_out, 1 << 15) if not (reluish == x_preshift_out == -32768) else 32767
    y = rdbpot16(preshift, -p["output_multiplier_exponent"]) + p["output_zero_point"]
    return max(-128, min(127, y))
