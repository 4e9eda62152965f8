import torch

from granlib.training.devices import cudnn_autotuning, resolve_device


def test_auto_is_cuda_when_available_else_cpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device(torch.device("cpu")).type == "cpu"


def test_autotuning_is_set_on_cuda_only_and_always_restored():
    saved = torch.backends.cudnn.benchmark
    with cudnn_autotuning(not saved, torch.device("cpu")):
        assert torch.backends.cudnn.benchmark == saved  # the CPU has no cuDNN: untouched
    try:
        with cudnn_autotuning(not saved, torch.device("cuda")):
            assert torch.backends.cudnn.benchmark == (not saved)
            raise RuntimeError("a failing run")
    except RuntimeError:
        pass
    assert torch.backends.cudnn.benchmark == saved
