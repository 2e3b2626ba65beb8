"""Training on several processes, on one machine or many, under PyTorch's own launcher, torchrun.

torchrun starts one process per GPU (or per CPU worker) and tells each who it is through its
environment: RANK (this process among all), LOCAL_RANK (among those on its machine), WORLD_SIZE,
MASTER_ADDR and MASTER_PORT (where to meet). `Ranks.from_env()` reads them; without them the run
is one process and nothing here is used. The processes meet in a process group (nccl between
GPUs, gloo between CPUs); DistributedDataParallel then averages the gradients after every
backward pass, so every rank holds the same weights after every step.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from musictui.errors import UserError


@dataclass(frozen=True)
class Ranks:
    """Who this process is in the run. The default is a run of one process."""

    rank: int = 0          # among all processes; rank 0 prints, logs and writes checkpoints
    local_rank: int = 0    # among the processes on this machine; picks this process's GPU
    world_size: int = 1    # processes in the whole run

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_env(cls, environ=os.environ) -> "Ranks":
        """torchrun's RANK, LOCAL_RANK and WORLD_SIZE; one process when they are absent."""
        if "RANK" not in environ or "WORLD_SIZE" not in environ:
            return cls()
        try:
            return cls(int(environ["RANK"]), int(environ.get("LOCAL_RANK", 0)), int(environ["WORLD_SIZE"]))
        except ValueError:
            raise UserError("RANK, LOCAL_RANK and WORLD_SIZE must be whole numbers (torchrun sets them)") from None


SINGLE = Ranks()


def join(ranks: Ranks, device: torch.device) -> torch.device:
    """Join the run's process group (nccl on CUDA, gloo otherwise); returns this process's device.

    On CUDA each process of a machine takes its own GPU, the one numbered by its local rank.
    """
    if device.type == "mps":
        raise UserError("--device mps cannot train under torchrun (PyTorch has no process-group backend "
                        "for it): use --device cpu")
    if device.type == "cuda":
        if ranks.local_rank >= torch.cuda.device_count():
            raise UserError(f"local rank {ranks.local_rank} needs GPU {ranks.local_rank}, but this machine has "
                            f"{torch.cuda.device_count()}: start at most that many processes per node")
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    # MASTER_ADDR/MASTER_PORT (env://) are torchrun's. Ten minutes: a slow checkpoint on rank 0
    # must not time out the others waiting at the barrier behind it.
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=timedelta(minutes=10),
                            device_id=device if device.type == "cuda" else None)
    return device


def leave() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: torch.nn.Module, device: torch.device) -> DistributedDataParallel:
    """The model for training steps: its backward pass averages the gradients over all ranks.
    Building it copies rank 0's weights to every rank."""
    return DistributedDataParallel(model, device_ids=[device] if device.type == "cuda" else None)


def mean(value: torch.Tensor) -> torch.Tensor:
    """The mean of a tensor over all ranks (every rank gets it)."""
    value = value.detach().clone()
    dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value / dist.get_world_size()


def total(values: list[float], device: torch.device) -> list[float]:
    """Element-wise sums of small lists of numbers over all ranks, in float64."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor.tolist()


def any_rank(flag: bool, device: torch.device) -> bool:
    """True on every rank when it is true on any: ranks must agree before they leave the loop,
    or one would wait forever for the others in the next step's gradient exchange."""
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def barrier() -> None:
    dist.barrier()


def from_main(value):
    """Rank 0's `value` on every rank (any picklable object; the others' `value` is ignored)."""
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]
