"""Counts the papers report at 224x224 and 1000 classes: FlyNet (Tables 2-5), MobileNetV3's published
counts, and MicroNet (Li et al. 2021, Table 1 and Table 7: M0-M3).

name: (params M, backbone params M or None, MAdds M).  Backbone = everything before the
classifier head (paper Table 4).  docs/architecture.md compares them with ours.
"""

PAPER_COUNTS: dict[str, tuple[float, float | None, float]] = {
    "flynet-h3-0.4": (0.657, 0.14, 26.5),
    "flynet-h3-0.5": (0.86, 0.19, 34),
    "flynet-h3-0.6": (1.0, 0.24, 46),
    "flynet-h3-0.7": (1.3, None, 54),
    "flynet-h3-0.8": (1.6, 0.41, 66),
    "flynet-h1-0.5": (0.80, None, 24),
    "flynet-h2-0.5": (0.83, None, 29),
    "flynet-h4-0.5": (0.89, None, 39),
    "flynet-h5-0.5": (0.92, None, 44),
    "mobilenetv3-small-1.0": (2.5, None, 56),
    "mobilenetv3-small-0.5": (1.6, None, 21),
    # MicroNet MAdds include applying dynamic Shift-Max (O(HWCJK), paper section 4).
    "micronet-m0": (1.0, None, 4),
    "micronet-m1": (1.8, None, 6),
    "micronet-m2": (2.4, None, 12),
    "micronet-m3": (2.6, None, 21),
}

# The 0.6x params and backbone are lower than any table consistent with the other rows gives
# (see docs/architecture.md); we do not match them.
UNMATCHED = {("flynet-h3-0.6", "params"), ("flynet-h3-0.6", "backbone")}
