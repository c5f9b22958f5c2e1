"""`flynet-tiny export`, the model half: checkpoint / ONNX / TFLite in, an output folder out.

    model.onnx         float model (BN folded)                 [checkpoint, --model, float --onnx]
    model_qdq.onnx     int8 fake-quant graph as QDQ ONNX       [all but --tflite]
    model_int8.tflite  int8 TFLite flatbuffer
    model_data.c/.h    the flatbuffer as a C array for TFLM projects (TFLM form: no names, one
                       zero point per weight tensor; same outputs, checked)
    report.json/.md    sizes, ops, accuracy fp32 / int8, runtime agreement, TFLM arena bytes

Everything is written into a temporary folder beside `--out`, which replaces `--out` only when
every stage succeeded: a failed export leaves the previous good output untouched. With a
`--target`, the firmware half (`firmware.py`: generated C + board build, optionally the QEMU
bench) runs after the model half, into the same staging folder.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import FlynetError
from ..reporting import atomic_write_bytes, atomic_write_text, format_table, staged_folder
from ..resources import BUNDLED_SAMPLES
from ..convert.to_tflite import IO_MODES
from ..verify.agreement import DEFAULT_MIN_TOP1

DEFAULT_CALIB_SAMPLES = 256
TRIAL_SAMPLES = 4  # the first of the verification's random inputs, run in a child before this process runs them


@dataclass
class ExportRequest:
    out: Path
    checkpoint: Path | None = None
    onnx: Path | None = None
    tflite: Path | None = None
    model: str | None = None
    target: str | None = None
    bench: bool = False
    bench_inputs: int = 20
    opt: str = "size"
    calib_data: Path | None = None
    mean: list[float] | None = None  # pixel normalisation of a --tflite model's --calib-data images
    std: list[float] | None = None
    io: str = "int8"
    verify: bool = True
    verify_samples: int = 200
    calib_samples: int = DEFAULT_CALIB_SAMPLES
    input_size: int | None = None
    num_classes: int = 10
    min_top1: float = DEFAULT_MIN_TOP1
    min_cosine: float = 0.99
    max_steps: int = 2

    def thresholds(self):
        from ..verify.agreement import Thresholds

        return Thresholds(self.min_top1, self.min_cosine, self.max_steps)


@dataclass
class Stages:
    """Progress lines to stderr, one per stage ([n/total], total counting every stage this export runs, the
    firmware and bench included), and their wall times for the report."""

    total: int
    seconds: dict[str, float] = field(default_factory=dict)
    _n: int = 0

    def run(self, name: str, fn: Callable, *args, **kwargs):
        self._n += 1
        print(f"[{self._n}/{self.total}] {name} ...", file=sys.stderr, flush=True)
        return self.check(name, fn, *args, **kwargs)

    def check(self, name: str, fn: Callable, *args, **kwargs):
        """The stage that reads and checks the input: timed, but with no progress line, so that a bad input
        fails with its one error line alone (the counted stages start once the input is known good)."""
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.seconds[name] = round(time.perf_counter() - start, 3)
        return result


def export(request: ExportRequest) -> dict:
    """Run the model half (and any firmware hooks) into `request.out`; returns the report dict."""
    sources = [s for s in (request.checkpoint, request.onnx, request.tflite) if s is not None]
    if len(sources) > 1:
        raise FlynetError("pass only one of --checkpoint, --onnx, --tflite")
    if request.io not in IO_MODES:
        raise FlynetError(f"unknown --io {request.io!r}: choose one of {', '.join(IO_MODES)}")
    if request.verify_samples < 1 and request.verify:
        raise FlynetError("--verify-samples must be at least 1 (or pass --no-verify)")
    if request.calib_samples < 1:
        raise FlynetError("--calib-samples must be at least 1")
    if (request.mean is not None or request.std is not None) and (request.tflite is None or request.calib_data is None):
        raise FlynetError("--mean / --std map --calib-data images onto a --tflite model's input: pass them with "
                          "--tflite and --calib-data (flynet-tiny's own models normalise their images themselves)")
    if request.bench and request.target is None:
        raise FlynetError("--bench runs the firmware in QEMU: pass --target too")
    target = None
    if request.target is not None:
        from ..targets import load_target

        target = load_target(request.target)
    for path, flag in ((request.checkpoint, "--checkpoint"), (request.onnx, "--onnx"), (request.tflite, "--tflite"),
                       (request.calib_data, "--calib-data")):
        if path is not None and not Path(path).exists():
            raise FlynetError(f"{flag} {path} does not exist: pass an existing path")

    out = Path(request.out)
    firmware_stages = (target is not None) + request.bench
    # Checked before any work; written into a staging folder that replaces --out only at the end.
    with staged_folder(out, marker="model_int8.tflite") as staging:
        if request.tflite is not None:
            report, samples, stages = _from_tflite(request, staging, firmware_stages)
        elif request.onnx is not None:
            report, samples, stages = _from_onnx(request, staging, firmware_stages)
        else:
            report, samples, stages = _from_pytorch(request, staging, firmware_stages)
        report["target"] = target.name if target else None
        if target is not None:
            from .firmware_stage import firmware_stage

            firmware_stage(staging, out, target, request, report, samples, stages)
        _write_reports(staging, report)
    return report


# -- sources ---------------------------------------------------------------------------------------

def _load_pytorch_model(request: ExportRequest):
    """(float model, quantized model or None, data info dict | None) from --checkpoint, --model or the
    bundled model. A quantized file (`flynet-tiny quantize`, or QAT's quantized.pt) keeps its own
    int8 parameters; its float model is the BN-folded one it holds."""
    from ..quant.evaluate import bundled_model_path, load_model_file

    if request.checkpoint is None and request.model is not None:
        from ..models import build_model

        size = request.input_size or 32
        model = build_model(request.model, num_classes=request.num_classes, input_size=size,
                            in_channels=_data_channels(request))
        return model.eval(), None, None
    path = request.checkpoint or bundled_model_path()
    model, qmodel, info = load_model_file(path)
    config = model.config if model is not None else qmodel.config
    if request.model is not None and config.name != request.model:
        raise FlynetError(f"checkpoint {path} is for another architecture ({config.name}, not "
                          f"{request.model}): pass a checkpoint of {request.model} or drop --model")
    return model, qmodel, info or None


def _data_channels(request: ExportRequest) -> int:
    if request.calib_data is None:
        raise FlynetError("--model NAME needs --calib-data PATH (real images to calibrate int8 ranges on)")
    from ..data.datasets import load_dataset

    return load_dataset(request.calib_data, "test", input_size=request.input_size or 32).info.in_channels


def _datasets(request: ExportRequest, info: dict | None, input_size: int, in_channels: int):
    from ..data.datasets import load_dataset

    if request.calib_data is not None:
        path = request.calib_data
    elif request.checkpoint is None and request.model is None:
        path = BUNDLED_SAMPLES  # the bundled model: its own samples, wherever the command runs
    else:
        path = (info or {}).get("source")
    if not path or not Path(path).exists():
        raise FlynetError("no calibration data: pass --calib-data PATH (an IDX folder or class-folder tree)")
    train = load_dataset(path, "train", input_size=input_size, in_channels=in_channels)
    test = load_dataset(path, "test", input_size=input_size, in_channels=in_channels)
    return train, test


def _from_pytorch(request: ExportRequest, staging: Path, firmware_stages: int
                  ) -> tuple[dict, "VerificationSamples | None", Stages]:
    import torch

    from ..quant.fold import fold_batchnorm
    from ..quant.model import quantize_model
    from ..data.datasets import normalize
    from ..data.model_inputs import balanced_indices
    from ..convert.onnx_export import export_float_onnx, export_qdq_onnx
    from ..convert.to_tflite import convert_qdq_onnx

    stages = Stages(total=4 + request.verify + firmware_stages)  # quantize, ONNX, convert, [verify,] arena, firmware
    model, qmodel, info = stages.check("load model", _load_pytorch_model, request)
    config = model.config if model is not None else qmodel.config
    input_size = request.input_size or (info or {}).get("input_size") or 32
    train, test = _datasets(request, info, input_size, config.in_channels)
    calib = normalize(train.images[balanced_indices(train.labels.numpy(), request.calib_samples)])
    example = calib[:1]
    if qmodel is None:
        qmodel = stages.run("quantize (PTQ)", quantize_model, model,
                            [calib[i:i + 32] for i in range(0, len(calib), 32)], num_samples=len(calib), progress=False)
    else:
        stages.run("quantize (kept from the quantized file)", lambda: None)
    folded = fold_batchnorm(model) if model is not None else qmodel.float_copy()
    stages.run("export ONNX", lambda: (export_float_onnx(folded, staging / "model.onnx", example),
                                       export_qdq_onnx(qmodel, staging / "model_qdq.onnx", example)))
    metadata = _metadata(config.name, train.info, input_size)
    tflite_bytes = stages.run("convert to TFLite", convert_qdq_onnx, staging / "model_qdq.onnx", request.io, metadata,
                              f"flynet-tiny {config.name}")
    atomic_write_bytes(staging / "model_int8.tflite", tflite_bytes)
    chosen = balanced_indices(test.labels.numpy(), request.verify_samples)  # class folders come sorted by class
    images, labels = normalize(test.images[chosen]).numpy(), test.labels[chosen].numpy()
    report = _base_report(config.name, tflite_bytes, metadata)
    if request.verify:
        verification = stages.run("verify (PyTorch / onnxruntime / TFLM / LiteRT)", _verify, tflite_bytes,
                                  staging / "model_qdq.onnx", qmodel, images, request.thresholds())
        with torch.no_grad():
            fp32 = np.concatenate([folded(torch.from_numpy(images[i:i + 64])).numpy()
                                   for i in range(0, len(images), 64)])
        report["accuracy"] = {"samples": len(labels), "fp32_top1": _top1(fp32, labels),
                              "int8_tflm_top1": _top1(verification.outputs["tflm"][0], labels)}
        report["verification"] = verification.to_dict()
    report.update(stages.run("measure arena + C arrays", _write_c_arrays, staging, tflite_bytes))
    report["stage_seconds"] = stages.seconds
    if request.verify:
        _raise_if_failed(report)
    return report, _verification_samples(tflite_bytes, images), stages


def _from_onnx(request: ExportRequest, staging: Path, firmware_stages: int
               ) -> tuple[dict, "VerificationSamples | None", Stages]:
    import onnx

    from ..convert.onnx_graph import load_onnx
    from ..convert.to_tflite import convert_qdq_onnx

    verifies = request.verify and request.calib_data is not None
    stages = Stages(total=3 + verifies + firmware_stages)  # quantize, convert, [verify,] arena, firmware
    model = stages.check("load ONNX", load_onnx, request.onnx)
    is_qdq = any(n.op_type == "QuantizeLinear" for n in model.graph.node)
    if is_qdq:
        shutil.copyfile(request.onnx, staging / "model_qdq.onnx")
        stages.run("quantize (kept: the ONNX is QDQ already)", lambda: None)
    else:
        if request.calib_data is None:
            raise FlynetError(f"{request.onnx} is a float model: pass --calib-data PATH to quantize it")
        shutil.copyfile(request.onnx, staging / "model.onnx")
        stages.run("quantize (onnxruntime static QDQ)", _quantize_float_onnx, request, model, staging)
    name = Path(request.onnx).stem
    metadata = {"model": name, "source": "onnx"}
    tflite_bytes = stages.run("convert to TFLite", convert_qdq_onnx, staging / "model_qdq.onnx", request.io, metadata,
                              f"flynet-tiny {name}")
    atomic_write_bytes(staging / "model_int8.tflite", tflite_bytes)
    report = _base_report(name, tflite_bytes, metadata)
    images = None
    if verifies:
        images = _onnx_images(request, onnx.load(str(staging / "model_qdq.onnx")))
        verification = stages.run("verify (onnxruntime / TFLM / LiteRT)", _verify, tflite_bytes,
                                  staging / "model_qdq.onnx", None, images, request.thresholds())
        report["verification"] = verification.to_dict()
    report.update(stages.run("measure arena + C arrays", _write_c_arrays, staging, tflite_bytes))
    report["stage_seconds"] = stages.seconds
    _raise_if_failed(report)
    return report, _verification_samples(tflite_bytes, images), stages


def _from_tflite(request: ExportRequest, staging: Path, firmware_stages: int
                 ) -> tuple[dict, "VerificationSamples | None", Stages]:
    """A .tflite flynet-tiny did not convert: TFLM is the reference (see verify.agreement.verify_tflite);
    verification runs on random samples in the model's own input types, or on --calib-data images."""
    from ..data.model_inputs import image_samples
    from ..tflite.interpreters import random_samples
    from ..verify.agreement import verify_tflite

    stages = Stages(total=1 + request.verify + firmware_stages)  # [verify,] arena, firmware
    data = Path(request.tflite).read_bytes()
    stages.check("validate TFLite", _validate_tflite, data, request.tflite)
    atomic_write_bytes(staging / "model_int8.tflite", data)
    name = Path(request.tflite).stem
    report = _base_report(name, data, {"model": name, "source": "tflite"})
    if request.verify:
        if request.calib_data is not None:
            samples, source = image_samples(data, request.calib_data, request.verify_samples, request.mean,
                                            request.std)
        else:
            samples = random_samples(data, request.verify_samples)
            source = f"{request.verify_samples} random samples (seed 0, over each input's range)"
        result = stages.run("verify (TFLM reference / LiteRT reported)", verify_tflite, data, samples)
        report["verification"] = {**result.to_dict(), "inputs": source}
    report.update(stages.run("measure arena + C arrays", _write_c_arrays, staging, data))
    report["stage_seconds"] = stages.seconds
    return report, VerificationSamples(samples, source) if request.verify else None, stages


def _validate_tflite(data: bytes, path: Path) -> None:
    """A .tflite from outside: valid (read_tflite), int8, builtin ops only, and run by LiteRT (whose loader
    verifies the flatbuffer) and TFLite Micro in a trial child process before this one runs them."""
    from ..tflite import read_tflite
    from ..tflite.interpreters import check_runtimes_survive, random_samples

    graph = read_tflite(data)
    graph.require_int8()
    custom = sorted({op.opcode.split(":", 1)[1] or "unnamed" for op in graph.operators if op.opcode.startswith("CUSTOM:")})
    if custom:
        raise FlynetError(f"{path} holds custom ops ({', '.join(custom)}), which neither TFLite Micro's builtin "
                          "resolver nor the code generator run: export the model with builtin ops only")
    check_runtimes_survive(data, random_samples(data, TRIAL_SAMPLES))


# -- helpers ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class VerificationSamples:
    """The samples verification ran on (one array per model input), handed to the firmware stage's bench."""

    samples: list
    source: str


def _verification_samples(tflite_bytes: bytes, images: np.ndarray | None) -> VerificationSamples | None:
    from ..data.model_inputs import model_inputs

    if images is None:
        return None
    return VerificationSamples(model_inputs(tflite_bytes, images, len(images)), "the export's verification images")


def _metadata(name: str, info, input_size: int) -> dict:
    return {"model": name, "classes": list(info.class_names), "input_size": input_size,
            "in_channels": info.in_channels, "mean": list(info.mean), "std": list(info.std)}


def _base_report(name: str, tflite_bytes: bytes, metadata: dict) -> dict:
    from ..tflite import read_tflite

    graph = read_tflite(tflite_bytes)
    weight_bytes = sum(t.nbytes for t in graph.tensors if t.is_constant and t.dtype == "int8")
    biases = {op.inputs[2] for op in graph.operators
              if op.opcode in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED") and len(op.inputs) > 2
              and op.inputs[2] >= 0}
    bias_bytes = sum(graph.tensors[i].nbytes for i in biases)
    return {"model": name, "metadata": metadata, "tflite_bytes": len(tflite_bytes),
            "int8_weight_bytes": weight_bytes, "int32_bias_bytes": bias_bytes, "ops": graph.op_counts()}


def _verify(tflite_bytes, qdq_path, qmodel, images, thresholds):
    from ..verify.agreement import verify

    return verify(tflite_bytes, qdq_path, qmodel, images, thresholds, progress=True)


def _top1(outputs: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(outputs.reshape(len(labels), -1).argmax(1) == labels))


def _write_c_arrays(staging: Path, tflite_bytes: bytes) -> dict:
    """model_data.c/.h from the TFLM form of the flatbuffer (see tflite/compact.py), checked to compute the same."""
    from ..tflite.compact import check_same_tflm_outputs, compact_for_tflm
    from ..tflite.interpreters import tflm_arena_bytes
    from ..tflite.carray import model_c_arrays

    compact = compact_for_tflm(tflite_bytes)
    check_same_tflm_outputs(tflite_bytes, compact.model_bytes)
    arena = tflm_arena_bytes(compact.model_bytes)
    arrays = model_c_arrays(compact.model_bytes, arena["total"])
    atomic_write_text(staging / "model_data.h", arrays.header)
    atomic_write_text(staging / "model_data.c", arrays.source)
    return {"arena_bytes": {**arena, "with_margin": arrays.arena_size}, "c_array_bytes": len(compact.model_bytes)}


def _raise_if_failed(report: dict) -> None:
    from ..errors import CheckFailed

    failures = report.get("verification", {}).get("failures")
    if failures:
        raise CheckFailed(f"verification failed, previous output kept: {'; '.join(failures)}")


def _quantize_float_onnx(request: ExportRequest, model, staging: Path) -> None:
    """Static int8 QDQ quantization of a float ONNX model with onnxruntime's quantizer, on real images."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    images = _onnx_images(request, model, request.calib_samples, split="train")
    name = model.graph.input[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._items = iter(images[i:i + 1] for i in range(len(images)))

        def get_next(self):
            item = next(self._items, None)
            return None if item is None else {name: item}

    quantize_static(str(staging / "model.onnx"), str(staging / "model_qdq.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                    per_channel=True, extra_options={"ActivationSymmetric": False, "WeightSymmetric": True})


def _onnx_images(request: ExportRequest, model, count: int | None = None, split: str = "test") -> np.ndarray:
    """Images from --calib-data fitted to the ONNX model's input (NCHW, normalised the project's way), drawn
    evenly across classes."""
    from ..data.datasets import load_dataset, normalize
    from ..data.model_inputs import balanced_indices

    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise FlynetError(f"the ONNX model has {len(inputs)} inputs: images calibrate and verify one-input models "
                          "(export a QDQ model with --no-verify)")
    dims = [d.dim_value for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or dims[2] != dims[3] or not dims[2]:
        raise FlynetError(f"ONNX input shape {dims} is not a static square NCHW image: export with a fixed input")
    dataset = load_dataset(request.calib_data, split, input_size=dims[2], in_channels=dims[1])
    chosen = balanced_indices(dataset.labels.numpy(), count or request.verify_samples)
    return normalize(dataset.images[chosen]).numpy()


def _write_reports(staging: Path, report: dict) -> None:
    atomic_write_text(staging / "report.json", json.dumps(report, indent=2, default=_jsonable))
    atomic_write_text(staging / "report.md", report_markdown(report))


def _jsonable(value):
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def report_markdown(report: dict) -> str:
    lines = [f"# Export report: {report['model']}", ""]
    size_rows = [["model_int8.tflite", report["tflite_bytes"]], ["int8 weights", report["int8_weight_bytes"]],
                 ["int32 biases", report["int32_bias_bytes"]]]
    if "arena_bytes" in report:
        size_rows += [["model_data.c flatbuffer (TFLM form)", report["c_array_bytes"]],
                      ["TFLM arena (measured)", report["arena_bytes"]["total"]],
                      ["TFLM arena (with margin)", report["arena_bytes"]["with_margin"]]]
    lines += ["## Sizes (bytes)", "", "```", format_table(["item", "bytes"], size_rows, "lr"), "```", ""]
    op_rows = sorted(report["ops"].items())
    lines += ["## Ops", "", "```", format_table(["op", "count"], op_rows, "lr"), "```", ""]
    if "accuracy" in report:
        acc = report["accuracy"]
        lines += ["## Accuracy", "", f"On {acc['samples']} test samples: fp32 top-1 {acc['fp32_top1'] * 100:.2f}%, "
                  f"int8 (TFLM) top-1 {acc['int8_tflm_top1'] * 100:.2f}%.", ""]
    if "verification" in report:
        v = report["verification"]
        rows = [[f"{p['a']} vs {p['b']}" + (f" [{p['output']}]" if p.get("output") else ""),
                 f"{p['top1_agreement'] * 100:.2f}%", p["max_int8_diff"], f"{p['cosine']:.6f}"] for p in v["pairs"]]
        lines += ["## Runtime agreement", "", "```",
                  format_table(["pair", "top-1 agree", "max |int8 diff|", "cosine"], rows, "lrrr"), "```", ""]
        if v.get("reference"):
            lines += [f"Reference: {v['reference']}." + (f" Inputs: {v['inputs']}." if v.get("inputs") else ""), ""]
        lines += [*(f"Note: {note}." for note in v.get("notes", [])),
                  "Verification " + ("passed." if v["passed"] else "FAILED: " + "; ".join(v["failures"])), ""]
    if report.get("firmware"):
        fw = report["firmware"]
        rows = [[name, u["used"], u["size"], f"{100 * u['used'] / u['size']:.1f}%"] for name, u in fw["regions"].items()]
        lines += [f"## Firmware for {report['target']}", "", "```", format_table(["region", "used", "size", "use"], rows,
                                                                                 "lrrr"), "```", "",
                  f"`{fw['elf']}` (also .bin, .hex, .map). The folder `{Path(fw['elf']).parent}/` builds anywhere with "
                  f"`make` or CMake; its README.md says how, and how to flash and read it.", ""]
    if report.get("bench"):
        bench, totals = report["bench"], report["bench"]["totals"]
        lines += [f"## QEMU bench on {report['target']}", "",
                  f"{totals['instructions']:,.0f} instructions per inference ({totals['instr_per_mac']:.2f} per MAC), "
                  f"~{totals['estimated_ms']:.1f} ms estimated ({totals['inferences_per_s']:.1f} inferences/s); outputs "
                  f"bit-exact vs the host build and TFLM on {bench['inputs']}. Per layer: `{bench['markdown']}`, "
                  f"`{bench['plot']}`.", ""]
    if report.get("stage_seconds"):
        rows = [[k, f"{v:.2f}"] for k, v in report["stage_seconds"].items()]
        lines += ["## Stage wall time (s)", "", "```", format_table(["stage", "seconds"], rows, "lr"), "```", ""]
    return "\n".join(lines)
