"""The model zoo against its papers (FlyNet, MobileNetV3, MicroNet): params, backbone params and MAdds.

    python benchmarks/models_vs_paper.py [--input-size 224] [--classes 1000]

Every number comes from `profile_model` on the registry model (fx graph, batch 1); the paper's
come from FlyNet's Tables 2-5, MobileNetV3's published counts and MicroNet's Table 1.  Ratios are
ours / paper.  docs/architecture.md explains the layer tables and the one row (FlyNet 0.6x params)
that does not match.
"""

from __future__ import annotations

import argparse

import torch

from flynet_tiny.models import build_model
from flynet_tiny.models.paper import PAPER_COUNTS
from flynet_tiny.models.profiler import profile_model
from flynet_tiny.reporting import format_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input-size", type=int, default=224)
    parser.add_argument("--classes", type=int, default=1000)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for name, (params, backbone, madds) in PAPER_COUNTS.items():
        result = profile_model(build_model(name, num_classes=args.classes, input_size=args.input_size),
                               args.input_size)
        ours_p, ours_b, ours_m = result.total_params / 1e6, result.backbone_params / 1e6, result.total_madds / 1e6
        rows.append([
            name, params, f"{ours_p:.3f}", f"{ours_p / params:.3f}",
            "-" if backbone is None else backbone, f"{ours_b:.3f}",
            "-" if backbone is None else f"{ours_b / backbone:.3f}",
            madds, f"{ours_m:.2f}", f"{ours_m / madds:.3f}",
            f"{result.peak_activation_bytes / 1024:.0f}",
        ])
    print(f"{args.input_size}x{args.input_size}, {args.classes} classes (paper numbers at 224, 1000)")
    print(format_table(["model", "params paper M", "ours M", "ratio", "backbone paper M", "ours M", "ratio",
                        "MAdds paper M", "ours M", "ratio", "peak int8 KiB"], rows, "lrrrrrrrrrr"))


if __name__ == "__main__":
    main()
