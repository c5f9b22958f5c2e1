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
SUITES = ["test_kernels_conv.py", "test_kernels_ops.py", "test_kernels_eca.py", "test_kernels_edges.py",
          "test_kernels_lut_maxout.py", "test_kernels_quantize.py"]


def test_kernel_suites_pass_under_address_and_undefined_sanitizers():
    build_host_library(sanitize=True)  # build here, so a compile error shows as this test's failure
    env = sanitizer_env()
    env["FLYNET_KERNELS_SANITIZE"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *[str(HERE / s) for s in SUITES]],
        env=env, capture_output=True, text=True, timeout=600, cwd=HERE.parent.parent,
    )
    tail = (result.stdout + result.stderr)[-3000:]
    assert result.returncode == 0, tail
    assert "ERROR: AddressSanitizer" not in tail and "runtime error:" not in tail
