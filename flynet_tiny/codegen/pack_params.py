"""Layer parameters at file scope: equal ones shared, each struct type stored in as few bytes as its values need.

`share_objects` gives every distinct parameter object (a struct type and its values) one file-scope
name, so layers with equal shapes or parameters point at the same object (a compiler keeps every static
object apart, even with equal contents). fn_dims objects are named by their value (dims_1x8x8x40, dims_1xm2x1x1 for {1, -2, 1, 1}).

`pack_parameters` then looks at each struct type's objects. The kernels take structs of int32 fields
(fn_conv_params: 14 x 4 bytes), but a model's values are mostly strides, paddings, zero points and
activation bounds that fit in one or two bytes. For a type with many objects it declares a mirror type
whose fields are as narrow as this model's values allow and a `widen_<kind>` function copying one object
into the full struct; each call then passes `widen_conv_params(&conv_params_3)`, so the kernel reads
exactly the values the generator computed (the arithmetic is unchanged). A field holding the same value
in every object is set by the widen function and stored nowhere. A type is packed only where the bytes
saved exceed the widening function and the extra call per use. Both work from the objects' values and
the kernel ABI's field types (`kernel_abi`), never from C text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .kernel_abi import ENUMS, enum_value, flat_fields, is_pointer
from .layer_code import LayerCode, ParamObject

# Rough Thumb-2 bytes at -Os: one load + store per widened field (a constant one: a move + store),
# the function's entry and exit, and one more call per use (the F446RE build agrees within a few bytes).
WIDEN_BYTES_PER_FIELD = 6
WIDEN_FIXED_BYTES = 16
CALL_BYTES = 4


@dataclass
class SharedObjects:
    objects: dict[str, ParamObject] = field(default_factory=dict)    # file-scope name -> object, first use first
    names: list[dict[str, str]] = field(default_factory=list)       # per layer: local name -> file-scope name
    uses: dict[str, int] = field(default_factory=dict)              # file-scope name -> references in the calls


def share_objects(codes: list[LayerCode]) -> SharedObjects:
    shared = SharedObjects()
    by_value: dict[tuple[str, str], str] = {}
    counts: dict[str, int] = {}
    for code in codes:
        names = {}
        for obj in code.objects:
            key = (obj.ctype, obj.initializer)
            if key not in by_value:
                kind = obj.ctype.removeprefix("fn_")
                if kind == "dims":
                    # Strides of a strided slice may be negative: m3 for -3.
                    name = "dims_" + "x".join(str(v).replace("-", "m") for v in obj.values.values())
                else:
                    name = f"{kind}_{counts.get(kind, 0)}"
                    counts[kind] = counts.get(kind, 0) + 1
                by_value[key] = name
                shared.objects[name] = obj
            names[obj.local] = by_value[key]
        for local, name in names.items():
            shared.uses[name] = shared.uses.get(name, 0) + sum(
                len(re.findall(rf"&{re.escape(local)}\b", s)) for s in code.statements)
        shared.names.append(names)
    return shared


def _width(values: list[int]) -> tuple[str, int]:
    for ctype, size, low, high in (("int8_t", 1, -128, 127), ("int16_t", 2, -32768, 32767)):
        if all(low <= v <= high for v in values):
            return ctype, size
    return "int32_t", 4


def _flat_values(obj: ParamObject) -> dict[str, object]:
    """The object's values keyed like `flat_fields` ("mean.shift"), nested dicts flattened."""
    out: dict[str, object] = {}

    def walk(values: dict, prefix: str) -> None:
        for name, value in values.items():
            if isinstance(value, dict):
                walk(value, f"{prefix}{name}.")
            else:
                out[prefix + name] = value
    walk(obj.values, "")
    return out


def _number(ctype: str, value) -> int | None:
    """A field's value as an integer (an enum constant by its value), None for a pointer."""
    if is_pointer(ctype):
        return None
    if ctype in ENUMS and isinstance(value, str):
        return enum_value(ctype, value)
    return int(value)


