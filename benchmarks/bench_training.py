"""Training throughput of FCN4Flare on this machine.

Times full optimisation steps (forward, Mask Dice loss, backward, AdamW) on pre-built batches,
so data generation is excluded; the simulator's own rate is measured separately. Prints one
line per configuration.

Usage::

    python benchmarks/bench_training.py                # hidden 64/128, seq 2048/4096, batch 32
    python benchmarks/bench_training.py --steps 3 --threads 4 --device cuda
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from fcn4flare import FCN4FlareConfig, FCN4FlareModel
from fcn4flare.training import SimulatedFlareDataset


def _batch(batch_size: int, seq_len: int, rng: np.random.Generator):
    flux = 1 + 0.01 * rng.standard_normal((batch_size, seq_len))
    labels = np.zeros((batch_size, seq_len), np.float32)
    for row in range(batch_size):
        start = rng.integers(0, seq_len - 20)
        flux[row, start : start + 20] += 0.1
        labels[row, start : start + 20] = 1
    flux[rng.random(flux.shape) < 0.02] = np.nan
    mask = np.ones((batch_size, seq_len), np.float32)
    return (torch.tensor(flux, dtype=torch.float32), torch.from_numpy(labels),
            torch.from_numpy(mask))


def time_training(hidden_dim: int, seq_len: int, batch_size: int, steps: int, warmup: int,
                  device: str) -> tuple[float, float]:
    """Seconds per step and samples (sequences) per second."""
    torch.manual_seed(0)
    model = FCN4FlareModel(FCN4FlareConfig(hidden_dim=hidden_dim)).to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    flux, labels, mask = (t.to(device) for t in _batch(batch_size, seq_len,
                                                        np.random.default_rng(0)))

    def step():
        loss = model(flux, mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for _ in range(warmup):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = (time.perf_counter() - start) / steps
    return seconds, batch_size / seconds


def time_simulation(seq_len: int, n: int) -> float:
    """Simulated examples generated per second (one process)."""
    data = SimulatedFlareDataset(n, seq_len=seq_len, input_scaling="median_noise", seed=0)
    start = time.perf_counter()
    for i in range(n):
        data[i]
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--seq-len", type=int, nargs="+", default=[2048, 4096])
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--simulated", type=int, default=64,
                        help="examples for the simulator's rate (0: skip)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, threads {args.threads}, "
          f"batch {args.batch_size}, {args.steps} timed steps after {args.warmup} warm-up")
    for seq_len in args.seq_len:
        if args.simulated:
            print(f"simulator seq_len={seq_len}: "
                  f"{time_simulation(seq_len, args.simulated):.1f} examples/s")
    for hidden in args.hidden:
        for seq_len in args.seq_len:
            seconds, rate = time_training(hidden, seq_len, args.batch_size, args.steps,
                                          args.warmup, args.device)
            print(f"hidden_dim={hidden:4d} seq_len={seq_len:5d}: {seconds:7.3f} s/step, "
                  f"{rate:7.2f} samples/s", flush=True)


if __name__ == "__main__":
    main()
