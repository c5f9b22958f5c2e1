"""The kernel library's parameter structs and enums, described once.

This description is the one source of the kernels' ABI: it renders the C typedefs of
firmware/kernels/flynet_kernels_abi.h (committed; `python3 -m flynet_tiny.codegen.kernel_abi`
rewrites it, and a test fails when it is stale), the ctypes structures of the host binding
(`host_kernels`), and the field types the parameter packer (`pack_params`) works from.

Field types: "int32_t", an enum of ENUMS (int-sized, as the kernels' assembly reads it), a struct
of STRUCTS (nested by value), or a pointer ("const int8_t *", "const int32_t *").
"""

from __future__ import annotations

import ctypes
import functools
import sys
from dataclasses import dataclass

ABI_HEADER = "flynet_kernels_abi.h"


@dataclass(frozen=True)
class Field:
    name: str
    ctype: str


@dataclass(frozen=True)
class Line:
    """Fields of one type declared on one line of the typedef, with an optional comment."""

    ctype: str
    names: tuple[str, ...]
    comment: str = ""


@dataclass(frozen=True)
class Struct:
    name: str
    lines: tuple[Line, ...]
    comment: str = ""
    positional: bool = False  # small structs are initialised as {1, 8, 8, 40} rather than {.n = 1, ...}

    @property
    def fields(self) -> tuple[Field, ...]:
        return tuple(Field(name, line.ctype) for line in self.lines for name in line.names)

    def field(self, name: str) -> Field:
        return next(f for f in self.fields if f.name == name)


@dataclass(frozen=True)
class Enum:
    name: str
    values: tuple[tuple[str, int, str], ...]  # constant, value, comment
    comment: str = ""


def _ints(names: str, comment: str = "") -> Line:
    return Line("int32_t", tuple(names.split()), comment)


def _one(ctype: str, name: str, comment: str = "") -> Line:
    return Line(ctype, (name,), comment)


ENUMS: dict[str, Enum] = {e.name: e for e in (
    Enum("fn_status", (
        ("FN_OK", 0, ""),
        ("FN_ERR_UNSUPPORTED", 1, "a configuration this kernel lacks (a dilated transpose conv, ...)"),
        ("FN_ERR_SHAPE", 2, "tensor shapes that do not fit together"),
        ("FN_ERR_ARGUMENT", 3, "a NULL pointer or a parameter out of range"),
    )),
    Enum("fn_padding", (
        ("FN_PADDING_VALID", 0, ""),
        ("FN_PADDING_SAME", 1, ""),
        ("FN_PADDING_EXPLICIT", 2, "the pad_* fields of fn_conv_params"),
    ), "EXPLICIT: the conv-like kernels' pad_* fields, each in 0..filter-1; a PAD op (padding with the input "
       "zero point) folded into the conv, so the padded map never exists."),
)}

