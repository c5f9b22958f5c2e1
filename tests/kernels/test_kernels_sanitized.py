"""The kernel tests again, on a host build with -fsanitize=address,undefined.

The sanitized library needs the ASan runtime loaded first, so the tests run in a
child Python started with it preloaded. Any out-of-bounds access or undefined
behaviour aborts the child with the sanitizer's exit code.
"""

import subprocess
import sys
from pathlib import Path

from flynet_tiny.codegen.host_kernels import build_host_library, sanitizer_env

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
SUITES = ["test_kernels_conv.py", "test_kernels_ops.py", "test_kernels_eca.py", "test_kernels_edges.py",
          "test_kernels_lut_maxout.py", "test_kernels_quantize.py", "test_kernels_elementwise.py",
          "test_kernels_activations.py", "test_kernels_tensor_ops.py", "test_kernels_overlap.py"]
# QEMU runs the Cortex-M build, which the host sanitizers do not see; the resize / concat placed past its safe
# offset breaks the kernels' contract on purpose (overlapping memcpy), which ASan reports as it should.
SKIPPED = ["test_kernels_overlap.py::test_dsp_paths_overlapped_in_qemu_match",
           "test_kernels_overlap.py::test_a_resize_or_concat_past_the_offset_clobbers_its_input"]


def test_kernel_suites_pass_under_address_and_undefined_sanitizers():
    build_host_library(sanitize=True)  # build here, so a compile error shows as this test's failure
    env = sanitizer_env()
    env["FLYNET_KERNELS_SANITIZE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *[str(HERE / s) for s in SUITES],
         *[f"--deselect={HERE.relative_to(ROOT) / s}" for s in SKIPPED]],  # node ids are relative to the root
        env=env, capture_output=True, text=True, timeout=600, cwd=ROOT,
    )
    tail = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, tail
    assert "ERROR: AddressSanitizer" not in tail and "runtime error:" not in tail
    assert f"{len(SKIPPED)} deselected" in result.stdout  # the skips matched their tests