def _packed_type(ctype: str, members: list[tuple[str, dict]], uses: int) -> tuple[list[str], dict] | None:
    """The packed mirror type and its widen function (C lines) and its layout; None if not worth packing."""
    kind = ctype.removeprefix("fn_")
    types = dict(flat_fields(ctype))
    names = list(dict.fromkeys(f for _, values in members for f in values))  # first-seen order, as the C declares them
    stored, constant = {}, {}
    for name in names:
        ftype = types[name].ctype
        texts = [values.get(name, 0) for _, values in members]
        if is_pointer(ftype):
            stored[name] = (ftype, 4)
        elif len({_number(ftype, v) for v in texts}) == 1 and len(members) > WIDEN_BYTES_PER_FIELD:
            constant[name] = texts[0]  # the same in every object: set by widen, stored nowhere
        else:
            stored[name] = _width([_number(ftype, v) for v in texts])
    saved = len(members) * (4 * len(names) - sum(size for _, size in stored.values()))
    cost = WIDEN_FIXED_BYTES + WIDEN_BYTES_PER_FIELD * len(names) + CALL_BYTES * uses
    if saved <= cost:
        return None
    order = sorted(stored, key=lambda f: -stored[f][1])  # widest first: no padding between fields
    member = {f: f.replace(".", "_") for f in names}

    def cast(name: str) -> str:
        ftype = types[name].ctype
        return f"({ftype})" if ftype in ENUMS else ""

    lines = [
        f"typedef struct {{ {' '.join(f'{stored[f][0]} {member[f]};' for f in order)} }} {kind}_packed;",
        f"static const {ctype} *widen_{kind}(const {kind}_packed *p)",
        "{",
        "    /* A compound literal: every field no object sets is 0, as in the unpacked struct. */",
        f"    widened.{kind} = ({ctype}){{",
        *(f"        .{f} = {cast(f)}p->{member[f]}," for f in order),
        *(f"        .{f} = {cast(f)}{value}," for f, value in constant.items()),
        "    };",
        f"    return &widened.{kind};",
        "}",
    ]
    return lines, {"stored": stored, "member": member}


def pack_parameters(shared: SharedObjects) -> tuple[list[str], dict[str, str]]:
    """(file-scope C lines declaring every object, the C expression each call passes for each object)."""
    by_type: dict[str, list[tuple[str, dict]]] = {}
    for name, obj in shared.objects.items():
        by_type.setdefault(obj.ctype, []).append((name, _flat_values(obj)))
    helpers, packed = [], {}
    references = {name: f"&{name}" for name in shared.objects}
    kinds = []
    for ctype, members in by_type.items():
        if ctype == "fn_dims" or ctype == "fn_channel_quant":
            continue  # passed through as they are: too small, or pointers only
        found = _packed_type(ctype, members, sum(shared.uses.get(name, 0) for name, _ in members))
        if found is None:
            continue
        lines, layout = found
        helpers += lines
        kinds.append(ctype)
        kind = ctype.removeprefix("fn_")
        for name, values in members:
            fields = ", ".join(f".{layout['member'][f]} = {values[f]}" for f in layout["stored"] if f in values)
            packed[name] = f"static const {kind}_packed {name} = {{{fields}}};"
            references[name] = f"widen_{kind}(&{name})"
    declarations = [packed.get(name) or f"static const {obj.ctype} {name} = {obj.initializer};"
                    for name, obj in shared.objects.items()]
    if not packed:
        return declarations, references
    header = ["/* Parameter structs packed into this model's narrowest field types (flash); widen_*() copies one",
              " * into the int32 struct the kernel takes right before the call, so the values are unchanged.",
              " * One call runs at a time, so the widened structs share their RAM. */",
              "static union {",
              *(f"    {ctype} {ctype.removeprefix('fn_')};" for ctype in kinds),
              "} widened;",
              *helpers, ""]
    return header + declarations, references
