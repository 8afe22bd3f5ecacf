"""The pytorch role rejects bad input before it touches the host, saying what exists instead.

pytorch_validate.yml aims the role at a podman container that does not exist: a run that
fails in validation never reached the host (the control case shows that a run which
passes validation fails on the first task that needs the host). pytorch_selection.yml
runs the validation alone on the controller and hands back the build it resolved to.
"""

from __future__ import annotations

import json

import pytest

from platform_harness import run_playbook

VALIDATE = "tests/integration/playbooks/pytorch_validate.yml"
SELECTION = "tests/integration/playbooks/pytorch_selection.yml"


def extra_vars(**values) -> list[str]:
    return ["-e", json.dumps(values)]


CASES = {
    "torch version not in the matrix": (
        extra_vars(pytorch_version="2.99.0"),
        "torch 2.99.0 is not in pytorch_wheel_matrix: known releases are 2.8.0, 2.9.1, 2.13.0, 2.14.1",
    ),
    "CUDA with no wheel for the chosen torch": (
        extra_vars(pytorch_version="2.9.1", pytorch_cuda="11.8"),
        "torch 2.9.1 has no wheel for CUDA 11.8: the CUDA variants published for torch 2.9.1 are 12.6, 12.8, 13.0",
    ),
    "driver older than every CUDA build": (
        extra_vars(pytorch_version="2.9.1", nvidia_driver_gpu_present=True, nvidia_driver_cuda_version="12.4"),
        "The driver's CUDA 12.4 is older than every CUDA build of torch 2.9.1: "
        "the CUDA variants published for torch 2.9.1 are 12.6, 12.8, 13.0",
    ),
    "no index and no wheel directory": (
        extra_vars(pytorch_no_index=True),
        "pytorch_no_index is true but pytorch_find_links is empty",
    ),
    "not a CUDA version": (extra_vars(pytorch_cuda="cuda12"), "pytorch_cuda is 'cuda12'"),
    "GPU without the driver's CUDA": (
        extra_vars(nvidia_driver_gpu_present=True),
        "The host has a GPU but nvidia_driver_cuda_version is not set",
    ),
    "torchaudio for a torch that has none": (
        extra_vars(pytorch_version="2.14.1", pytorch_torchaudio=True),
        "pytorch_wheel_matrix has no torchaudio for torch 2.14.1",
    ),
    "CUDA required of the CPU build": (
        extra_vars(pytorch_cuda="cpu", pytorch_require_cuda=True),
        "CUDA is required (pytorch_require_cuda) but the build chosen is cpu",
    ),
    "unpinned extra package": (
        extra_vars(pytorch_extra_packages=["transformers==5.23.0", "wandb"]),
        "must be pinned as name==version (an unpinned one changes under a re-run): wandb.",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_rejected_before_the_host_is_touched(case):
    args, message = CASES[case]
    run = run_playbook(VALIDATE, *args)
    output = " ".join(run.output.split())
    assert run.rc != 0
    assert message in output, run.output[-2000:]
    assert "mlinfra.gpu_platform.pytorch : Validate" in output, "failed in validation"
    assert run.recap["pytorch-nohost"]["unreachable"] == 0, "the host was never contacted"
    assert "not found" not in output, run.output[-2000:]


def test_good_input_reaches_the_host():
    """The control: with valid input the first task that needs the host finds it unreachable."""
    run = run_playbook(VALIDATE)
    output = " ".join(run.output.split())
    assert run.rc != 0
    assert run.recap["pytorch-nohost"]["unreachable"] == 1, run.output[-2000:]
    assert "mlinfra-pytorch-no-such-container' not found" in output, run.output[-2000:]


SELECTIONS = {
    "auto on a host without a GPU: cpu": (
        {}, "cpu", "https://download.pytorch.org/whl/cpu", False),
    "auto picks the newest variant the driver runs": (
        {"nvidia_driver_gpu_present": True, "nvidia_driver_cuda_version": "12.9"},
        "12.8", "https://download.pytorch.org/whl/cu128", True),
    "auto with a driver newer than every variant": (
        {"nvidia_driver_gpu_present": True, "nvidia_driver_cuda_version": "13.2"},
        "13.0", "https://download.pytorch.org/whl/cu130", True),
    "auto with the driver's CUDA but no GPU: cpu": (
        {"nvidia_driver_gpu_present": False, "nvidia_driver_cuda_version": "12.8"},
        "cpu", "https://download.pytorch.org/whl/cpu", False),
    "explicit variant on an internal mirror": (
        {"pytorch_cuda": "12.6", "pytorch_index_base_url": "https://mirror.example.internal/pytorch/whl/"},
        "12.6", "https://mirror.example.internal/pytorch/whl/cu126", False),
}


@pytest.mark.parametrize("case", list(SELECTIONS))
def test_build_selection(case, tmp_path):
    values, build, index_url, require_cuda = SELECTIONS[case]
    outputs = tmp_path / "outputs.json"
    run = run_playbook(SELECTION, *extra_vars(pytorch_test_outputs_file=str(outputs), **values))
    assert run.rc == 0, run.output[-2000:]
    got = json.loads(outputs.read_text())
    tag = "cpu" if build == "cpu" else "cu" + build.replace(".", "")
    assert got["build"] == build
    assert got["index_url"] == index_url
    assert got["require_cuda"] is require_cuda
    assert got["packages"] == [f"torch==2.9.1+{tag}", f"torchvision==0.24.1+{tag}", f"torchaudio==2.9.1+{tag}"]
    assert got["torch_env"] == {"PIP_INDEX_URL": index_url}
    assert got["extra_env"] == {}, "extra packages come from pip's own index"


def test_offline_wheel_directory_sources(tmp_path):
    outputs = tmp_path / "outputs.json"
    run = run_playbook(SELECTION, *extra_vars(
        pytorch_test_outputs_file=str(outputs), pytorch_version="2.13.0", pytorch_cuda="cpu",
        pytorch_torchvision=False, pytorch_torchaudio=False, pytorch_find_links="/opt/wheelhouse",
        pytorch_no_index=True))
    assert run.rc == 0, run.output[-2000:]
    got = json.loads(outputs.read_text())
    assert got["packages"] == ["torch==2.13.0+cpu"]
    assert got["torch_env"] == {"PIP_FIND_LINKS": "/opt/wheelhouse", "PIP_NO_INDEX": "1"}
    assert got["extra_env"] == {"PIP_FIND_LINKS": "/opt/wheelhouse", "PIP_NO_INDEX": "1"}


def test_extra_packages_index(tmp_path):
    outputs = tmp_path / "outputs.json"
    run = run_playbook(SELECTION, *extra_vars(
        pytorch_test_outputs_file=str(outputs), pytorch_extra_index_url="https://pypi.example.internal/simple"))
    assert run.rc == 0, run.output[-2000:]
    got = json.loads(outputs.read_text())
    assert got["torch_env"] == {"PIP_INDEX_URL": "https://download.pytorch.org/whl/cpu"}
    assert got["extra_env"] == {"PIP_INDEX_URL": "https://pypi.example.internal/simple"}
