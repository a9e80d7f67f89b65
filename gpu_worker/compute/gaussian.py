"""Separable 3D Gaussian filter in torch, matching scipy.ndimage.gaussian_filter with mode="reflect"."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import torch

# scipy skips an axis whose sigma is at or below this (ndimage/_filters.py), and so do we.
SIGMA_EPSILON = 1e-15
# Block sizes found by measurement on a 2-core AVX-512 CPU (256x512x512, sigma 2): 32-wide blocks keep
# each matmul's operands in L2 and waste few multiplications on the band's zeros; 16-plane slabs keep
# the ring of smoothed planes in L3. On a GPU fewer, larger launches should matter more than wasted
# FLOPs; the CUDA sizes are a reasoned guess, not yet measured (no GPU on the development machines).
CPU_BLOCK = 32
CPU_SLAB = 16
CUDA_BLOCK = 128
CUDA_SLAB = 64


@dataclass(frozen=True)
class _Block:
    """Output indices [start, stop) of one axis are `weights @ input[lo:hi]` along that axis."""

    start: int
    stop: int
    lo: int
    hi: int
    weights: torch.Tensor


def gaussian_kernel1d(sigma: float, truncate: float) -> npt.NDArray[np.float64]:
    """Normalised Gaussian taps of radius int(truncate * sigma + 0.5), as scipy builds them."""
    radius = int(truncate * sigma + 0.5)
    offsets = np.arange(-radius, radius + 1, dtype=np.float64)
    taps = np.exp(-0.5 / (sigma * sigma) * offsets**2)
    return np.asarray(taps / taps.sum())


def reflect_indices(positions: npt.NDArray[np.int64], size: int) -> npt.NDArray[np.int64]:
    """Map positions to [0, size) by scipy's half-sample symmetric `reflect` (d c b a | a b c d | d c b a)."""
    folded = np.mod(positions, 2 * size)
    return np.where(folded >= size, 2 * size - 1 - folded, folded)


