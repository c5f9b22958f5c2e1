"""`flynet-tiny fit`: does a model fit a board's flash and SRAM, by how much, and what to change.

    from flynet_tiny.fit import ModelSpec, estimate_model
    estimate = estimate_model(ModelSpec("flynet-h3-0.5", 224, 1000), load_target("f446re"))
    estimate.fits(), estimate.regions

See docs/fit.md.
"""

from .check import FitRequest, estimate_model, run_fit
from .elf_sizes import elf_usage
from .estimate import FitEstimate, estimate_from_generated, estimate_from_tflite
from .model_tflite import ModelSpec, model_tflite_bytes

__all__ = ["FitEstimate", "FitRequest", "ModelSpec", "elf_usage", "estimate_from_generated", "estimate_from_tflite",
           "estimate_model", "model_tflite_bytes", "run_fit"]
