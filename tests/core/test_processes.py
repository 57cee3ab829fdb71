"""distributed(): the process group is left at the end of the block only if the block joined it."""

from __future__ import annotations

import socket

import pytest
import torch.distributed as dist

from swinseg.core import processes

_INIT_PROCESS_GROUP = dist.init_process_group if dist.is_available() else None


def _join_alone(backend: str) -> None:
    """A one-process gloo group, standing in for torchrun's (which needs every rank to start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    _INIT_PROCESS_GROUP("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=0, world_size=1)


@pytest.fixture
def torchrun_env(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it: init_distributed then joins a group
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "0")
    monkeypatch.setattr(processes.dist, "init_process_group", _join_alone)
    yield
    if dist.is_initialized():
        dist.destroy_process_group()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built")
def test_a_group_joined_by_the_block_is_left_at_its_end(torchrun_env):
    with processes.distributed("cpu") as (info, device):
        assert info.enabled and dist.is_initialized() and device.type == "cpu"
    assert not dist.is_initialized()


@pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is not built")
def test_a_group_found_is_left_to_its_owner(torchrun_env):
    _join_alone("gloo")
    with processes.distributed("cpu"):
        pass
    assert dist.is_initialized()
