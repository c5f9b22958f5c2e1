"""The op chain the converter emits for a mean-and-variance-aware ECA block, as a one-block TFLite model.

The code generator fuses it into one fn_eca_s8 layer; the kernel tests compare that layer with TFLite
Micro running the chain, and benchmarks/kernels_bench.py counts its instructions.
"""

from __future__ import annotations

import numpy as np

from flynet_tiny.int8 import kernel_params as qp
from flynet_tiny.tflite import TFLiteBuilder


def eca_chain_model(shape, x_q, stat_q, sqdiff_q, kernel, kernel_scale, bias, score_q, y_q, use_softmax, heads, beta):
    """MEAN, SQUARED_DIFFERENCE, MEAN, RESHAPE+CONCATENATION, CONV_2D, RESHAPE, LOGISTIC|SOFTMAX, MUL."""
    n, h, w, c = shape
    attn_q = (qp.ATTENTION_SCALE, qp.ATTENTION_ZERO_POINT)
    b = TFLiteBuilder("eca chain")

    def t(name, dims, q):
        return b.add_tensor(name, dims, "int8", scale=q[0], zero_point=q[1])

    def reshape(src, dims, q, name):
        dst = t(name, dims, q)
        b.add_operator("RESHAPE", [src, b.add_constant(name + "_shape", np.array(dims, dtype=np.int32))], [dst],
                       {"new_shape": list(dims)})
        return dst

    axes = b.add_constant("axes", np.array([1, 2], dtype=np.int32))
    x = t("x", shape, x_q)
    mean = t("mean", (n, 1, 1, c), stat_q)
    b.add_operator("MEAN", [x, axes], [mean], {"keep_dims": True})
    sqd = t("sqdiff", shape, sqdiff_q)
    b.add_operator("SQUARED_DIFFERENCE", [x, mean], [sqd])
    var = t("var", (n, 1, 1, c), stat_q)
    b.add_operator("MEAN", [sqd, axes], [var], {"keep_dims": True})
    stats = t("stats", (n, 1, c, 2), stat_q)
    b.add_operator("CONCATENATION", [reshape(mean, (n, 1, c, 1), stat_q, "mean_col"),
                                     reshape(var, (n, 1, c, 1), stat_q, "var_col")], [stats], {"axis": 3})
    k = b.add_tensor("k", (1, 1, len(kernel) // 2, 2), "int8", data=np.asarray(kernel, np.int8).reshape(1, 1, -1, 2),
                     scale=[kernel_scale], zero_point=[0])
    kb = b.add_tensor("kb", (1,), "int32", data=np.array([bias], np.int32),
                      scale=[float(np.float32(stat_q[0]) * np.float32(kernel_scale))], zero_point=[0])
    score = t("score", (n, 1, c, 1), score_q)
    b.add_operator("CONV_2D", [stats, k, kb], [score], {"padding": "SAME", "stride_h": 1, "stride_w": 1})
    if use_softmax:
        grouped = reshape(score, (n, c // heads, heads), score_q, "grouped")
        attn_g = t("attn_g", (n, c // heads, heads), attn_q)
        b.add_operator("SOFTMAX", [grouped], [attn_g], {"beta": beta})
        attn = reshape(attn_g, (n, 1, 1, c), attn_q, "attn")
    else:
        attn_flat = t("attn_flat", (n, 1, c, 1), attn_q)
        b.add_operator("LOGISTIC", [score], [attn_flat])
        attn = reshape(attn_flat, (n, 1, 1, c), attn_q, "attn")
    y = t("y", shape, y_q)
    b.add_operator("MUL", [x, attn], [y])
    b.set_io([x], [y])
    return b.build()
