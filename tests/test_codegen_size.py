"""Runtime code budget: kernels + generated glue of a FlyNet model under 24 KB on the M4 --opt size build."""

from codegen_models import exported_model
from flynet_tiny.build.bench_firmware import build_model_firmware
from flynet_tiny.build.folder import write_build_folder
from flynet_tiny.build.options import PORTABLE_DEFINE, BuildOptions
from flynet_tiny.build.code_size import runtime_code_bytes
from flynet_tiny.codegen.generate import generate_model_sources
from flynet_tiny.resources import BUNDLED_SAMPLES
from flynet_tiny.targets import load_target

RUNTIME_CODE_BUDGET = 24 * 1024


def test_flynet_runtime_code_fits_the_budget_on_the_m4_size_build(tmp_path):
    model_bytes, images = exported_model("flynet-h3-0.5", BUNDLED_SAMPLES, input_size=32)
    generated = generate_model_sources(model_bytes, tmp_path / "model")
    assert len(generated.layers) > 100  # the full model, every block's layers
    firmware = build_model_firmware(generated, load_target("f446re"), images[:1], tmp_path / "fw", opt="size")
    kernels, glue = runtime_code_bytes(firmware.map, generated.name)
    assert kernels > 0 and glue > 0
    assert kernels + glue < RUNTIME_CODE_BUDGET, f"kernels {kernels} + glue {glue} bytes"


def test_size_build_takes_the_portable_kernels_and_speed_the_dsp_ones(tmp_path):
    target = load_target("f446re")
    for opt, portable in (("size", True), ("speed", False)):
        makefile = write_build_folder(tmp_path / opt, target, [], options=BuildOptions(opt=opt)).read_text()
        assert (f"-D{PORTABLE_DEFINE}" in makefile) == portable, opt
