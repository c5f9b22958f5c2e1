"""Fixtures shared by test modules (each module opts in; none is autouse here)."""

import pytest
import torch


@pytest.fixture
def one_torch_thread():
    """Two cores shared by several test runs: one thread each avoids oversubscription stalls."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
