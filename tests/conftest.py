"""Shared by every test folder."""

import pytest
import torch

# Folders whose tests run tiny models: fastest, and reproducible, on one thread (the CPUs are shared).
ONE_THREAD_FOLDERS = ("lab", "strategies")


@pytest.fixture(autouse=True)
def one_torch_thread(request):
    if request.path.parent.name not in ONE_THREAD_FOLDERS:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
