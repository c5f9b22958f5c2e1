"""The `flynet-tiny` command line. Each command is a thin wrapper over one stage module.

Exit codes: 0 ok, 1 a check failed, 2 usage or input error, 130 interrupted, 141 stdout closed, 143 terminated.
"""

from __future__ import annotations

import errno
import math
import os
import signal
import sys

import click

from .errors import FlynetError

# Image inputs of a model flynet-tiny did not convert: how pixels become its input values (data/model_inputs.py).
PIXEL_MEAN_HELP = ("Pixel mean for image inputs, one value or one per channel (0..255 units, e.g. 127.5 or "
                   "123.7,116.3,103.5): x = (p - mean) / std, quantized with the model's input scale "
                   "[default: the model's own normalisation, else uint8 input: p, int8: p - 128].")
PIXEL_STD_HELP = "Pixel std for image inputs, with --mean (one value or one per channel)."


def _pixel_values(text: str | None, flag: str) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise FlynetError(f"{flag} {text!r} is not a number or a comma-separated list of numbers") from None


class Number(click.ParamType):
    """An integer or float option within [low, high] (an open end where said); nan and inf are refused too."""

    def __init__(self, kind: type = int, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False):
        self.kind, self.low, self.high, self.low_open, self.high_open = kind, low, high, low_open, high_open
        self.name = "integer" if kind is int else "number"

    def convert(self, value, param, ctx):
        number = (click.INT if self.kind is int else click.FLOAT).convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"must be a finite number, got {value}", param, ctx)
        if self.low is not None and (number <= self.low if self.low_open else number < self.low):
            self.fail(f"must be {'above' if self.low_open else 'at least'} {self.low:g}, got {number:g}", param, ctx)
        if self.high is not None and (number >= self.high if self.high_open else number > self.high):
            self.fail(f"must be {'below' if self.high_open else 'at most'} {self.high:g}, got {number:g}", param, ctx)
        return number