def gaussian_filter3d(
    volume: torch.Tensor,
    sigma: float | Sequence[float],
    *,
    truncate: float = 4.0,
    slab: int | None = None,
    out: torch.Tensor | None = None,
    on_progress: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Gaussian-filter a 3D tensor on its own device, like scipy's gaussian_filter(mode="reflect").

    Each axis pass is a few banded matrix products (output blocks times their input window, the
    reflection folded into the edge blocks' weights), so BLAS does the work on any device. The volume
    is processed in slabs of `slab` planes along axis 0; working memory beyond the input and output is
    a ring of slab + 2 * radius smoothed planes, whatever the volume's depth. Where the kernel's
    footprint touches a NaN or infinity the result is NaN. On CUDA, TF32 matmuls (off by default in
    torch) would cost the 1e-4 agreement with scipy. ``on_progress`` gets the fraction done after each
    slab.
    """
    if volume.ndim != 3:
        raise ValueError(f"expected a 3D volume, got shape {tuple(volume.shape)}")
    if not volume.is_floating_point():
        raise ValueError(f"expected a floating-point volume, got {volume.dtype}")
    sigmas = _per_axis(sigma)
    if out is None:
        out = torch.empty_like(volume, memory_format=torch.contiguous_format)
    elif out.shape != volume.shape or not out.is_contiguous():
        raise ValueError(f"out must be a contiguous tensor of shape {tuple(volume.shape)}")
    report = on_progress or _ignore
    if bool(torch.isfinite(volume).all()):
        _filter_finite(volume.contiguous(), sigmas, truncate, slab, out, report)
        return out
    # The block matmuls multiply zero weights by every value in a block, so a NaN would spread a whole
    # block; filter zero-filled data and mark the kernel footprint of non-finite inputs instead.
    is_bad = ~torch.isfinite(volume)
    _filter_finite(volume.masked_fill(is_bad, 0.0), sigmas, truncate, slab, out, lambda f: report(f / 2))
    touched = torch.empty_like(out)
    _filter_finite(is_bad.to(volume.dtype), sigmas, truncate, slab, touched, lambda f: report(0.5 + f / 2))
    return out.masked_fill_(touched > 0, float("nan"))


def _ignore(_fraction: float) -> None:
    """No one asked for progress."""


def _per_axis(sigma: float | Sequence[float]) -> tuple[float, float, float]:
    values = [float(sigma)] * 3 if isinstance(sigma, int | float) else [float(s) for s in sigma]
    if len(values) != 3:
        raise ValueError(f"expected one sigma or three, got {len(values)}")
    if any(s < 0 for s in values):
        raise ValueError(f"sigma must be non-negative, got {values}")
    return values[0], values[1], values[2]


def _filter_finite(
    volume: torch.Tensor,
    sigmas: tuple[float, float, float],
    truncate: float,
    slab: int | None,
    out: torch.Tensor,
    report: Callable[[float], None],
) -> None:
    depth, height, width = volume.shape
    is_cuda = volume.device.type == "cuda"
    block = CUDA_BLOCK if is_cuda else CPU_BLOCK
    slab = slab or (CUDA_SLAB if is_cuda else CPU_SLAB)

    def plan(size: int, axis_sigma: float, step: int) -> list[_Block]:
        return _plan_axis(size, axis_sigma, truncate, step, volume.dtype, volume.device)

    width_plan, height_plan = plan(width, sigmas[2], block), plan(height, sigmas[1], block)
    depth_plan = plan(depth, sigmas[0], slab)
    # Smoothed planes live in a ring indexed by plane % capacity, so no plane is ever moved or recomputed;
    # zeros keep the unused slots harmless (zero weight times stale data must not be NaN).
    capacity = max(b.hi - b.lo for b in depth_plan)
    ring = volume.new_zeros((capacity, height, width))
    scratch = volume.new_empty((capacity, height, width))
    ready = 0
    for part in depth_plan:
        while ready < part.hi:
            slot = ready % capacity
            stop = min(part.hi, ready + capacity - slot)
            _filter_planes(
                volume[ready:stop], width_plan, height_plan, scratch, ring[slot : slot + stop - ready]
            )
            ready = stop
        weights = volume.new_zeros((part.stop - part.start, capacity))
        slots = torch.arange(part.lo, part.hi, device=volume.device) % capacity
        weights[:, slots] = part.weights
        torch.mm(weights, ring.view(capacity, -1), out=out[part.start : part.stop].view(len(weights), -1))
        report(part.stop / depth)


def _filter_planes(
    planes: torch.Tensor,
    width_plan: list[_Block],
    height_plan: list[_Block],
    scratch: torch.Tensor,
    target: torch.Tensor,
) -> None:
    count, height, width = planes.shape
    rows = planes.reshape(count * height, width)
    smoothed_rows = scratch[:count].view(count * height, width)
    for part in width_plan:
        # A column slice of a row-major matrix is a valid BLAS operand (leading dimension = width).
        smoothed_rows[:, part.start : part.stop] = rows[:, part.lo : part.hi] @ part.weights.T
    smoothed = scratch[:count]
    for part in height_plan:
        target[:, part.start : part.stop] = torch.matmul(part.weights, smoothed[:, part.lo : part.hi])


def _plan_axis(
    size: int, sigma: float, truncate: float, step: int, dtype: torch.dtype, device: torch.device
) -> list[_Block]:
    """Cut one axis into output blocks of `step`, each with its band of weights (reflection folded in)."""
    taps = gaussian_kernel1d(sigma, truncate) if sigma > SIGMA_EPSILON else np.ones(1)
    radius = len(taps) // 2
    blocks = []
    for start in range(0, size, step):
        stop = min(size, start + step)
        outputs = np.arange(start, stop)
        sources = reflect_indices(outputs[:, None] + np.arange(-radius, radius + 1)[None, :], size)
        lo, hi = int(sources.min()), int(sources.max()) + 1
        weights = np.zeros((stop - start, hi - lo))
        # Reflection can send several taps of one output to the same input, hence add.at, not assignment.
        np.add.at(
            weights,
            (np.repeat(outputs - start, len(taps)), (sources - lo).ravel()),
            np.tile(taps, len(outputs)),
        )
        blocks.append(_Block(start, stop, lo, hi, torch.from_numpy(weights).to(device=device, dtype=dtype)))
    return blocks
