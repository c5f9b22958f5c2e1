"""FlyNet-h3, MobileNetV3-Small and MicroNet side by side on CIFAR-10 at matched parameter counts.

    python benchmarks/zoo_cifar10.py --data ../shared/datasets/cifar10 --out zoo_runs [--epochs 20]
        [--qat-epochs 3] [--sizes 0.5M,1M] [--models NAME,...] [--train-images N] [--bench-inputs 2]

One recipe for every model, through the same functions as `flynet-tiny train` and `flynet-tiny train
--qat` (train.command.finish_run: SGD momentum 0.9, lr 0.05 cosine, batch 64, random crop + flip,
weight decay by the paper's size rule; QAT: calibrate, then lr 0.005 with straight-through
gradients), 32x32 inputs with stem stride 1. Per model it measures:

- fp32 and int8 top-1 on the test split and on `test_lossless_subset/` (the original lossless pixels
  of CIFAR-10 test images 0-845, see the dataset's SOURCE.md: test/ and train/ are decoded JPEGs);
  int8 is the integer mode (TFLite Micro's arithmetic, what the board computes) of the QAT model,
  scored as `flynet-tiny evaluate` scores it (quant.evaluate.parallel_top1);
- parameters and MACs (`profile`), and from the exported int8 model (`flynet-tiny export`) built
  for each board (does it fit its flash?) and run in QEMU (`flynet-tiny bench`): instructions per
  inference, estimated ms, arena and flash bytes (outputs bit-exact vs the host build and TFLM,
  checked by the bench itself). A model too big for a board's flash is benched on the emulated
  machine's larger flash with the board's timing model, and marked "no fit".

Every stage writes its result into --out/<model>/ (training checkpoints, stage JSON files), so
a rerun resumes where the previous one stopped. The training stages run for every model before
any QAT starts. Output: a table on the terminal, --out/zoo_cifar10.json and --out/zoo_cifar10.png
(int8 top-1 against estimated ms on each board).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from flynet_tiny.data.datasets import ImageDataset, load_dataset
from flynet_tiny.reporting import atomic_write_bytes, atomic_write_text, format_table

SIZES = {
    "0.5M": ("flynet-h3-0.6", "mobilenetv3-small-0.45", "micronet-m2-0.6"),
    "1M": ("flynet-h3-0.9", "mobilenetv3-small-0.75", "micronet-m2-0.85"),
}
TARGETS = ("f446re", "f746zg")
CALIB_SAMPLES = 512
SEED = 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/datasets/cifar10", help="CIFAR-10 class folders (train/, test/, "
                        "test_lossless_subset/)")
    parser.add_argument("--out", default="zoo_runs", help="run folder (resumed when it exists)")
    parser.add_argument("--epochs", type=int, default=20, help="float training epochs (same for every model)")
    parser.add_argument("--qat-epochs", type=int, default=3)
    parser.add_argument("--sizes", default="0.5M", help=f"comma-separated: {', '.join(SIZES)}")
    parser.add_argument("--models", default="", help="comma-separated subset of the sizes' models")
    parser.add_argument("--train-images", type=int, default=0, help="first N/10 training images per class (0: all)")
    parser.add_argument("--test-images", type=int, default=0, help="first N/10 test images per class (0: all)")
    parser.add_argument("--monitor-images", type=int, default=1000,
                        help="class-balanced test images scored after every epoch (the final scores use all)")
    parser.add_argument("--bench-inputs", type=int, default=2, help="test images run per QEMU bench")
    parser.add_argument("--stop-after", choices=["train", "qat", "evaluate", "bench"], default="bench",
                        help="last stage to run in this invocation")
    args = parser.parse_args()
    torch.set_num_threads(1)  # a second thread is slower on the shared 2-core machine (benchmarks/train_speed.py)

    unknown = [size for size in args.sizes.split(",") if size.strip() not in SIZES]
    if unknown:
        parser.error(f"unknown --sizes {', '.join(unknown)}: use {', '.join(SIZES)}")
    names = [n for size in args.sizes.split(",") for n in SIZES[size.strip()]]
    if args.models:
        names = [n for n in names if n in args.models.split(",")]
    out = Path(args.out)
    data = Data(Path(args.data), args.train_images, args.test_images, args.monitor_images)
    stages = ["train", "qat", "evaluate", "bench"]
    last = stages.index(args.stop_after)
    for stage in stages[:last + 1]:
        for name in names:
            run_stage(stage, name, out / name, data, args)
    if last == len(stages) - 1:
        rows = [json.loads((out / name / "result.json").read_text()) for name in names]
        note = (f"{len(data.train):,} training images ({len(data.train) // 10:,} per class), scored on "
                f"{len(data.test):,} test and {len(data.lossless)} lossless test images "
                f"(per-epoch monitor: {len(data.monitor):,} test images)")
        write_summary(rows, out, args, note)


class Data:
    """The splits, loaded once: train (the store's 1,000 per class), test (10,000), the lossless subset (846),
    and the per-epoch monitor (class-balanced test images)."""

    def __init__(self, root: Path, train_images: int = 0, test_images: int = 0, monitor_images: int = 1000):
        from flynet_tiny.data.model_inputs import balanced_indices

        start = time.perf_counter()
        self.root = root
        self.train = _first_per_class(load_dataset(root, "train", input_size=32), train_images)
        self.test = _first_per_class(load_dataset(root, "test", input_size=32), test_images)
        self.lossless = _lossless_subset(root / "test_lossless_subset", self.test.info)
        self.monitor = self.test.subset(balanced_indices(self.test.labels.numpy(), monitor_images))
        print(f"data: {len(self.train)} train, {len(self.test)} test, {len(self.lossless)} lossless test images "
              f"({time.perf_counter() - start:.0f} s)", file=sys.stderr)


def _first_per_class(dataset: ImageDataset, count: int) -> ImageDataset:
    """The first count / 10 images of each class (all of them for 0)."""
    if not count:
        return dataset
    per_class = max(1, count // dataset.info.num_classes)
    keep = [i for c in range(dataset.info.num_classes) for i in (dataset.labels == c).nonzero().flatten()[:per_class].tolist()]
    return dataset.subset(sorted(keep))


def _lossless_subset(folder: Path, info) -> ImageDataset:
    """Every image of the lossless class folders (a flat tree: the loader's own split would hold out 1 in 10)."""
    import numpy as np
    from PIL import Image

    images, labels = [], []
    for label, name in enumerate(info.class_names):
        for path in sorted((folder / name).glob("*.png")):
            with Image.open(path) as img:
                images.append(np.asarray(img.convert("RGB")).transpose(2, 0, 1))
            labels.append(label)
    return ImageDataset(torch.from_numpy(np.stack(images)), torch.tensor(labels), info)


def run_stage(stage: str, name: str, folder: Path, data: Data, args) -> None:
    done = folder / f"{stage}.json"
    if done.exists():
        return
    folder.mkdir(parents=True, exist_ok=True)
    print(f"== {name}: {stage}", file=sys.stderr, flush=True)
    start = time.perf_counter()
    result = STAGES[stage](name, folder, data, args)
    result["wall_s"] = round(time.perf_counter() - start, 1)
    atomic_write_text(done, json.dumps(result, indent=2) + "\n")
    if stage == "bench":
        merged = {"model": name}
        for part in STAGES:
            merged.update(json.loads((folder / f"{part}.json").read_text()))
            merged[f"{part}_wall_s"] = merged.pop("wall_s")
        atomic_write_text(folder / "result.json", json.dumps(merged, indent=2) + "\n")


# -- stages ------------------------------------------------------------------------------------------

def _float_model(name: str) -> torch.nn.Module:
    """The model `flynet-tiny train --stem-stride 1` builds (seeded as it seeds it)."""
    from flynet_tiny.train.command import _float_model as cli_float_model

    torch.manual_seed(SEED)  # the initial weights are part of the seeded run
    return cli_float_model(name, 10, 32, 3, stem_stride=1)


def _run(folder: Path, data: Data, epochs: int, lr: float):
    """A training run over the subset, as `flynet-tiny train` sets it up (one thread: the machine is shared)."""
    from flynet_tiny.train.command import TrainRun
    from flynet_tiny.train.trainer import TrainConfig

    return TrainRun(folder, TrainConfig(epochs=epochs, batch_size=64, lr=lr, seed=SEED, threads=1), data.train,
                    data.monitor)


def _finish(run, model, extra: dict) -> dict:
    from flynet_tiny.train.command import finish_run
    from flynet_tiny.train.trainer import CHECKPOINT_NAME

    return finish_run(run, model, model.config.to_dict(), extra, resume=(run.out / CHECKPOINT_NAME).exists(),
                      command=" ".join(sys.argv), progress=False)


def stage_train(name: str, folder: Path, data: Data, args) -> dict:
    from flynet_tiny.train.command import FLOAT_DEFAULTS

    metrics = _finish(_run(folder / "fp32", data, args.epochs, FLOAT_DEFAULTS["lr"]), _float_model(name),
                      {"stage": "float"})
    return {"epochs": args.epochs, "train_seconds": round(sum(e["seconds"] for e in metrics["epochs"]), 1),
            "monitor_top1_fp32": metrics["final_test_top1"]}


def _trained_float(name: str, folder: Path) -> tuple[torch.nn.Module, dict]:
    """The float model after its last epoch (not the monitor's best) and its checkpoint."""
    from flynet_tiny.train.checkpoint import load_checkpoint, load_state_into

    model = _float_model(name)
    path = folder / "fp32" / "checkpoint.pt"
    checkpoint = load_checkpoint(path)
    load_state_into(model, checkpoint, path)
    return model.eval(), checkpoint


def _qat_model(name: str, folder: Path, data: Data):
    """The calibrated int8 simulation of the trained float model, as `flynet-tiny train --qat` prepares it
    (deterministic: rebuilt on resume)."""
    from flynet_tiny.data.datasets import normalize
    from flynet_tiny.quant.evaluate import calibration_batches
    from flynet_tiny.quant.qat import prepare_qat

    model, _ = _trained_float(name, folder)
    return prepare_qat(model, normalize(data.train.images[:1]), calibration_batches(data.train, CALIB_SAMPLES),
                       num_samples=CALIB_SAMPLES, progress=False)


def stage_qat(name: str, folder: Path, data: Data, args) -> dict:
    from flynet_tiny.quant.qat_command import QAT_DEFAULTS

    _, source = _trained_float(name, folder)
    run = _run(folder / "qat", data, args.qat_epochs, QAT_DEFAULTS["lr"])
    # as run_qat: the traced QAT graph keeps the temperature the float model ended at
    run.config.temperature_start = run.config.temperature_end = float(source.get("temperature", 1.0))
    metrics = _finish(run, _qat_model(name, folder, data), {"stage": "qat", "calib_samples": CALIB_SAMPLES})
    return {"qat_epochs": args.qat_epochs, "qat_seconds": round(sum(e["seconds"] for e in metrics["epochs"]), 1),
            "monitor_top1_qat_fake_quant": metrics["final_test_top1"]}


def _quantized(name: str, folder: Path, data: Data):
    """The QAT result, frozen (quantize mode), from the QAT run's last checkpoint."""
    from flynet_tiny.quant.qat import convert_qat
    from flynet_tiny.train.checkpoint import load_checkpoint, load_state_into

    model = _qat_model(name, folder, data)
    path = folder / "qat" / "checkpoint.pt"
    load_state_into(model, load_checkpoint(path), path)
    return convert_qat(model)


def stage_evaluate(name: str, folder: Path, data: Data, args) -> dict:
    from flynet_tiny.models.profiler import profile_model
    from flynet_tiny.quant.evaluate import IntegerColumn, parallel_top1

    model, _ = _trained_float(name, folder)
    profile = profile_model(model, 32, 3, name)
    qat = _quantized(name, folder, data)
    result = {"params": profile.total_params, "macs": profile.total_madds,
              "peak_activation_bytes": profile.peak_activation_bytes}
    for split, dataset in (("test", data.test), ("lossless", data.lossless)):
        top1 = parallel_top1({"fp32": model, "int8": IntegerColumn(qat)}, dataset, progress=False)
        result[f"fp32_top1_{split}"], result[f"int8_top1_{split}"] = top1["fp32"], top1["int8"]
        print(f"   {split} ({len(dataset)}): fp32 {top1['fp32']:.4f}, int8 (QAT, integer mode) {top1['int8']:.4f}",
              file=sys.stderr, flush=True)
    return result


# The code memory of each board's QEMU machine: a model too big for the board's flash is benched there.
EMULATED_FLASH_BYTES = {"f446re": 1 << 20,  # netduinoplus2 (STM32F405): 1 MB of flash
                        "f746zg": 4 << 20}  # mps2-an500: 4 MB of code SSRAM at 0x00000000


def _emulated_target(target):
    """The board with its flash grown to the QEMU machine's code memory (the test inputs then sit there too);
    the timing model, clock and wait states stay the board's: the estimate is the board's latency had it the
    flash."""
    import dataclasses

    memory = tuple(dataclasses.replace(m, length=EMULATED_FLASH_BYTES[target.name])
                   if m.name == target.placement["weights"] else m for m in target.memory)
    emulator = {k: v for k, v in target.emulator.items() if k != "test_inputs_region"}
    return dataclasses.replace(target, memory=memory, emulator=emulator)


def _board_build(tflite: Path, target, out: Path) -> dict:
    """Does the firmware (`flynet-tiny build`) fit the board? Built -O2 (the bench's build); when that
    overflows, also -Os (`--opt size`), the option the overflow error suggests. Flash and RAM use, or the
    bytes each build needs."""
    result = _fit(tflite, target, out / "speed", "speed")
    if not result["fits"]:
        result["size_opt"] = _fit(tflite, target, out / "size", "size")
    return result


def _fit(tflite: Path, target, out: Path, opt: str) -> dict:
    import re

    from flynet_tiny.build.from_tflite import build_from_tflite
    from flynet_tiny.errors import FlynetError

    try:
        build = build_from_tflite(tflite, target, out, opt=opt)
    except FlynetError as exc:  # CheckFailed included
        missing = re.search(r"region `?(\w+)'? overflowed by (\d+) bytes", str(exc))
        if missing is None:
            raise
        region = target.region(missing.group(1))
        return {"fits": False, "overflow": str(exc).splitlines()[0], "region": region.name,
                "flash_bytes": region.length + int(missing.group(2)), "flash_size": region.length}
    flash = build.region_usage[target.placement["code"]]
    ram = sum(u.used for n, u in build.region_usage.items() if target.region(n).kind == "ram")
    return {"fits": True, "flash_bytes": flash.used, "flash_size": flash.size, "ram_bytes": ram}


VERIFY_IMAGES = 500
# The float-rounding pairs (fake quant / onnxruntime's QDQ graph vs TFLM) disagree on more images for these
# briefly trained models (about 50% top-1: small logit margins) than the export's bound of 0.97 allows
# (flynet-h3-0.6: 0.945 on 200 test images); the pair that computes what the board computes (PyTorch's
# integer mode vs TFLM) keeps the export's 0.995, and the bench checks the firmware byte for byte.
FLOAT_ROUNDING_MIN_TOP1 = 0.90


def _verify_export(tflite_bytes: bytes, qdq_onnx: Path, qmodel, data: Data) -> dict:
    """`flynet-tiny export`'s runtime agreement check on class-balanced test images: each pair's top-1 agreement
    and the bounds it missed. Only a miss by the integer mode vs TFLM stops the benchmark (the reported int8
    accuracy is the integer mode's; the firmware is checked against TFLM); the others are reported."""
    from flynet_tiny.data.datasets import normalize
    from flynet_tiny.data.model_inputs import balanced_indices
    from flynet_tiny.verify.agreement import TFLM, TORCH_INT, Thresholds, verify

    images = normalize(data.test.images[balanced_indices(data.test.labels.numpy(), VERIFY_IMAGES)]).numpy()
    report = verify(tflite_bytes, qdq_onnx, qmodel, images, Thresholds(min_top1_float_rounding=FLOAT_ROUNDING_MIN_TOP1))
    print(report.table(), file=sys.stderr)
    if any(failure.startswith(f"{TORCH_INT} vs {TFLM}") for failure in report.failures):
        report.check()
    return {"samples": len(images), "top1": {f"{p.a} vs {p.b}": p.top1_agreement for p in report.pairs},
            "max_int8_diff": {f"{p.a} vs {p.b}": p.max_int8_diff for p in report.pairs}, "failures": report.failures}


def stage_bench(name: str, folder: Path, data: Data, args) -> dict:
    """The QAT model through `flynet-tiny export` (QDQ ONNX -> our converter, verified against TFLM and
    LiteRT), then per board `flynet-tiny build` (does it fit?) and the `flynet-tiny bench` run in QEMU
    (bit-exact vs the host build and TFLM, or the bench fails) for instructions and the latency estimate."""
    from flynet_tiny.data.datasets import normalize
    from flynet_tiny.data.model_inputs import BenchInputs, balanced_indices, int8_model_inputs
    from flynet_tiny.errors import CheckFailed
    from flynet_tiny.pipeline.export import ExportRequest, export
    from flynet_tiny.quant.io import save_quantized
    from flynet_tiny.sim.bench import bench_tflite
    from flynet_tiny.sim.bench_report import write_bench_reports
    from flynet_tiny.targets import load_target

    quantized_file = folder / "quantized.pt"
    qmodel = _quantized(name, folder, data)
    save_quantized(qmodel, quantized_file, {"data_info": data.train.info.to_dict(), "source": str(data.root),
                                            "qat": True})
    # verified below on class-balanced images (the export's own check takes the first test images: one class)
    report = export(ExportRequest(out=folder / "export", checkpoint=quantized_file, calib_data=data.root,
                                  verify=False))
    tflite = folder / "export" / "model_int8.tflite"
    tflite_bytes = tflite.read_bytes()
    agreement = _verify_export(tflite_bytes, folder / "export" / "model_qdq.onnx", qmodel, data)
    chosen = balanced_indices(data.test.labels.numpy(), args.bench_inputs)
    inputs = BenchInputs([[x] for x in int8_model_inputs(tflite_bytes, normalize(data.test.images[chosen]).numpy())],
                         f"{args.bench_inputs} test images, one per class in turn")
    result = {"tflite_bytes": report["tflite_bytes"], "tflm_arena_bytes": report["arena_bytes"]["total"],
              "verification": agreement}
    for target_name in TARGETS:
        target = load_target(target_name)
        board = _board_build(tflite, target, folder / f"board_{target_name}")
        try:
            bench = bench_tflite(tflite_bytes, target if board["fits"] else _emulated_target(target), inputs,
                                 folder / f"bench_{target_name}", opt="speed", model_name=name)
        except CheckFailed as exc:  # too big even for the QEMU machine's memory: no count for this board
            if board["fits"] or "does not fit" not in str(exc):
                raise
            result[target_name] = {**board, "instructions": None, "estimated_ms": None, "arena_bytes": None,
                                   "bench_skipped": str(exc).splitlines()[0]}
            print(f"   {target_name}: not benched: {result[target_name]['bench_skipped']}", file=sys.stderr)
            continue
        write_bench_reports(bench, folder / f"bench_{target_name}")  # per-layer report.md / .json, latency.png
        checks = bench.checks
        if not (checks["host_bit_exact"] and checks["tflm_bit_exact"]):
            raise SystemExit(f"{name} on {target_name}: the firmware is not bit-exact with TFLM")
        result[target_name] = {**board, "instructions": bench.totals["instructions"],
                               "estimated_ms": bench.totals["estimated_ms"], "arena_bytes": bench.generated.arena_bytes,
                               "bench_flash_bytes": bench.memory["flash_bytes"], "bit_exact": True}
        print(f"   {target_name}: {bench.totals['instructions']:,.0f} instructions, "
              f"{bench.totals['estimated_ms']:.1f} ms, arena {bench.generated.arena_bytes:,} B, "
              f"flash {board['flash_bytes']:,} B{'' if board['fits'] else ' (does not fit: ' + board['overflow'] + ')'}",
              file=sys.stderr)
    return result


STAGES = {"train": stage_train, "qat": stage_qat, "evaluate": stage_evaluate, "bench": stage_bench}


# -- summary -----------------------------------------------------------------------------------------

def _flash_cell(board: dict) -> str:
    """Flash bytes of the -O2 build; where it overflows, the -Os build's too."""
    if board["fits"]:
        return f"{board['flash_bytes']:,}"
    size = board["size_opt"]
    return f"{board['flash_bytes']:,} no fit (-Os {size['flash_bytes']:,}{'' if size['fits'] else ' no fit'})"


def _count_cells(board: dict) -> tuple[str, str]:
    """Minstr and ms, or '-' where the model did not fit even the QEMU machine's memory."""
    if board["instructions"] is None:
        return "-", "-"
    return f"{board['instructions'] / 1e6:.2f}", f"{board['estimated_ms']:.1f}"


def write_summary(rows: list[dict], out: Path, args, note: str) -> None:
    """The table, JSON and plot; the epochs are the runs' own (a resumed run keeps its first --epochs)."""
    epochs = "/".join(sorted({str(r["epochs"]) for r in rows}))
    qat_epochs = "/".join(sorted({str(r["qat_epochs"]) for r in rows}))
    headers = ["model", "params", "MACs", "fp32 test", "int8 test", "fp32 lossless", "int8 lossless",
               *(f"{t} {k}" for t in TARGETS for k in ("Minstr", "ms")), "arena B", "TFLM arena B",
               *(f"flash B {t}" for t in TARGETS)]
    table = []
    for r in rows:
        table.append([r["model"], f"{r['params']:,}", f"{r['macs'] / 1e6:.2f}M",
                      f"{100 * r['fp32_top1_test']:.2f}", f"{100 * r['int8_top1_test']:.2f}",
                      f"{100 * r['fp32_top1_lossless']:.2f}", f"{100 * r['int8_top1_lossless']:.2f}",
                      *(v for t in TARGETS for v in _count_cells(r[t])),
                      f"{r['f746zg']['arena_bytes']:,}", f"{r['tflm_arena_bytes']:,}", *(_flash_cell(r[t]) for t in TARGETS)])
    text = format_table(headers, table, "l" + "r" * (len(headers) - 1))
    print(f"CIFAR-10, 32x32, stem stride 1; {epochs} float epochs + {qat_epochs} QAT epochs on {note}; "
          "top-1 in %; int8 = integer mode of the QAT model (TFLM's arithmetic); Minstr / ms = QEMU instruction "
          "count per inference and the board's pipeline timing model (-O2, DSP kernels), bit-exact vs host and TFLM; "
          "arena = the generated C's arena (TFLM arena: TFLite Micro's for the same model); flash = the board build's flash use; no fit = more than the board's "
          "flash (then benched on the QEMU machine's larger flash with the board's timing model)")
    print(text)
    atomic_write_text(out / "zoo_cifar10.json", json.dumps({"epochs": epochs, "qat_epochs": qat_epochs,
                                                            "data": note, "rows": rows}, indent=2) + "\n")
    atomic_write_bytes(out / "zoo_cifar10.png", plot(rows, f"{epochs} float + {qat_epochs} QAT epochs on {note}"))
    print(f"wrote {out / 'zoo_cifar10.json'} and {out / 'zoo_cifar10.png'}")


FAMILY_STYLE = {"flynet": ("tab:red", "o"), "mobilenetv3": ("tab:blue", "s"), "micronet": ("tab:green", "^")}


def plot(rows: list[dict], note: str) -> bytes:
    """int8 top-1 against estimated ms, one panel per board; hollow markers: the model does not fit the board."""
    import io

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    fig, axes = plt.subplots(1, len(TARGETS), figsize=(5.5 * len(TARGETS), 4.2), sharey=True)
    for ax, target in zip(axes, TARGETS):
        benched = [r for r in rows if r[target]["estimated_ms"] is not None]
        for i, r in enumerate(sorted(benched, key=lambda r: r[target]["estimated_ms"])):
            color, marker = FAMILY_STYLE[r["model"].split("-")[0]]
            x, y = r[target]["estimated_ms"], 100 * r["int8_top1_test"]
            ax.scatter(x, y, s=60, marker=marker, edgecolors=color, linewidths=1.5,
                       facecolors=color if r[target]["fits"] else "none")
            ax.annotate(f"{r['model']} ({r['params'] / 1e6:.2f}M)", (x, y), textcoords="offset points",
                        xytext=(0, 8 if i % 2 == 0 else -14), ha="center", fontsize=8)
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(ScalarFormatter())
        ax.tick_params(axis="x", which="minor", labelsize=7)
        ax.margins(x=0.25, y=0.25)
        ax.set(xlabel=f"estimated ms per inference, {target} (log)", title=f"{target}: int8 top-1 vs latency")
        ax.grid(alpha=0.3, which="both")
    axes[0].set_ylabel("int8 top-1 on the test split (%)")
    fig.suptitle(f"CIFAR-10 at matched parameters; hollow = does not fit the board's flash\n{note}", fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90)
    plt.close(fig)
    return buffer.getvalue()


if __name__ == "__main__":
    main()
