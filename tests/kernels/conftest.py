import os

import pytest

from flynet_tiny.codegen.host_kernels import HostKernels, build_host_library

# test_kernels_sanitized.py re-runs these tests in a child process with this
# variable set and the sanitizer runtime preloaded.
SANITIZE = os.environ.get("FLYNET_KERNELS_SANITIZE") == "1"


@pytest.fixture(scope="session")
def kernels():
    return HostKernels(build_host_library(sanitize=SANITIZE))
