"""RESIZE_NEAREST_NEIGHBOR and RESIZE_BILINEAR: TFLM's sample positions computed at generation time
(per output row and column, into flash), so the kernels only gather and weigh bytes."""

from __future__ import annotations

import numpy as np

from ...int8 import kernel_params as qp
from ..layer_code import ConstArray, LayerCode, dims_object, shape_text
from ..overlap import BilinearSamples, NearestCopies, Overlap
from .common import status_call
from .registry import emitter, unsupported


@emitter("RESIZE_NEAREST_NEIGHBOR", "RESIZE_BILINEAR")
def _resize(ir, layer, prefix):
    x, out = ir.tensor(layer.inputs[0]), ir.tensor(layer.outputs[0])
    if len(x.shape) != 4 or len(out.shape) != 4 or x.shape[0] != out.shape[0] or x.shape[3] != out.shape[3]:
        raise unsupported(ir, layer, f"{layer.kind} from {shape_text(x.shape)} to {shape_text(out.shape)}")
    size = ir.constant(layer, 1)
    if size is not None and [int(v) for v in size.reshape(-1)] != [int(out.shape[1]), int(out.shape[2])]:
        raise unsupported(ir, layer, f"a size operand {size.reshape(-1).tolist()} other than the output's")
    align = bool(layer.options.get("align_corners", False))
    half = bool(layer.options.get("half_pixel_centers", False))
    if layer.kind == "RESIZE_BILINEAR" and align and half:
        raise unsupported(ir, layer, "align_corners with half_pixel_centers (TFLM refuses it)")
    (_, in_h, in_w, _), (_, out_h, out_w, _) = x.shape, out.shape
    if layer.kind == "RESIZE_NEAREST_NEIGHBOR":
        rows = qp.resize_nearest_indices(in_h, out_h, align, half)
        cols = qp.resize_nearest_indices(in_w, out_w, align, half)
        function = "fn_resize_nearest_s8"
        schedule = NearestCopies(tuple(map(int, x.shape)), tuple(map(int, rows)), tuple(map(int, cols)))
        reason = "nearest resize: output pixels in raster order, each one memcpy after its input pixel's last copy"
    else:
        rows = [v for sample in qp.resize_bilinear_samples(in_h, out_h, align, half) for v in sample]
        cols = [v for sample in qp.resize_bilinear_samples(in_w, out_w, align, half) for v in sample]
        function = "fn_resize_bilinear_s8"
        schedule = BilinearSamples(tuple(map(int, x.shape)), tuple(map(int, rows)), tuple(map(int, cols)))
        reason = "bilinear resize: output bytes in raster order, each written after its four input bytes were read"
    arrays = [ConstArray(f"{prefix}_rows", "int32_t", np.asarray(rows, dtype=np.int32)),
              ConstArray(f"{prefix}_cols", "int32_t", np.asarray(cols, dtype=np.int32))]
    mode = ", ".join(name for name, on in (("align_corners", align), ("half_pixel_centers", half)) if on)
    return LayerCode(f"{shape_text(x.shape)} -> {shape_text(out.shape)}" + (f", {mode}" if mode else ""),
                     status_call(f"{function}(&in_dims, @IN0@, &out_dims, {prefix}_rows, {prefix}_cols, @OUT0@)"),
                     arrays, objects=[dims_object("in_dims", x.shape), dims_object("out_dims", out.shape)],
                     overlap=Overlap(0, (schedule,), reason))
