"""One run across processes started by torchrun (or torch.distributed.run): a `Team` that the
trainer, the evaluation and the command line ask for what differs between one process and many.

`SOLO`, one process alone, makes every question trivial (its shard is everything, a sum across
processes is the value itself). A `ProcessTeam` is one of WORLD_SIZE processes that torchrun
started, each with RANK and LOCAL_RANK in its environment: gloo on the CPU, nccl on CUDA. A
process that another process's end leaves waiting raises `PeerLost` (one line) instead of hanging:
the collectives time out after COLLECTIVE_TIMEOUT_S, and gloo fails at once on a closed peer."""

from __future__ import annotations

import datetime
import functools
import inspect
import os
from collections.abc import Callable
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

from vae_core.errors import VaeStudioError

TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK")
# Longest wait for the other processes, at start-up and at any collective: long enough for a
# checkpoint save on the leader, short enough that a lost node ends the run within minutes.
COLLECTIVE_TIMEOUT_S = 300
# Words of the errors torch's collectives raise when a peer went away or stopped answering.
_LOST_PEER_WORDS = ("gloo", "nccl", "connection", "peer", "timed out", "timeout", "socket")

_T = TypeVar("_T")
# DistributedDataParallel's switch for broadcasting buffers before each forward pass: renamed in
# torch 2.13 (the old name warns), so taken from its signature.
_NO_BUFFER_SYNC_PER_STEP = (
    {"forward_sync_buffers": False}
    if "forward_sync_buffers" in inspect.signature(nn.parallel.DistributedDataParallel).parameters
    else {"broadcast_buffers": False}
)


class PeerLost(VaeStudioError):
    """Another process of the run ended or stopped answering; the leader says so, the others stay quiet."""


class LeaderFailed(VaeStudioError):
    """The leader failed at something the others waited for; it has said why."""


