"""Multi-process data-parallel training with torch.distributed, driven by torchrun's variables.

    torchrun --nproc_per_node=K -m dis_rl train CONFIG      # K ranks; a single process needs none

Every rank draws the same *global* batch from the shared example stream (and the same target
frames from the global generator) and keeps its contiguous shard, so a run is a function of the
global batch only: K processes reproduce one process up to float rounding, and a checkpoint holds
no per-rank state, which is why it resumes under any world size.

Gradients are averaged with one explicit all-reduce per optimiser step rather than DDP: DIS makes
one optimiser step per supervision step through `TRM.step` (not `forward`), runs no-grad cycles
inside it, and trains a sparse puzzle-embedding table whose rows differ per rank. The dense
gradients travel as one flat buffer (with the loss appended, so every rank sees the same global
loss for the NaN guard); the sparse table's touched rows are all-gathered and summed, so signSGD
moves the same rows by the same amounts on every rank.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from dis_rl.config import ConfigError
from dis_rl.optim import touched_rows


@dataclass(frozen=True)
class DistContext:
    """Where this process sits: ``rank`` of ``world_size``, on local GPU ``local_rank``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


SINGLE = DistContext()


def context_from_env(env: dict[str, str] | None = None) -> DistContext:
    """Read torchrun's RANK / WORLD_SIZE / LOCAL_RANK; absent means one process."""
    env = os.environ if env is None else env
    values = {}
    for key, default in (("RANK", 0), ("WORLD_SIZE", 1), ("LOCAL_RANK", None)):
        raw = env.get(key)
        if raw is None:
            values[key] = default
            continue
        try:
            values[key] = int(raw)
        except ValueError:
            raise ValueError(f"environment variable {key}={raw!r} must be an integer (set by torchrun)") from None
    rank, world = values["RANK"], values["WORLD_SIZE"]
    local = rank if values["LOCAL_RANK"] is None else values["LOCAL_RANK"]
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(f"inconsistent torchrun environment: RANK={rank} WORLD_SIZE={world} LOCAL_RANK={local}")
    return DistContext(rank, world, local)


def init_distributed(ctx: DistContext, device: torch.device) -> None:
    """Join the process group (NCCL on CUDA, gloo on CPU); a no-op for one process or when the
    caller already initialised it. MASTER_ADDR / MASTER_PORT come from the environment."""
    if not ctx.enabled or dist.is_initialized():
        return
    for key in ("MASTER_ADDR", "MASTER_PORT"):
        if key not in os.environ:
            raise ValueError(f"WORLD_SIZE={ctx.world_size} but {key} is not set: launch with torchrun")
    backend = "nccl" if device.type == "cuda" else "gloo"
    # Generous timeout: rank 0 writes checkpoints while the others wait at the next collective.
    bound = {"device_id": device} if device.type == "cuda" else {}  # NCCL: this rank's GPU, no guessing
    dist.init_process_group(backend, rank=ctx.rank, world_size=ctx.world_size,
                            timeout=datetime.timedelta(minutes=30), **bound)


def shutdown_distributed() -> None:
    if dist.is_available() and dist.is_initialized():
        # Wait for every rank first: a rank that tears gloo down while a peer is still inside its
        # last collective can abort the peer ("terminate called without an active exception"),
        # seen once on a loaded 2-core machine.
        try:
            dist.barrier()
        finally:
            dist.destroy_process_group()


def shard_slice(n: int, ctx: DistContext) -> slice:
    """This rank's contiguous share of a global batch of ``n`` (equal shares keep the mean of the
    per-rank mean losses equal to the global mean loss)."""
    if n % ctx.world_size:
        raise ConfigError(
            f"train.batch_size ({n}) must be divisible by the number of processes ({ctx.world_size}): "
            "each rank takes an equal share of the global batch"
        )
    per = n // ctx.world_size
    return slice(ctx.rank * per, (ctx.rank + 1) * per)


def broadcast_parameters(module: torch.nn.Module, ctx: DistContext) -> None:
    """Start every rank from rank 0's weights (they are seeded alike; this makes it certain)."""
    if ctx.enabled:
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)