STRUCTS: dict[str, Struct] = {s.name: s for s in (
    Struct("fn_dims", (_ints("n h w c"),), "A tensor shape, NHWC; shapes of fewer dimensions are padded with leading 1s.",
           positional=True),
    Struct("fn_channel_quant", (
        Line("const int32_t *", ("multiplier", "shift")),
    ), "Per-output-channel requantization: acc -> MultiplyByQuantizedMultiplier(acc, multiplier[c], shift[c]).",
       positional=True),
    Struct("fn_conv_params", (
        _ints("stride_h stride_w", ">= 1"),
        _ints("dilation_h dilation_w", ">= 1 (TRANSPOSE_CONV: 1)"),
        _one("fn_padding", "padding"),
        _ints("input_offset output_offset"),
        _ints("act_min act_max"),
        _ints("depth_multiplier", "depthwise and MDW only: heads h >= 1"),
        _ints("pad_top pad_bottom pad_left pad_right", "FN_PADDING_EXPLICIT only"),
    ), "CONV_2D, DEPTHWISE_CONV_2D, the fused MDW + Max-out, and TRANSPOSE_CONV."),
    Struct("fn_fc_params", (
        _ints("input_offset filter_offset output_offset"),
        _ints("act_min act_max"),
        _ints("per_channel", "0: multiplier[0] / shift[0] for every output"),
    )),
    Struct("fn_fc_pairs_params", (
        _ints("output_offset act_min act_max"),
        _ints("per_channel", "0: requant[0..1] for every output"),
        _ints("fast_requant", "1: every channel's requantization takes the DSP build's SMMULR form (the generator checks)"),
    ), "FULLY_CONNECTED on weights packed in row pairs (fn_fully_connected_pairs_s8)."),
    Struct("fn_add_params", (
        _ints("input1_offset input2_offset output_offset"),
        _ints("left_shift"),
        _ints("input1_multiplier input1_shift"),
        _ints("input2_multiplier input2_shift"),
        _ints("output_multiplier output_shift"),
        _ints("act_min act_max"),
    ), "ADD, SUB (left shift 20) and SQUARED_DIFFERENCE (left shift 7): the operands rescaled to a common scale."),
    Struct("fn_mul_params", (
        _ints("input1_offset input2_offset output_offset"),
        _ints("output_multiplier output_shift"),
        _ints("act_min act_max"),
    )),
    Struct("fn_hard_swish_params", (
        _ints("input_zero_point output_zero_point"),
        _ints("reluish_multiplier_fixedpoint_int16 reluish_multiplier_exponent"),
        _ints("output_multiplier_fixedpoint_int16 output_multiplier_exponent"),
    )),
    Struct("fn_logistic_params", (
        _ints("input_zero_point input_range_radius"),
        _ints("input_multiplier input_left_shift"),
    ), "LOGISTIC (output scale 1/256, zero point -128) and TANH (1/128, 0): the input as Q4.27."),
    Struct("fn_relu_params", (
        _ints("input_zero_point output_zero_point"),
        _ints("multiplier shift", "QuantizeMultiplier(input_scale / output_scale); RELU6: 2^30, 1 (identity)"),
        _ints("act_min act_max"),
    ), "RELU, RELU_N1_TO_1 (requantize, clamp) and RELU6 (clamp only, as TFLM)."),
    Struct("fn_leaky_relu_params", (
        _ints("input_zero_point output_zero_point"),
        _ints("identity_multiplier identity_shift", "for x >= zero point"),
        _ints("alpha_multiplier alpha_shift", "for x < zero point"),
    )),
    Struct("fn_prelu_params", (
        _ints("input_offset alpha_offset output_offset"),
        _ints("identity_multiplier identity_shift", "input_scale / output_scale"),
        _ints("alpha_multiplier alpha_shift", "input_scale * alpha_scale / output_scale"),
    )),
    Struct("fn_softmax_params", (_ints("input_multiplier input_left_shift diff_min"),)),
    Struct("fn_pool_params", (
        _ints("stride_h stride_w filter_h filter_w"),
        _one("fn_padding", "padding"),
        _ints("act_min act_max"),
    )),
    Struct("fn_mean_params", (
        _ints("input_zero_point output_zero_point"),
        _ints("multiplier shift", "QuantizeMultiplier(input_scale / output_scale)"),
    )),
    Struct("fn_requantize_params", (
        _ints("input_offset output_offset"),
        _ints("multiplier shift", "QuantizeMultiplier(input_scale / output_scale)"),
    ), "QUANTIZE between integer types: y = MultiplyByQuantizedMultiplier(x + input_offset, multiplier, shift) "
       "+ output_offset, clamped to the output type."),
    Struct("fn_eca_params", (
        _one("fn_mean_params", "mean", "x -> mu"),
        _ints("sqdiff_input1_offset sqdiff_input2_offset sqdiff_output_offset"),
        _ints("sqdiff_left_shift"),
        _ints("sqdiff_input1_multiplier sqdiff_input1_shift"),
        _ints("sqdiff_input2_multiplier sqdiff_input2_shift"),
        _ints("sqdiff_output_multiplier sqdiff_output_shift"),
        _one("fn_mean_params", "var_mean", "d -> var"),
        _ints("kernel_size", "z, odd"),
        _one("const int8_t *", "kernel", "[z][2] as OHWI 1 x 1 x z x 2"),
        _ints("conv_bias", "int32 bias of the single output channel"),
        _ints("conv_input_offset conv_output_offset conv_multiplier conv_shift"),
        _ints("use_softmax", "0: logistic, 1: softmax over `heads`"),
        _ints("heads"),
        _one("fn_logistic_params", "logistic"),
        _one("fn_softmax_params", "softmax"),
        _one("fn_mul_params", "mul", "x * a -> y"),
    ), "The mean-and-variance-aware ECA block (fn_eca_s8; see flynet_kernels.h)."),
    Struct("fn_shift_max_params", (
        _ints("fusions", "K: 1 or 2"),
        _ints("shift", "the shifted operand: channel (c + shift) mod C"),
        _ints("a0_offset b0_offset a1_offset b1_offset", "coefficient k of channel c at coefficients[offset + c]"),
        _one("fn_mul_params", "mul_a0", "x * a_0"),
        _one("fn_mul_params", "mul_b0", "shifted x * b_0"),
        _one("fn_add_params", "add0", "the two products -> fusion 0"),
        _one("fn_mul_params", "mul_a1", "K = 2 only"),
        _one("fn_mul_params", "mul_b1"),
        _one("fn_add_params", "add1"),
    ), "MicroNet's dynamic Shift-Max applied to x (fn_shift_max_s8; see flynet_kernels.h)."),
)}


