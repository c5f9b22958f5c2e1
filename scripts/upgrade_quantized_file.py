"""Rewrite a version-1 quantized file (a pickled QuantizedModel) in the current format (tensors + plain data).

    python3 scripts/upgrade_quantized_file.py OLD.pt NEW.pt [--temperature 1.0]

Version 1 pickled the whole module, graph code included, so reading it runs whatever the file says:
run this ONLY on files you made yourself (it is how flynet_tiny/pretrained/flynet-fashion-mnist.pt
was converted). flynet-tiny itself never reads such a file. The new file is written only when the
model rebuilt from it computes the same bytes as the old one (fake-quant and integer mode, on random
inputs); pass the softmax-ECA --temperature the model was quantized at if it was not 1.
"""

import argparse
from pathlib import Path

import torch

from flynet_tiny.quant.io import load_quantized, save_quantized


def input_qparams_of(qmodel) -> tuple[float, int] | None:
    """The fixed qparams of the graph input's quantizer group (None when it was observed)."""
    placeholders = {n.name for n in qmodel.graph_module.graph.nodes if n.op == "placeholder"}
    name = next(q for q, node in qmodel.producer_of.items() if node in placeholders)
    return qmodel.fixed_qparams[qmodel.group_of[name]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--temperature", type=float, default=1.0)
    args = parser.parse_args()
    data = torch.load(args.old, map_location="cpu", weights_only=False)  # trusted input only, see above
    if not (isinstance(data, dict) and data.get("format") == "flynet-tiny-quantized/1"):
        raise SystemExit(f"{args.old} is not a version-1 quantized file")
    old = data["model"].eval()
    old.input_qparams = input_qparams_of(old)
    old.temperature = args.temperature if old.config.attention == "eca" else None  # only ECA has one
    save_quantized(old, args.new, data["info"])
    new, _ = load_quantized(args.new)
    old.set_quantize()
    images = torch.rand((8, *old.input_shape[1:])) * 2 - 1
    with torch.no_grad():
        same = torch.equal(old(images), new(images))
        with old.integer_mode(), new.integer_mode():
            same = same and torch.equal(old(images), new(images))
    if not same:
        args.new.unlink()
        raise SystemExit("the rebuilt model computes other outputs: check --temperature; nothing written")
    print(f"wrote {args.new}: same outputs as {args.old} in fake-quant and integer mode")


if __name__ == "__main__":
    main()