# Option types that refuse out-of-range values before any work, naming the option.
COUNT = Number(int, low=1)
CLASSES = Number(int, low=2)
SEED = Number(int, low=0, high=2 ** 32 - 1)
SECONDS = Number(float, low=0, low_open=True)
FRACTION = Number(float, low=0, high=1)
COSINE = Number(float, low=-1, high=1)
MARGIN = Number(float, low=0, high=1, high_open=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="flynet-tiny")
def cli() -> None:
    """flynet-tiny: FlyNet from PyTorch to int8 firmware for Cortex-M4/M7 boards."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def targets(as_json: bool) -> None:
    """List the supported boards.

    Example: flynet-tiny targets
    """
    from .reporting import format_table, to_json
    from .targets import all_targets

    boards = all_targets()
    if as_json:
        click.echo(to_json([
            {
                "name": t.name, "board": t.board, "mcu": t.mcu, "core": t.core, "clock_hz": t.clock_hz,
                "flash_bytes": t.flash_bytes, "sram_bytes": t.sram_bytes,
                "memory": [{"name": m.name, "origin": m.origin, "length": m.length, "kind": m.kind} for m in t.memory],
            }
            for t in boards
        ]))
        return
    rows = [
        [t.name, t.board, t.core, f"{t.clock_hz // 1_000_000} MHz", f"{t.flash_bytes // 1024} KB",
         f"{t.sram_bytes // 1024} KB", ", ".join(f"{m.name} {m.length // 1024}K" for m in t.memory)]
        for t in boards
    ]
    click.echo(format_table(["target", "board", "core", "clock", "flash", "sram", "regions"], rows, "lllrrrl"))


@cli.command()
@click.argument("model_name", metavar="MODEL")
@click.option("--input-size", type=COUNT, default=224, show_default=True, help="Square input resolution in pixels.")
@click.option("--classes", type=CLASSES, default=1000, show_default=True, help="Number of output classes.")
@click.option("--in-channels", default=3, show_default=True, help="Input channels: 1 or 3.")
@click.option("--stem-stride", default=2, show_default=True, help="Stem stride: 2, or 1 for small inputs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def profile(model_name: str, input_size: int, classes: int, in_channels: int, stem_stride: int,
            as_json: bool) -> None:
    """Per-layer params, MAdds and int8 activation bytes of a registry model, with totals.

    Example: flynet-tiny profile flynet-h3-0.5 --input-size 224 --classes 1000
    """
    from .models import build_model
    from .models.profiler import format_profile, profile_model

    model = build_model(model_name, num_classes=classes, input_size=input_size, in_channels=in_channels,
                        stem_stride=stem_stride)
    result = profile_model(model, input_size, in_channels, name=model_name)
    click.echo(format_profile(result, as_json))


@cli.command()
@click.argument("checkpoint", type=click.Path(dir_okay=False))
@click.option("--data", "data_path", required=True, type=click.Path(), help="Dataset folder (IDX files or class folders).")
@click.option("--calib-samples", type=COUNT, default=512, show_default=True, help="Training images used for calibration.")
@click.option("--method", type=click.Choice(["minmax", "percentile", "mse"]), default="minmax", show_default=True,
              help="How activation ranges are chosen from the calibration data.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False), default=None,
              help="Quantized model file [default: CHECKPOINT with suffix .int8.pt].")
@click.option("--onnx", "onnx_path", type=click.Path(dir_okay=False), default=None, help="Also write QDQ ONNX here.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def quantize(checkpoint: str, data_path: str, calib_samples: int, method: str, out_path: str | None,
             onnx_path: str | None, as_json: bool) -> None:
    """Post-training int8 quantization (TFLite int8 spec) of a trained checkpoint.

    Example: flynet-tiny quantize runs/fmnist/best.pt --data ../shared/datasets/fashion-mnist --method mse --onnx out/model_qdq.onnx
    """
    from pathlib import Path

    from .pipeline.quantize import quantize_command
    from .reporting import format_table, to_json

    out = out_path or str(Path(checkpoint).with_suffix(".int8.pt"))
    result = quantize_command(checkpoint, data_path, out, calib_samples, method, onnx_path, progress=not as_json)
    if as_json:
        click.echo(to_json(result))
        return
    click.echo(format_table(["field", "value"], [[k, v] for k, v in result.items() if v is not None], "ll"))


@cli.command()
@click.argument("checkpoint", required=False, type=click.Path(dir_okay=False))
@click.option("--data", "data_path", required=True, type=click.Path(), help="Dataset folder (IDX files or class folders).")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--calib-samples", type=COUNT, default=512, show_default=True,
              help="Calibration images when CHECKPOINT is a float checkpoint.")
@click.option("--method", type=click.Choice(["minmax", "percentile", "mse"]), default="minmax", show_default=True)
@click.option("--samples", type=int, default=None, help="Evaluate the first N images of the split [default: all].")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def evaluate(checkpoint: str | None, data_path: str, split: str, calib_samples: int, method: str,
             samples: int | None, as_json: bool) -> None:
    """fp32 and int8 top-1 side by side; the bundled model when no CHECKPOINT is given.

    int8 fake-quant rounds each op's float result; int8 integer computes TFLite Micro's fixed-point
    arithmetic, so it is the accuracy the board gets.

    Example: flynet-tiny evaluate runs/fmnist/best.int8.pt --data ../shared/datasets/fashion-mnist --samples 1000
    """
    from .quant.evaluate import evaluate_file
    from .reporting import format_table, to_json

    result = evaluate_file(checkpoint, data_path, split, calib_samples, method, progress=not as_json, samples=samples)
    if as_json:
        click.echo(to_json(result))
        return
    click.echo(format_table(
        ["model", "split", "images", "fp32 top-1", "int8 top-1", "int8 - fp32", "int8 integer top-1"],
        [[result["model"], result["split"], result["samples"], f"{100 * result['fp32_top1']:.2f}%",
          f"{100 * result['int8_top1']:.2f}%", f"{100 * result['int8_minus_fp32']:+.2f} pt",
          f"{100 * result['int8_integer_top1']:.2f}%"]], "llrrrrr"))


@cli.command()
@click.argument("elf", type=click.Path(dir_okay=False))
@click.option("--target", "target_name", required=True, help="Board the firmware was built for (see `flynet-tiny targets`).")
@click.option("--timeout", "timeout_s", type=SECONDS, default=60.0, show_default=True, help="Wall-clock limit in seconds.")
@click.option("--no-count", is_flag=True, help="Run without the instruction-counting plugin.")
@click.option("--board-elf", type=click.Path(dir_okay=False), default=None,
              help="Real-board build of the same program: also run it in Renode when renode is on PATH.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def emulate(elf: str, target_name: str, timeout_s: float, no_count: bool, board_elf: str | None, as_json: bool) -> None:
    """Run an emulation build in QEMU: per-layer instruction counts and estimated latency.

    Exits 1 when the firmware faults, hangs or returns non-zero, naming the layer.
    With --board-elf, writes a Renode script beside that ELF and runs it where Renode exists.

    Given a board build, says which commands give the emulation build of the same model.

    Example: flynet-tiny build --target f446re --emulation && flynet-tiny emulate build/f446re-emu/firmware.elf --target f446re
    """
    from .reporting import to_json
    from .sim.qemu import run_qemu
    from .sim.report import emulation_json, emulation_table, weights_in_flash
    from .targets import load_target


    target = load_target(target_name)
    result = run_qemu(elf, target, timeout_s=timeout_s, plugin=not no_count,
                      progress=lambda message: click.echo(message, err=True))
    flash = weights_in_flash(elf, target)
    click.echo(to_json(emulation_json(result, target, flash)) if as_json else emulation_table(result, target, flash))
    if board_elf:
        from .errors import FlynetError
        from .sim.renode import find_renode, run_renode, write_resc

        if find_renode() is None:
            click.echo(f"Renode not found on PATH: wrote {write_resc(board_elf, target)[0]} for a machine that has it", err=True)
        else:
            renode = run_renode(board_elf, target, timeout_s=timeout_s)
            click.echo(renode.uart_text.rstrip(), err=True)
            if not renode.finished:
                raise FlynetError(f"Renode run of {board_elf} did not finish within {timeout_s:g} s")
    result.raise_for_failure()


@cli.command()
@click.argument("model_name", metavar="MODEL")
@click.option("--data", "data_path", required=True, type=click.Path(), help="Dataset folder (IDX files or class folders).")
@click.option("--epochs", type=int, default=None, help="Epochs [default: 30, or 5 with --qat].")
@click.option("--batch-size", type=COUNT, default=64, show_default=True)
@click.option("--lr", type=float, default=None, help="Peak learning rate of the cosine schedule [default: 0.05, or 0.005 with --qat].")
@click.option("--input-size", type=COUNT, default=32, show_default=True, help="Square model input; images are padded or resized to it.")
@click.option("--in-channels", type=click.Choice(["1", "3"]), default=None, help="Model input channels [default: the data's].")
@click.option("--classes", type=CLASSES, default=None, help="Output classes [default: from the data].")
@click.option("--stem-stride", type=click.Choice(["1", "2"]), default="2", show_default=True,
              help="Stem stride: 1 keeps more resolution for small (32x32) inputs.")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--workers", type=COUNT, default=None, help="CPU threads per process [default: 1; for both cores run under torchrun].")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None, help="Output folder [default: runs/MODEL].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its checkpoint.pt.")
@click.option("--qat", is_flag=True, help="Quantization-aware fine-tuning of the --from checkpoint.")
@click.option("--from", "from_checkpoint", type=click.Path(dir_okay=False), default=None,
              help="Start from this checkpoint's weights (required with --qat).")
@click.option("--calib-method", type=click.Choice(["minmax", "percentile", "mse"]), default="minmax", show_default=True,
              help="Activation-range calibration before QAT.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def train(model_name: str, data_path: str, epochs: int | None, batch_size: int, lr: float | None, input_size: int,
          in_channels: str | None, classes: int | None, stem_stride: str, seed: int, workers: int | None,
          out_dir: str | None, resume: bool, qat: bool, from_checkpoint: str | None, calib_method: str, as_json: bool) -> None:
    """Train MODEL (see `flynet-tiny profile`) with momentum SGD and a cosine schedule.

    Writes checkpoint.pt, best.pt, metrics.json and curves.png into --out. Runs data-parallel
    under `torchrun --nproc_per_node N`.

    Example: flynet-tiny train flynet-h3-0.5 --data ../shared/datasets/fashion-mnist --epochs 20 --out runs/fmnist
    """
    from .quant.qat_command import run_qat
    from .reporting import format_table, to_json
    from .train.command import command_line, run_train
    from .train.distributed import is_main_process

    out = out_dir or f"runs/{model_name}"
    common = dict(epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, workers=workers, resume=resume,
                  command=command_line(), progress=not as_json)
    if qat:
        if from_checkpoint is None:
            raise FlynetError("--qat needs --from CHECKPOINT: QAT fine-tunes a trained float model")
        result = run_qat(data_path, out, from_checkpoint, calib_method=calib_method, **common)
    else:
        result = run_train(model_name, data_path, out, input_size=input_size,
                           in_channels=int(in_channels) if in_channels else None, classes=classes,
                           from_checkpoint=from_checkpoint, stem_stride=int(stem_stride), **common)
    if not is_main_process():
        return  # under torchrun only rank 0 reports
    if as_json:
        click.echo(to_json(result))
        return
    rows = [[e["epoch"], e["train_loss"], e["train_top1"], e["test_loss"], e["test_top1"], e["lr"], e["temperature"],
             round(e["images_per_second"])] for e in result["epochs"]]
    click.echo(format_table(["epoch", "train loss", "train top-1", "test loss", "test top-1", "lr", "T", "img/s"], rows))
    click.echo(f"final test top-1 {result['final_test_top1']:.4f}, best {result['best_test_top1']:.4f}; "
               f"{result['num_params']:,} parameters; outputs in {result['out']}")


@cli.command()
@click.option("--checkpoint", type=click.Path(), help="Trained checkpoint (default: the bundled one).")
@click.option("--onnx", "onnx_path", type=click.Path(), help="An ONNX model: QDQ, or float with --calib-data.")
@click.option("--tflite", "tflite_path", type=click.Path(), help="An existing int8 .tflite, validated and passed on.")
@click.option("--model", "model_name", help="Registry model (random init unless --checkpoint), e.g. flynet-h3-0.5.")
@click.option("--target", help="Board for the firmware half (see `flynet-tiny targets`): generated C + build.")
@click.option("--bench", is_flag=True, help="With --target: also run the firmware in QEMU, bit-exact checks and latency.")
@click.option("--bench-inputs", type=COUNT, default=20, show_default=True, help="Test images run by --bench.")
@click.option("--opt", type=click.Choice(["size", "speed"]), default="size", show_default=True,
              help="Firmware build: size (-Os, portable kernels) or speed (-O2, DSP kernels).")
@click.option("--calib-data", type=click.Path(), help="Images to calibrate and verify on (IDX folder or class folders).")
@click.option("--mean", default=None, help="With --tflite and --calib-data: " + PIXEL_MEAN_HELP)
@click.option("--std", default=None, help="With --tflite and --calib-data: " + PIXEL_STD_HELP)
@click.option("--io", "io_mode", type=click.Choice(["int8", "float"]), default="int8", show_default=True,
              help="Graph input/output type.")
@click.option("--out", "out_dir", type=click.Path(), default="export", show_default=True, help="Output folder.")
@click.option("--input-size", type=COUNT, help="Input size for --model (default 32).")
@click.option("--no-verify", is_flag=True, help="Skip the cross-runtime verification.")
@click.option("--verify-samples", type=COUNT, default=200, show_default=True, help="Test images to verify on.")
@click.option("--calib-samples", type=COUNT, default=256, show_default=True, help="Training images to calibrate on.")
@click.option("--min-top1", type=FRACTION, default=0.995, show_default=True,
              help="Minimum top-1 agreement per pair (pairs with fake quant or onnxruntime: 0.97).")
@click.option("--min-cosine", type=COSINE, default=0.99, show_default=True, help="Minimum mean cosine per pair.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export(checkpoint, onnx_path, tflite_path, model_name, target, bench, bench_inputs, opt, calib_data, mean, std,
           io_mode, out_dir, input_size, no_verify, verify_samples, calib_samples, min_top1, min_cosine, as_json) -> None:
    """Export a model to int8 TFLite, C arrays and a verified report, written atomically to --out;
    with --target, also the generated C and the board firmware (and, with --bench, a QEMU run).

    With no model given, exports the bundled FlyNet trained on Fashion-MNIST.

    Example: flynet-tiny export --target f746zg
    """
    from pathlib import Path

    from .pipeline.export import ExportRequest, export as run_export, report_markdown
    from .reporting import to_json

    def path(p):
        return Path(p) if p else None

    report = run_export(ExportRequest(
        out=Path(out_dir), checkpoint=path(checkpoint), onnx=path(onnx_path), tflite=path(tflite_path),
        model=model_name, target=target, bench=bench, bench_inputs=bench_inputs, opt=opt,
        calib_data=path(calib_data), mean=_pixel_values(mean, "--mean"), std=_pixel_values(std, "--std"),
        io=io_mode, verify=not no_verify,
        verify_samples=verify_samples, calib_samples=calib_samples, input_size=input_size, min_top1=min_top1,
        min_cosine=min_cosine))
    click.echo(to_json(report) if as_json else report_markdown(report))


@cli.command()
@click.argument("export_dir", type=click.Path())
@click.option("--data", "data_path", type=click.Path(), required=True, help="Images (IDX folder or class folders).")
@click.option("--samples", type=COUNT, default=200, show_default=True, help="Test images to compare on.")
@click.option("--mean", default=None, help=PIXEL_MEAN_HELP + " (a model flynet-tiny did not convert)")
@click.option("--std", default=None, help=PIXEL_STD_HELP)
@click.option("--min-top1", type=FRACTION, default=0.995, show_default=True,
              help="Minimum top-1 agreement per pair (pairs with fake quant or onnxruntime: 0.97).")
@click.option("--min-cosine", type=COSINE, default=0.99, show_default=True, help="Minimum mean cosine per pair.")
@click.option("--max-steps", type=Number(int, low=0), default=2, show_default=True, help="Max |TFLM - LiteRT-ref| in int8 steps.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def verify(export_dir, data_path, samples, mean, std, min_top1, min_cosine, max_steps, as_json) -> None:
    """Compare onnxruntime (QDQ), TFLite Micro and LiteRT-ref on an export folder's model; exit 1 on a miss.

    A model exported from --tflite (no model_qdq.onnx beside it) is checked against TFLite Micro, its
    reference: LiteRT-ref is reported, not held to the thresholds.

    Example: flynet-tiny verify build/h3 --data ../shared/datasets/fashion-mnist --samples 500
    """
    from pathlib import Path

    from .data.model_inputs import image_samples, test_images_for
    from .tflite.interpreters import check_runtimes_survive, random_samples
    from .verify.agreement import Thresholds, verify as run_verify, verify_tflite
    from .reporting import to_json

    folder = Path(export_dir)
    tflite_file = folder / "model_int8.tflite"
    if not tflite_file.is_file():
        raise FlynetError(f"{tflite_file} does not exist: pass a folder written by `flynet-tiny export`")
    if samples < 1:
        raise FlynetError("--samples must be at least 1")
    qdq = folder / "model_qdq.onnx"
    model_bytes = tflite_file.read_bytes()
    check_runtimes_survive(model_bytes, random_samples(model_bytes, 2))  # the file may come from anywhere
    if qdq.is_file():
        if mean is not None or std is not None:
            raise FlynetError("--mean / --std are for models flynet-tiny did not convert: this export normalises "
                              "its images itself")
        images = test_images_for(model_bytes, Path(data_path), samples)
        report = run_verify(model_bytes, qdq, None, images, Thresholds(min_top1, min_cosine, max_steps),
                            progress=not as_json)
    else:
        feeds, _ = image_samples(model_bytes, Path(data_path), samples, _pixel_values(mean, "--mean"),
                                 _pixel_values(std, "--std"))
        report = verify_tflite(model_bytes, feeds)
    click.echo(to_json(report.to_dict()) if as_json else
               f"{report.table()}\nTFLM arena: {report.arena_bytes.get('total')} bytes")
    report.check()


@cli.command()
@click.argument("tflite_path", metavar="MODEL.tflite", type=click.Path(dir_okay=False))
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Folder for model.c/.h, model_weights.c/.h and memory_plan.json.")
@click.option("--name", default="model", show_default=True, help="Base name of the generated files.")
@click.option("--plan", "show_plan", is_flag=True, help="Also print the memory plan, tensor by tensor.")
@click.option("--opt", type=click.Choice(["size", "speed"]), default=None,
              help="Plan kernel scratch for this build only (size: portable kernels, speed: DSP paths); "
                   "default: enough for either.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def generate(tflite_path: str, out_dir: str, name: str, show_plan: bool, opt: str | None, as_json: bool) -> None:
    """Generate C for an int8 .tflite: one kernel call per layer on one planned arena.

    Example: flynet-tiny generate out/model_int8.tflite --out out/firmware
    """
    from dataclasses import asdict
    from pathlib import Path

    from .build.options import uses_dsp_kernels
    from .codegen.generate import generate_model_sources
    from .reporting import format_table, to_json

    path = Path(tflite_path)
    if not path.is_file():
        raise FlynetError(f"{path} does not exist: pass the .tflite written by `flynet-tiny export`")
    generated = generate_model_sources(path.read_bytes(), out_dir, name=name,
                                       dsp_kernels=opt is None or uses_dsp_kernels(opt))
    if as_json:
        click.echo(to_json({
            "out_dir": str(generated.out_dir), "files": [str(p) for p in [generated.header, *generated.sources,
                                                                        generated.plan_json]],
            "arena_bytes": generated.arena_bytes, "weight_bytes": generated.weight_bytes,
            "inputs": [asdict(t) for t in generated.inputs], "outputs": [asdict(t) for t in generated.outputs],
            "layers": [{"index": l.index, "name": l.name, "kind": l.kind, "tflite_ops": l.tflite_ops,
                        "output_bytes": l.output_bytes, "scratch_bytes": l.scratch_bytes} for l in generated.layers],
        }))
        return
    rows = [[l.index, l.kind, l.name, l.output_bytes, l.scratch_bytes] for l in generated.layers]
    click.echo(format_table(["#", "layer", "output", "out bytes", "scratch"], rows, "rllrr"))
    if show_plan:
        click.echo("")
        click.echo(generated.plan.table())
    click.echo(f"\n{len(generated.layers)} layers, arena {generated.arena_bytes:,} bytes, weights "
               f"{generated.weight_bytes:,} bytes -> {generated.out_dir}")


@cli.command()
@click.option("--target", "target_name", required=True, help="Board (see `flynet-tiny targets`).")
@click.option("--model", "model_path", type=click.Path(), default="export", show_default=True,
              help="Export folder holding model_int8.tflite, or a .tflite file.")
@click.option("--opt", type=click.Choice(["size", "speed"]), default="size", show_default=True,
              help="size (-Os, portable kernels) or speed (-O2, DSP kernels).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Build folder [default: build/<target>, -emu / -lib appended].")
@click.option("--emulation", is_flag=True, help="Link for the board's QEMU machine (run it with `flynet-tiny emulate`).")
@click.option("--library", is_flag=True, help="Library-only: libflynet.a (model + kernels) for an existing STM32Cube project.")
@click.option("--lto", is_flag=True, help="Link-time optimization.")
@click.option("--inputs", "n_inputs", type=COUNT, default=1, show_default=True, help="Random test inputs (seed 0, each model input over its whole range) embedded in the firmware.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def build(target_name: str, model_path: str, opt: str, out_dir: str | None, emulation: bool, library: bool,
          lto: bool, n_inputs: int, as_json: bool) -> None:
    """Generate C for an exported model and build it with arm-none-eabi-gcc: .elf, .bin, .hex, .map, sizes.

    The build folder is self-contained (sources copied in, relative paths): `make` or CMake rebuilds it
    anywhere; its README.md says how, and how to flash it (or, with --library, how to add it to an
    STM32CubeIDE project).

    Example: flynet-tiny build --target f446re --model build/h3 --opt speed --out build/h3-f446re
    """
    from pathlib import Path

    from .build.from_tflite import build_from_tflite, build_summary, build_table, find_tflite
    from .build.toolchain import find_toolchain
    from .errors import FlynetError
    from .reporting import relocated, staged_folder, to_json
    from .targets import load_target

    if emulation and library:
        raise FlynetError("--emulation and --library exclude each other: a library is not linked for any machine")
    target = load_target(target_name)
    find_tflite(model_path)
    find_toolchain()  # before anything is written
    suffix = "-lib" if library else "-emu" if emulation else ""
    out = Path(out_dir or f"build/{target.name}{suffix}")
    # Built in a staging folder that replaces --out only when the build succeeded: a failed build leaves nothing.
    with staged_folder(out, marker="Makefile") as staging:
        result = build_from_tflite(model_path, target, staging, opt=opt, lto=lto, emulation=emulation,
                                   library=library, n_inputs=n_inputs, progress=lambda m: click.echo(m, err=True))
    result = relocated(result, staging, out)
    click.echo(to_json(build_summary(result)) if as_json else build_table(result))


@cli.command()
@click.option("--target", "target_name", required=True, help="Board (see `flynet-tiny targets`).")
@click.option("--model", "model_dir", type=click.Path(), default=None,
              help="Export folder holding model_int8.tflite [default: export].")
@click.option("--tflite", "tflite_path", type=click.Path(dir_okay=False), default=None, help="An int8 .tflite instead.")
@click.option("--data", "data_path", type=click.Path(), default=None,
              help="Test images (IDX folder or class folders), drawn evenly across classes "
                   "[default: the bundled Fashion-MNIST samples].")
@click.option("--mean", default=None, help=PIXEL_MEAN_HELP)
@click.option("--std", default=None, help=PIXEL_STD_HELP)
@click.option("--inputs", "n_inputs", type=COUNT, default=20, show_default=True, help="Inputs embedded and run per QEMU run.")
@click.option("--runs", type=COUNT, default=1, show_default=True, help="QEMU runs; their instruction counts must be identical.")
@click.option("--opt", type=click.Choice(["size", "speed"]), default="speed", show_default=True,
              help="size (-Os, portable kernels) or speed (-O2, DSP kernels).")
@click.option("--timeout", "timeout_s", type=SECONDS, default=600.0, show_default=True, help="Wall-clock limit per QEMU run (s).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for firmware/, report.json, report.md, latency.png [default: bench/<target>].")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None,
              help="PNG of per-layer time [default: <out>/latency.png].")
@click.option("--latency-model", type=click.Choice(["classes", "pipeline"]), default="classes", show_default=True,
              help="Which estimate heads the report: per-class costs, or the plugin's pipeline / cache model "
                   "(both are shown; docs/latency-model.md).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bench(target_name, model_dir, tflite_path, data_path, mean, std, n_inputs, runs, opt, timeout_s, out_dir,
          plot_path, latency_model, as_json) -> None:
    """Run a model on the emulated board: outputs bit-exact vs host and TFLM, per-layer instructions and latency.

    Exits 1 when an output differs (naming the first differing layer), the firmware faults or hangs,
    or instruction counts differ between runs.

    Example: flynet-tiny bench --target f746zg --model build/h3 --data ../shared/datasets/fashion-mnist --runs 3
    """
    from pathlib import Path

    from .build.from_tflite import find_tflite
    from .reporting import relocated, staged_folder, to_json
    from .data.model_inputs import bench_inputs
    from .sim.bench import bench_tflite
    from .sim.bench_report import write_bench_reports
    from .sim.bench_report import bench_table
    from .targets import load_target
    from .tflite.interpreters import check_runtimes_survive

    if model_dir and tflite_path:
        raise FlynetError("--model and --tflite exclude each other: pass one model")
    target = load_target(target_name)
    tflite = find_tflite(tflite_path or model_dir or "export")
    model_bytes = tflite.read_bytes()
    inputs = bench_inputs(model_bytes, n_inputs, data_path, _pixel_values(mean, "--mean"), _pixel_values(std, "--std"))
    check_runtimes_survive(model_bytes, inputs.samples[:1])  # before it is compiled and run here
    out = Path(out_dir or f"bench/{target.name}")

    def progress(message: str) -> None:
        click.echo(message, err=True)

    # Firmware and reports go to a staging folder that replaces --out only when every check passed.
    with staged_folder(out, marker="report.json") as staging:
        result = bench_tflite(model_bytes, target, inputs, staging, runs, progress, timeout_s=timeout_s, opt=opt,
                              model_name=str(tflite), latency_model=latency_model)
        result = relocated(result, staging, out)
        write_bench_reports(result, out, plot_path, staging=staging)
    click.echo(to_json(result.to_json()) if as_json else bench_table(result))


@cli.command()
@click.argument("model_name", metavar="[MODEL]", required=False)
@click.option("--target", "target_name", required=True, help="Board (see `flynet-tiny targets`).")
@click.option("--tflite", "tflite_path", type=click.Path(), help="An int8 .tflite (or export folder) instead of MODEL.")
@click.option("--elf", "elf_path", type=click.Path(),
              help="A linked firmware.elf: real sizes per region (with MODEL / --tflite: beside the estimate).")
@click.option("--input-size", type=COUNT, default=224, show_default=True, help="Square input resolution for MODEL.")
@click.option("--classes", type=CLASSES, default=1000, show_default=True, help="Output classes for MODEL (and --suggest).")
@click.option("--in-channels", default=3, show_default=True, help="Input channels for MODEL: 1 or 3.")
@click.option("--stem-stride", default=2, show_default=True, help="Stem stride for MODEL: 2, or 1 for small inputs.")
@click.option("--opt", type=click.Choice(["size", "speed"]), default="size", show_default=True,
              help="The firmware build's -Os or -O2.")
@click.option("--suggest", is_flag=True, help="Search FlyNet width / heads / input size for configurations that fit.")
@click.option("--margin", type=MARGIN, default=0.1, show_default=True, help="Fraction of each region --suggest keeps free.")
@click.option("--top", type=COUNT, default=5, show_default=True, help="How many configurations --suggest lists.")
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Write a PNG of arena use over the layers.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def fit(model_name, target_name, tflite_path, elf_path, input_size, classes, in_channels, stem_stride, opt, suggest,
        margin, top, plot_path, as_json) -> None:
    """Does a model fit the board's flash and SRAM? Used / budget / headroom per region; exit 1 if not.

    Before a build from a registry MODEL or a --tflite; after one from --elf (beside the
    estimate when the model is given too). --suggest lists FlyNet configurations that fit.

    Example: flynet-tiny fit flynet-h3-0.5 --target f446re --input-size 224 --classes 1000 --suggest
    """
    from pathlib import Path

    from .errors import CheckFailed
    from .fit import FitRequest, ModelSpec, run_fit
    from .fit.report import fit_json, fit_table, plot_arena
    from .reporting import to_json
    from .targets import load_target

    target = load_target(target_name)
    progress = lambda message: click.echo(message, err=True)  # noqa: E731
    model = ModelSpec(model_name, input_size, classes, in_channels, stem_stride) if model_name else None
    estimate = elf = None
    if model or tflite_path or elf_path or not suggest:
        estimate, elf = run_fit(FitRequest(target, model, Path(tflite_path) if tflite_path else None,
                                           Path(elf_path) if elf_path else None, opt), progress)
    report = fit_json(estimate, elf) if (estimate or elf) else {}
    if plot_path and estimate is not None:
        plot_arena(estimate, plot_path)
        progress(f"wrote {plot_path}")
    found = None
    if suggest:
        from .fit.suggest import suggest as run_suggest, suggest_json, suggest_table

        found = run_suggest(target, classes, in_channels, stem_stride, margin, top, opt=opt, progress=progress,
                            progress_bars=not as_json)
        report["suggest"] = suggest_json(found)
    if as_json:
        click.echo(to_json(report))
    else:
        if estimate or elf:
            click.echo(fit_table(estimate, elf))
        if found is not None:
            click.echo(("\n" if estimate or elf else "") + suggest_table(found))
    if found is not None:
        if found.best is None:
            raise CheckFailed(f"no FlyNet configuration fits {target.board} with a {100 * margin:g}% margin")
    elif estimate is not None and not estimate.fits():
        raise CheckFailed(f"{estimate.source} does not fit {target.board}: " + "; ".join(estimate.problems()))
    elif estimate is None and elf is not None and any(used > elf.sizes[n] for n, used in elf.regions.items()):
        raise CheckFailed(f"{elf.path} overflows a region of {target.board}")


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every cleanup path (staging folders, child processes) runs."""