def is_pointer(ctype: str) -> bool:
    return ctype.endswith("*")


def enum_value(ctype: str, constant: str) -> int:
    return next(v for name, v, _ in ENUMS[ctype].values if name == constant)


# -- C --------------------------------------------------------------------------------------------

def _comment(text: str, indent: str = "") -> list[str]:
    if not text:
        return []
    words, lines, line = text.split(), [], ""
    for word in words:
        if line and len(indent) + len(line) + len(word) > 96:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    lines.append(line)
    if len(lines) == 1:
        return [f"{indent}/* {lines[0]} */"]
    return [f"{indent}/* {lines[0]}", *(f"{indent} * {l}" for l in lines[1:-1]), f"{indent} * {lines[-1]} */"]


def _declaration(ctype: str, names: list[str]) -> str:
    if is_pointer(ctype):
        return f"{ctype}{', *'.join(names)};"
    return f"{ctype} {', '.join(names)};"


def render_header() -> str:
    """The text of flynet_kernels_abi.h."""
    lines = [
        "/* The kernels' parameter structs and enums. Generated by flynet_tiny/codegen/kernel_abi.py:",
        " * edit the description there and run `python3 -m flynet_tiny.codegen.kernel_abi`. */",
        "#ifndef FLYNET_KERNELS_ABI_H",
        "#define FLYNET_KERNELS_ABI_H",
        "",
        "#include <stdint.h>",
        "",
    ]
    for enum in ENUMS.values():
        lines += _comment(enum.comment)
        lines.append("typedef enum {")
        for i, (name, value, comment) in enumerate(enum.values):
            comma = "," if i < len(enum.values) - 1 else ""
            lines.append(f"    {name} = {value}{comma}" + (f" /* {comment} */" if comment else ""))
        lines += [f"}} {enum.name};", ""]
    for struct in STRUCTS.values():
        lines += _comment(struct.comment)
        lines.append("typedef struct {")
        for line in struct.lines:
            lines.append("    " + _declaration(line.ctype, list(line.names))
                         + (f" /* {line.comment} */" if line.comment else ""))
        lines += [f"}} {struct.name};", ""]
    lines += ["#endif /* FLYNET_KERNELS_ABI_H */", ""]
    return "\n".join(lines)


def c_initializer(ctype: str, values: dict) -> str:
    """`{.a = 1, .b = {.c = 2}}` for a struct of STRUCTS; enum fields take their constant's name (or its
    value), pointer fields the name of an array."""
    struct = STRUCTS[ctype]
    if struct.positional:
        if list(values) != [f.name for f in struct.fields]:
            raise ValueError(f"{ctype} takes every field in order: {[f.name for f in struct.fields]}")
        return "{" + ", ".join(_c_value(f, values[f.name]) for f in struct.fields) + "}"
    return "{" + ", ".join(f".{name} = {_c_value(struct.field(name), value)}" for name, value in values.items()) + "}"


def _c_value(field: Field, value) -> str:
    if field.ctype in STRUCTS:
        return c_initializer(field.ctype, value)
    if is_pointer(field.ctype) or field.ctype in ENUMS and isinstance(value, str):
        return str(value)
    return str(int(value))


# -- ctypes ---------------------------------------------------------------------------------------

_SCALARS = {"int32_t": ctypes.c_int32, "const int32_t *": ctypes.POINTER(ctypes.c_int32),
            "const int8_t *": ctypes.POINTER(ctypes.c_int8)}


@functools.lru_cache(maxsize=None)
def ctypes_struct(name: str) -> type[ctypes.Structure]:
    """The ctypes structure of STRUCTS[name], laid out as the host C compiler lays out the typedef."""
    fields = []
    for field in STRUCTS[name].fields:
        if field.ctype in STRUCTS:
            fields.append((field.name, ctypes_struct(field.ctype)))
        elif field.ctype in ENUMS:
            fields.append((field.name, ctypes.c_int32))
        else:
            fields.append((field.name, _SCALARS[field.ctype]))
    return type(name, (ctypes.Structure,), {"_fields_": fields})


def flat_fields(ctype: str, prefix: str = "") -> list[tuple[str, Field]]:
    """Every leaf field of a struct, nested ones as "outer.inner", in declaration order."""
    out = []
    for field in STRUCTS[ctype].fields:
        if field.ctype in STRUCTS:
            out += flat_fields(field.ctype, f"{prefix}{field.name}.")
        else:
            out.append((prefix + field.name, field))
    return out


def main() -> None:
    from ..resources import firmware_dir

    path = firmware_dir("kernels") / ABI_HEADER
    path.write_text(render_header())
    print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
