"""Kernel parameter structs stored in fewer bytes of flash, widened for the call.

The kernels take structs of int32 fields (fn_conv_params: 14 x 4 bytes), but a model's values
are mostly strides, paddings, zero points and activation bounds that fit in one or two bytes.
For a struct type with many objects in a model, `pack_parameters` declares a mirror type whose
fields are as narrow as this model's values allow and a `widen_<kind>` function copying one
object into the full struct; each call then passes `widen_conv_params(&conv_params_3)`, so the
kernel reads exactly the values the generator computed (the arithmetic is unchanged). A field
holding the same value in every object is set by the widen function and stored nowhere. A type
is packed only where the bytes saved exceed the widening function and the extra call per use.
"""

from __future__ import annotations

import re

# Parameter structs whose fields are 32-bit integers, an int-sized enum (cast back), nested
# structs of those, or a known pointer field (kept as a pointer).
PACKABLE_TYPES = ("fn_conv_params", "fn_add_params", "fn_mul_params", "fn_hard_swish_params", "fn_fc_params",
                  "fn_pool_params", "fn_mean_params", "fn_logistic_params", "fn_softmax_params", "fn_eca_params")
ENUM_FIELDS = {"padding": "fn_padding"}
ENUM_VALUES = {"FN_PADDING_VALID": 0, "FN_PADDING_SAME": 1, "FN_PADDING_EXPLICIT": 2}
POINTER_FIELDS = {"kernel": "const int8_t *"}
_DECLARATION = re.compile(r"^static const (fn_\w+) (\w+) = (\{.*\});$")
_FIELD = re.compile(r"\s*\.(\w+) = ")
# Rough Thumb-2 bytes at -Os: one load + store per widened field (a constant one: a move + store),
# the function's entry and exit, and one more call per use (the F446RE build agrees within a few bytes).
WIDEN_BYTES_PER_FIELD = 6
WIDEN_FIXED_BYTES = 16
CALL_BYTES = 4


def parse_fields(text: str, prefix: str = "") -> dict[str, str]:
    """`{.a = 1, .b = {.c = 2}}` -> {"a": "1", "b.c": "2"}: a designated initializer, nested ones flattened."""
    fields: dict[str, str] = {}
    body, position = text.strip()[1:-1], 0
    while position < len(body):
        match = _FIELD.match(body, position)
        if match is None:
            raise ValueError(f"not a designated initializer: {text}")
        name, position = prefix + match[1], match.end()
        if body[position] == "{":
            depth, end = 0, position
            while True:
                depth += {"{": 1, "}": -1}.get(body[end], 0)
                end += 1
                if depth == 0:
                    break
            fields.update(parse_fields(body[position:end], name + "."))
        else:
            end = body.find(",", position)
            end = len(body) if end < 0 else end
            fields[name] = body[position:end].strip()
        position = end + 1 if end < len(body) and body[end] == "," else end
    return fields


def _width(values: list[int]) -> tuple[str, int]:
    for ctype, size, low, high in (("int8_t", 1, -128, 127), ("int16_t", 2, -32768, 32767)):
        if all(low <= v <= high for v in values):
            return ctype, size
    return "int32_t", 4


def _value(text: str) -> int | None:
    """The integer a field holds, or None for a pointer (an array's name)."""
    if text in ENUM_VALUES:
        return ENUM_VALUES[text]
    try:
        return int(text)
    except ValueError:
        return None


def _packed_type(ctype: str, members: list[tuple[str, dict[str, str]]], uses: int) -> tuple[list[str], dict] | None:
    """The packed mirror type and its widen function (C lines) and its layout; None if not worth packing."""
    kind = ctype.removeprefix("fn_")
    names = list(dict.fromkeys(f for _, fields in members for f in fields))
    stored, constant = {}, {}
    for field in names:
        texts = [fields.get(field, "0") for _, fields in members]
        values = [_value(v) for v in texts]
        if any(v is None for v in values):
            if field.split(".")[-1] not in POINTER_FIELDS:
                return None  # a field this module cannot type: leave the struct as it is
            stored[field] = (POINTER_FIELDS[field.split(".")[-1]], 4)
        elif len(set(values)) == 1 and len(members) > WIDEN_BYTES_PER_FIELD:
            constant[field] = texts[0]  # the same in every object: set by widen, stored nowhere
        else:
            stored[field] = _width(values)
    saved = len(members) * (4 * len(names) - sum(size for _, size in stored.values()))
    cost = WIDEN_FIXED_BYTES + WIDEN_BYTES_PER_FIELD * len(names) + CALL_BYTES * uses
    if saved <= cost:
        return None
    order = sorted(stored, key=lambda f: -stored[f][1])  # widest first: no padding between fields
    member = {f: f.replace(".", "_") for f in names}

    def cast(field: str) -> str:
        leaf = field.split(".")[-1]
        return f"({ENUM_FIELDS[leaf]})" if leaf in ENUM_FIELDS else ""

    lines = [
        f"typedef struct {{ {' '.join(f'{stored[f][0]} {member[f]};' for f in order)} }} {kind}_packed;",
        f"static const {ctype} *widen_{kind}(const {kind}_packed *p)",
        "{",
        f"    /* A compound literal: every field no object sets is 0, as in the unpacked struct. */",
        f"    widened.{kind} = ({ctype}){{",
        *(f"        .{f} = {cast(f)}p->{member[f]}," for f in order),
        *(f"        .{f} = {cast(f)}{value}," for f, value in constant.items()),
        "    };",
        f"    return &widened.{kind};",
        "}",
    ]
    return lines, {"stored": stored, "member": member}


def pack_parameters(declarations: list[str], bodies: list[str]) -> tuple[list[str], list[str]]:
    """(declarations, bodies) with the worthwhile parameter types packed; the others unchanged."""
    objects: dict[str, list[tuple[str, dict[str, str]]]] = {}
    for line in declarations:
        match = _DECLARATION.match(line)
        if match and match[1] in PACKABLE_TYPES:
            objects.setdefault(match[1], []).append((match[2], parse_fields(match[3])))
    helpers, packed, renames = [], {}, {}
    for ctype, members in objects.items():
        uses = sum(len(re.findall(rf"&{name}\b", body)) for name, _ in members for body in bodies)
        found = _packed_type(ctype, members, uses)
        if found is None:
            continue
        lines, layout = found
        helpers += lines
        kind = ctype.removeprefix("fn_")
        for name, fields in members:
            values = ", ".join(f".{layout['member'][f]} = {fields.get(f, '0')}" for f in layout["stored"]
                               if f in fields)
            packed[name] = f"static const {kind}_packed {name} = {{{values}}};"
            renames[name] = f"widen_{kind}(&{name})"
    if not renames:
        return declarations, bodies
    kinds = [ctype for ctype in objects if any(line.endswith(f"{ctype.removeprefix('fn_')}_packed;")
                                               for line in helpers)]
    out = ["/* Parameter structs packed into this model's narrowest field types (flash); widen_*() copies one",
           " * into the int32 struct the kernel takes right before the call, so the values are unchanged.",
           " * One call runs at a time, so the widened structs share their RAM. */",
           "static union {",
           *(f"    {ctype} {ctype.removeprefix('fn_')};" for ctype in kinds),
           "} widened;",
           *helpers, ""]
    for line in declarations:
        match = _DECLARATION.match(line)
        out.append(packed[match[2]] if match and match[2] in packed else line)
    pattern = re.compile(r"&(" + "|".join(map(re.escape, renames)) + r")\b")
    return out, [pattern.sub(lambda m: renames[m[1]], body) for body in bodies]