def _raise_terminated(signum, frame) -> None:
    raise Terminated()


def _error_line(text: str) -> str:
    return " ".join(str(text).split())  # one line, whatever the message held


def main() -> None:
    """The entry point: any failure ends in one line on stderr (no traceback), and an exit code that means it.

    0 ok, 1 a check failed, 2 usage or input error, 130 interrupted (Ctrl-C), 141 stdout closed, 143 terminated
    (SIGTERM).
    """
    signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        with cli.make_context("flynet-tiny", sys.argv[1:]) as ctx:
            cli.invoke(ctx)
    except click.exceptions.Exit as exc:  # --help, --version
        sys.exit(exc.exit_code)
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare `flynet-tiny` or group: its help
        click.echo(exc.ctx.get_help())
        sys.exit(0)
    except click.BadParameter as exc:
        flag = exc.param.opts[0] if isinstance(exc.param, click.Option) else exc.param.human_readable_name \
            if exc.param is not None else "a value"
        click.echo(f"error: {flag} {_error_line(exc.message)} (see `{exc.ctx.command_path} --help`)", err=True)
        sys.exit(exc.exit_code)
    except click.UsageError as exc:
        where = f"`{exc.ctx.command_path} --help`" if exc.ctx is not None else "`flynet-tiny --help`"
        click.echo(f"error: {_error_line(exc.format_message())} (see {where})", err=True)
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        click.echo(f"error: {_error_line(exc.format_message())}", err=True)
        sys.exit(exc.exit_code)
    except FlynetError as exc:
        click.echo(f"error: {_error_line(exc)}", err=True)
        sys.exit(exc.exit_code)
    except Terminated:
        click.echo("terminated", err=True)
        sys.exit(143)
    except (KeyboardInterrupt, click.exceptions.Abort):
        click.echo("interrupted", err=True)
        sys.exit(130)
    except OSError as exc:
        if exc.errno == errno.EPIPE:  # the reader of stdout went away (e.g. `| head`): nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(141)
        click.echo(f"error: {_os_error_line(exc)}", err=True)
        sys.exit(2)


def _os_error_line(exc: OSError) -> str:
    """An operating-system error (read-only or full disk, no permission, ...) as one line with its fix."""
    where = f" ({exc.filename})" if exc.filename else ""
    reason = exc.strerror or _error_line(exc)
    fix = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space", errno.EFBIG: "free some space",
           errno.EROFS: "write somewhere writable",
           errno.EACCES: "check the permissions", errno.EPERM: "check the permissions"}.get(exc.errno,
                                                                                           "check the path")
    return f"{reason}{where}: {fix}, or pass another --out"


if __name__ == "__main__":
    main()