def average_gradients(dense: list[torch.nn.Parameter], sparse: list[torch.nn.Parameter], loss: torch.Tensor,
                      ctx: DistContext) -> torch.Tensor:
    """Replace each gradient by its mean over ranks; return the mean loss (a 0-d tensor).

    Each rank's loss is the mean over its equal shard, so the mean of rank gradients is the
    gradient of the global-batch mean loss, as in one process."""
    if not ctx.enabled:
        return loss.detach()
    grads = [p.grad for p in dense if p.grad is not None]
    flat = torch.cat([g.reshape(-1).float() for g in grads] + [loss.detach().float().reshape(1)])
    dist.all_reduce(flat)
    flat /= ctx.world_size
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()
    for p in sparse:
        _average_sparse_rows(p, ctx)
    return flat[-1]


def _average_sparse_rows(param: torch.nn.Parameter, ctx: DistContext) -> None:
    """All-gather every rank's touched embedding rows and sum them into one coalesced sparse
    gradient (divided by the world size), identical on every rank."""
    width = param.shape[1]
    g = param.grad
    if g is None:
        rows = torch.zeros(0, dtype=torch.long, device=param.device)
        values = torch.zeros(0, width, dtype=param.dtype, device=param.device)
    else:
        rows, values = touched_rows(g)
    count = torch.tensor([rows.numel()], dtype=torch.long, device=param.device)
    counts = [torch.zeros_like(count) for _ in range(ctx.world_size)]
    dist.all_gather(counts, count)
    sizes = [int(c) for c in counts]
    longest = max(sizes)
    if longest == 0:
        param.grad = None
        return
    pad = longest - rows.numel()
    rows = torch.cat([rows, rows.new_zeros(pad)])
    values = torch.cat([values, values.new_zeros(pad, width)])
    all_rows = [torch.empty_like(rows) for _ in range(ctx.world_size)]
    all_values = [torch.empty_like(values) for _ in range(ctx.world_size)]
    dist.all_gather(all_rows, rows)
    dist.all_gather(all_values, values)
    rows = torch.cat([r[:k] for r, k in zip(all_rows, sizes)])
    values = torch.cat([v[:k] for v, k in zip(all_values, sizes)]) / ctx.world_size
    param.grad = torch.sparse_coo_tensor(rows.unsqueeze(0), values, param.shape).coalesce()


def reduce_round(losses: list[float], examples: int, network_calls: int, clocks: list[float], ctx: DistContext,
                 device: torch.device) -> tuple[list[float], int, int, list[float]]:
    """A round's statistics over all ranks in one collective: losses and clocks averaged (every
    rank then sees the same times and takes the same budget decisions), counts summed."""
    if not ctx.enabled:
        return losses, examples, network_calls, clocks
    buf = torch.tensor([*losses, *clocks, examples, network_calls], dtype=torch.float64, device=device)
    dist.all_reduce(buf)
    out = buf.tolist()
    k, c = len(losses), len(clocks)
    mean = [v / ctx.world_size for v in out[: k + c]]
    return mean[:k], round(out[k + c]), round(out[k + c + 1]), mean[k:]


def all_gather_shards(local: torch.Tensor, ctx: DistContext) -> torch.Tensor:
    """The global tensor from every rank's equal contiguous shard along dim 0 (rank order); the
    tensor itself in one process. Bool tensors travel as uint8 (gloo has no bool)."""
    if not ctx.enabled:
        return local
    wire = local.to(torch.uint8) if local.dtype == torch.bool else local.contiguous()
    parts = [torch.empty_like(wire) for _ in range(ctx.world_size)]
    dist.all_gather(parts, wire)
    out = torch.cat(parts)
    return out.bool() if local.dtype == torch.bool else out


def barrier(ctx: DistContext) -> None:
    if ctx.enabled:
        dist.barrier()


def eval_indices(n: int, ctx: DistContext) -> np.ndarray:
    """This rank's contiguous block of ``n`` evaluation puzzles (blocks may differ by one)."""
    return np.array_split(np.arange(n), ctx.world_size)[ctx.rank]