class Team:
    """One process alone (`SOLO`): its shard is everything, its sums are its own."""

    rank = 0
    world_size = 1

    @property
    def leader(self) -> bool:
        """The process that writes the run folder and speaks for the run."""
        return self.rank == 0

    def shard(self, items: torch.Tensor) -> torch.Tensor:
        """This process's share of `items`: every world_size-th, from its rank on."""
        return items[self.rank :: self.world_size]

    def owns(self, index: int) -> bool:
        """Whether the index-th piece of work (a batch, say) is this process's."""
        return index % self.world_size == self.rank

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` replaced, in place, by its sum over the processes."""
        return tensor

    def broadcast_(self, tensor: torch.Tensor) -> torch.Tensor:
        """`tensor` replaced, in place, by the leader's."""
        return tensor

    def any(self, flag: bool) -> bool:
        """Whether any process says `flag`: a decision all processes then share."""
        return flag

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every process's rows of `tensor` (lengths may differ), one after the other."""
        return tensor

    def wrap(self, module: nn.Module) -> nn.Module:
        """The module whose backward pass leaves every process with the mean gradient."""
        return module

    def leader_then_others(self, work: Callable[[], _T]) -> _T:
        """`work()` on the leader, then on the others once it succeeded (a download, say)."""
        return work()

    def on_leader(self, work: Callable[[], _T]) -> _T | None:
        """`work()` on the leader alone, the others waiting; if it fails, they end quietly."""
        return work()

    def barrier(self) -> None:
        pass

    def close(self) -> None:
        pass


SOLO = Team()
_joined: Team = SOLO


def current_team() -> Team:
    """The team this process joined (SOLO unless `join` made it one of torchrun's processes)."""
    return _joined


def _collective(method):
    """A collective whose failure, when a peer is gone, is PeerLost: one line, not a traceback."""

    @functools.wraps(method)
    def guarded(self, *arguments, **keywords):
        try:
            return method(self, *arguments, **keywords)
        except RuntimeError as error:
            raise lost_peer(error) from None

    return guarded


def lost_peer(error: RuntimeError) -> Exception:
    """PeerLost for an error of a collective that lost its peer; the error itself otherwise."""
    text = str(error)
    if isinstance(error, getattr(dist, "DistError", ())) or any(
        word in text.lower() for word in _LOST_PEER_WORDS
    ):
        reason = text.splitlines()[0] if text else type(error).__name__
        return PeerLost(
            f"another process of the run ended or stopped answering ({reason.strip()[:160]})"
        )
    return error


class ProcessTeam(Team):
    """One of the processes torchrun started."""

    def __init__(self, device: torch.device):
        self.device = device
        self.rank = dist.get_rank()
        self.world_size = dist.get_world_size()

    @_collective
    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        dist.all_reduce(tensor)
        return tensor

    @_collective
    def broadcast_(self, tensor: torch.Tensor) -> torch.Tensor:
        dist.broadcast(tensor, src=0)
        return tensor

    @_collective
    def any(self, flag: bool) -> bool:
        vote = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(vote)
        return bool(vote.item() > 0)

    @_collective
    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        # all_gather wants equal shapes: pad every process's rows to the longest, then trim.
        length = torch.tensor([len(tensor)], device=self.device)
        lengths = [torch.zeros_like(length) for _ in range(self.world_size)]
        dist.all_gather(lengths, length)
        longest = int(max(lengths).item())
        padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=self.device)
        padded[: len(tensor)] = tensor.to(self.device)
        pieces = [torch.empty_like(padded) for _ in range(self.world_size)]
        dist.all_gather(pieces, padded)
        return torch.cat([piece[: int(count.item())] for piece, count in zip(pieces, lengths)]).to(
            tensor.device
        )

    def wrap(self, module: nn.Module) -> nn.Module:
        # Buffers are not broadcast: the models keep them equal themselves (VQ-VAE's codebook
        # statistics are summed across processes), and a broadcast per step would cost a collective.
        device_ids = [self.device.index] if self.device.type == "cuda" else None
        return nn.parallel.DistributedDataParallel(
            module, device_ids=device_ids, **_NO_BUFFER_SYNC_PER_STEP
        )

    def leader_then_others(self, work: Callable[[], _T]) -> _T:
        result = self.on_leader(work)
        return result if self.leader else work()

    def on_leader(self, work: Callable[[], _T]) -> _T | None:
        result, failure = None, None
        if self.leader:
            try:
                result = work()
            except BaseException as error:  # noqa: BLE001 - re-raised below, after the others heard
                failure = error
        if self.any(failure is not None):
            if failure is not None:
                raise failure
            raise LeaderFailed("the first process of the run failed")
        return result

    @_collective
    def barrier(self) -> None:
        dist.barrier()

    def close(self) -> None:
        global _joined
        _joined = SOLO
        if dist.is_initialized():
            dist.destroy_process_group()


def under_torchrun() -> bool:
    return all(name in os.environ for name in TORCHRUN_VARIABLES)


def process_label() -> str:
    """ "" in a process alone or the first of torchrun's; "process R of N: " in the others."""
    if not under_torchrun() or os.environ["RANK"] == "0":
        return ""
    return f"process {os.environ['RANK']} of {os.environ['WORLD_SIZE']}: "


def _attempt_store(timeout: datetime.timedelta) -> dict:
    """Under torchrun, the rendezvous store seen under a prefix of this start's number: torchrun's
    agent keeps one store across `--max-restarts` restarts, and restarted processes reading the
    dead ones' addresses there failed to connect (torch 2.13, gloo). Elsewhere: torch's default."""
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT")
    if attempt is None:
        return {}
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    agent_hosts_it = os.environ.get("TORCHELASTIC_USE_AGENT_STORE") == "True"
    store = dist.TCPStore(
        os.environ["MASTER_ADDR"],
        int(os.environ["MASTER_PORT"]),
        world_size,
        is_master=not agent_hosts_it and rank == 0,
        timeout=timeout,
        multi_tenant=not agent_hosts_it,
    )
    prefixed = dist.PrefixStore(f"vae-studio/attempt_{attempt}", store)
    return {"store": prefixed, "rank": rank, "world_size": world_size}


def join(device: torch.device) -> tuple[Team, torch.device]:
    """The team this process belongs to and the device it computes on: SOLO and `device` unless
    torchrun started it; then its process group (nccl on CUDA, gloo on the CPU) and, on CUDA,
    the GPU of its LOCAL_RANK."""
    if not under_torchrun():
        return SOLO, device
    if not dist.is_available():
        raise VaeStudioError(
            f"this torch ({torch.__version__}) was built without torch.distributed: run one process"
        )
    if device.type == "mps":
        raise VaeStudioError(
            "torchrun runs on the CPU (gloo) or CUDA (nccl), not MPS: choose --device cpu"
        )
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
        if device.index >= torch.cuda.device_count():
            raise VaeStudioError(
                f"LOCAL_RANK {device.index}, but this machine has {torch.cuda.device_count()} GPU(s)"
            )
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    timeout = datetime.timedelta(seconds=COLLECTIVE_TIMEOUT_S)
    try:
        dist.init_process_group(backend, timeout=timeout, **_attempt_store(timeout))
    except (RuntimeError, ValueError) as error:
        raise VaeStudioError(
            f"cannot join the other processes ({backend}): {str(error).splitlines()[0]}"
        ) from None
    global _joined
    _joined = ProcessTeam(device)
    return _joined, device
