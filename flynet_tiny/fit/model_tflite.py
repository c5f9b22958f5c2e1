"""An int8 .tflite for a registry model name, through the real export pipeline, for sizing only.

Flash and arena depend on the graph's shapes and on which operators the converter emits, not
on the weight values or the calibration images. So fit quantizes a randomly initialised model
on one synthetic image and runs the same steps as `flynet-tiny export` (PTQ, QDQ ONNX, our
TFLite converter): the code generator then sees exactly the graph a trained export would give.
"""

from __future__ import annotations

import hashlib
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..reporting import atomic_write_bytes
from ..resources import PACKAGE_DIR, cache_dir

SIZING_PACKAGES = ("models", "quant", "export", "tflite")


@dataclass(frozen=True)
class ModelSpec:
    """A registry model and the knobs that change its size."""

    name: str
    input_size: int = 224
    classes: int = 1000
    in_channels: int = 3
    stem_stride: int = 2

    def describe(self) -> str:
        stem = "" if self.stem_stride == 2 else f", stem stride {self.stem_stride}"
        return (f"{self.name} at {self.input_size}x{self.input_size}x{self.in_channels}, "
                f"{self.classes} classes{stem}")

    def build(self):
        from ..models import build_model

        return build_model(self.name, num_classes=self.classes, input_size=self.input_size,
                           in_channels=self.in_channels, stem_stride=self.stem_stride).eval()


@contextmanager
def single_torch_thread():
    """Batch-1 passes of small models gain nothing from threads, and on a busy machine
    extra threads cost several times the work: run them on one and restore afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _cached_path(spec: ModelSpec, seed: int) -> Path:
    digest = hashlib.sha256()
    for package in SIZING_PACKAGES:
        for path in sorted((PACKAGE_DIR / package).glob("*.py")):
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    name = (f"{spec.name}-{spec.input_size}-{spec.classes}-{spec.in_channels}-{spec.stem_stride}-{seed}-"
            f"{digest.hexdigest()[:16]}.tflite")
    return cache_dir("fit") / "models" / name


def model_tflite_bytes(spec: ModelSpec, seed: int = 0, cache: bool = True) -> bytes:
    """The int8 TFLite flatbuffer of `spec` (random weights, one synthetic calibration image)."""
    path = _cached_path(spec, seed)
    if cache and path.is_file():
        return path.read_bytes()
    data = _export_for_sizing(spec, seed)
    if cache:
        atomic_write_bytes(path, data)
    return data


def _export_for_sizing(spec: ModelSpec, seed: int) -> bytes:
    import torch

    from ..convert.onnx_export import export_qdq_onnx
    from ..convert.to_tflite import convert_qdq_onnx
    from ..quant import quantize_model

    with single_torch_thread():
        torch.manual_seed(seed)
        model = spec.build()
        image = torch.randn(1, spec.in_channels, spec.input_size, spec.input_size,
                            generator=torch.Generator().manual_seed(seed))
        qmodel = quantize_model(model, [image], num_samples=1, progress=False)
        with tempfile.TemporaryDirectory(prefix="flynet-fit-") as folder:
            onnx_path = Path(folder) / "model_qdq.onnx"
            export_qdq_onnx(qmodel, onnx_path, image)
            return convert_qdq_onnx(onnx_path, metadata={"model": spec.name}, description=f"flynet-tiny {spec.name}")
