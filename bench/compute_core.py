"""Compute-core figures (issue 3): Gaussian filter against scipy, U-Net tiled inference, GPU bandwidth.

Prints:
- gaussian_denoise voxels/s on a float32 volume on the CPU beside scipy.ndimage.gaussian_filter on the
  same data in the same run, their ratio (target >= 1.5x) and the max abs error against scipy (<= 1e-4);
- U-Net tiled inference voxels/s (3D model, shipped weights);
- with CUDA present: the GPU Gaussian throughput and its achieved bandwidth against the card's peak.

Each figure is the best of --repeats runs, the usual guard against a neighbour's load on a shared machine.

Usage: python bench/compute_core.py [--size 256 512 512] [--sigma 2] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import torch
from scipy import ndimage

from gpu_worker.compute.gaussian import gaussian_filter3d
from gpu_worker.compute.make_unet_weights import weights_path
from gpu_worker.compute.unet import load_unet, tiled_inference

# Peak memory bandwidth in GB/s by a substring of torch.cuda.get_device_name (vendor datasheets);
# the first match wins, so more specific names come first.
PEAK_BANDWIDTH_GBS = (
    ("H200", 4800.0),
    ("H100 PCIe", 2000.0),
    ("H100", 3350.0),
    ("A100-SXM4-80GB", 2039.0),
    ("A100 80GB PCIe", 1935.0),
    ("A100", 1555.0),
    ("L40S", 864.0),
    ("A10G", 600.0),
    ("L4", 300.0),
    ("T4", 320.0),
    ("V100", 900.0),
)
# Three separable passes, each reading and writing every voxel once: the least traffic a pass-per-axis
# filter can move, so achieved bandwidth is measured against what the algorithm must do.
PASSES = 3


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, nargs=3, default=(256, 512, 512), metavar=("D", "H", "W"))
    parser.add_argument("--sigma", type=float, default=2.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--unet-size", type=int, nargs=3, default=(64, 256, 256), metavar=("D", "H", "W"))
    parser.add_argument("--tile", type=int, default=64)
    parser.add_argument("--overlap", type=int, default=8)
    parser.add_argument("--peak-gbs", type=float, help="the GPU's peak bandwidth, if not in the table")
    parser.add_argument("--quick", action="store_true", help="a 64x256x256 volume and one repeat")
    args = parser.parse_args()
    if args.quick:
        args.size, args.unet_size, args.repeats = (64, 256, 256), (32, 128, 128), 1

    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads")
    volume = np.random.default_rng(0).random(tuple(args.size), dtype=np.float32)
    report_cpu_gaussian(volume, args.sigma, args.repeats)
    report_unet(tuple(args.unet_size), args.tile, args.overlap, args.repeats)
    if torch.cuda.is_available():
        report_gpu_gaussian(volume, args.sigma, args.repeats, args.peak_gbs)
    else:
        print("gpu: no CUDA device; bandwidth figures skipped")


def report_cpu_gaussian(volume: npt.NDArray[np.float32], sigma: float, repeats: int) -> None:
    """Time scipy and ours alternately on the same data, so both see the same machine."""
    tensor = torch.from_numpy(volume)
    ours = torch.empty_like(tensor)
    theirs = np.empty_like(volume)
    scipy_times, torch_times = [], []
    for _ in range(repeats):
        scipy_times.append(
            _timed(lambda: ndimage.gaussian_filter(volume, sigma, mode="reflect", output=theirs))
        )
        torch_times.append(_timed(lambda: gaussian_filter3d(tensor, sigma, out=ours)))
    error = float(np.abs(ours.numpy() - theirs).max())
    shape = "x".join(map(str, volume.shape))
    print(f"gaussian cpu {shape} float32 sigma={sigma}:")
    print(f"  scipy.ndimage.gaussian_filter {_rate(volume.size, scipy_times)}")
    print(f"  gaussian_filter3d (torch)     {_rate(volume.size, torch_times)}")
    ratio = min(scipy_times) / min(torch_times)
    print(f"  ratio {ratio:.2f}x (target >= 1.5x); max abs error vs scipy {error:.2e} (target <= 1e-4)")


def report_unet(size: tuple[int, ...], tile: int, overlap: int, repeats: int) -> None:
    """Tiled 3D U-Net inference on random data with the shipped weights."""
    model = load_unet(weights_path(3), 3)
    volume = torch.rand(size, generator=torch.Generator().manual_seed(0))
    times = [_timed(lambda: tiled_inference(model, volume, tile, overlap)) for _ in range(repeats)]
    shape = "x".join(map(str, size))
    print(f"unet cpu tiled inference {shape}, tile {tile}, overlap {overlap}: {_rate(volume.numel(), times)}")


def report_gpu_gaussian(
    volume: npt.NDArray[np.float32], sigma: float, repeats: int, peak_gbs: float | None
) -> None:
    """GPU throughput and achieved bandwidth against the card's peak (target >= 60%)."""
    device = torch.device("cuda")
    name = torch.cuda.get_device_name(device)
    tensor = torch.from_numpy(volume).to(device)
    out = torch.empty_like(tensor)

    def run() -> None:
        gaussian_filter3d(tensor, sigma, out=out)
        torch.cuda.synchronize(device)

    run()  # the first call pays for cuBLAS handles and kernel loading
    times = [_timed(run) for _ in range(max(repeats, 5))]
    best = min(times)
    achieved = PASSES * 2 * tensor.numel() * tensor.element_size() / best / 1e9
    peak = peak_gbs or next((gbs for key, gbs in PEAK_BANDWIDTH_GBS if key in name), None)
    expected = ndimage.gaussian_filter(volume, sigma, mode="reflect")
    error = float(np.abs(out.cpu().numpy() - expected).max())
    print(f"gaussian gpu ({name}): {_rate(tensor.numel(), times)}; max abs error vs scipy {error:.2e}")
    if peak is None:
        print(f"  achieved {achieved:.0f} GB/s; peak unknown for this card, pass --peak-gbs")
    else:
        print(
            f"  achieved {achieved:.0f} GB/s of {peak:.0f} GB/s peak = {achieved / peak:.0%} (target >= 60%)"
        )


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _rate(voxels: int, times: list[float]) -> str:
    best, median = voxels / min(times) / 1e6, voxels / statistics.median(times) / 1e6
    return f"{best:7.1f} Mvox/s best, {median:7.1f} median of {len(times)}"


if __name__ == "__main__":
    main()
