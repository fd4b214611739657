"""Benchmark: the conv_net reference's fast convolution against the machine's float64
matrix-product peak, on ONE thread, in one run. Prints the peak (GFLOP/s, best of several
runs of a large square matmul), then the forward and backward time, GFLOP/s and % of that
peak on a realistic layer, and exits 1 if either is under the threshold.

    python benchmarks/fast_conv.py [--size 2048] [--repeats 7] [--threshold 25]

The layer is N=64 images, C=F=64 channels, 16x16, 3x3 filters, stride 1, pad 1, float64.
FLOPs counted: forward 2*N*F*C*HH*WW*H'*W' (one multiply-add per filter tap and output);
backward twice that (dx and dw; db is free). Times are the best of --repeats runs after a
warm-up. OMP/OpenBLAS/MKL are held to one thread before numpy is imported, so peak and
convolution are measured alike; the BLAS that numpy uses is printed (threadpoolctl, if
installed). A machine that sets OPENBLAS_CORETYPE runs an older, slower kernel for both.
"""
from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

sys.path.insert(0, str(REPO / "source" / "conv_net"))

from autograder.assignments.conv_net import reference  # noqa: E402
from conv_net_helpers import best_time  # noqa: E402

LAYER = dict(N=64, C=64, F=64, H=16, W=16, HH=3, WW=3, stride=1, pad=1)


def best_seconds(fn, repeats: int) -> float:
    fn()  # warm-up: first-touch page faults, BLAS buffers
    return best_time(fn, repeats)


def blas_info() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS: (threadpoolctl not installed)"
    rows = [f"{i.get('internal_api')} {i.get('version')}, kernel {i.get('architecture')}, "
            f"{i.get('num_threads')} thread(s)" for i in threadpool_info() if i.get("user_api") == "blas"]
    return "BLAS: " + ("; ".join(rows) or "none found")


def matmul_peak(size: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((size, size)), rng.standard_normal((size, size))
    out = np.empty((size, size))
    secs = best_seconds(lambda: np.matmul(a, b, out=out), repeats)
    return 2.0 * size ** 3 / secs / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=2048, help="side of the square matmul for the peak")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs of each; the best counts")
    parser.add_argument("--threshold", type=float, default=25.0, help="minimum %% of peak for each pass")
    args = parser.parse_args()

    L = LAYER
    Ho = 1 + (L["H"] + 2 * L["pad"] - L["HH"]) // L["stride"]
    Wo = 1 + (L["W"] + 2 * L["pad"] - L["WW"]) // L["stride"]
    rng = np.random.default_rng(231)
    x = rng.standard_normal((L["N"], L["C"], L["H"], L["W"]))
    w = rng.standard_normal((L["F"], L["C"], L["HH"], L["WW"]))
    b = rng.standard_normal(L["F"])
    dout = rng.standard_normal((L["N"], L["F"], Ho, Wo))
    fwd_flops = 2.0 * L["N"] * L["F"] * L["C"] * L["HH"] * L["WW"] * Ho * Wo

    print(blas_info())
    print(f"{os.cpu_count()} cores; measuring on 1 thread")
    peak = matmul_peak(args.size, args.repeats)
    print(f"float64 matmul peak ({args.size}x{args.size}, best of {args.repeats}): {peak:.1f} GFLOP/s\n")

    layer = (f"N={L['N']}, C={L['C']}, F={L['F']}, {L['H']}x{L['W']}, {L['HH']}x{L['WW']}, "
             f"stride {L['stride']}, pad {L['pad']}")
    print(f"reference fast conv on {layer}")
    runs = {
        "forward": (lambda: reference.conv_forward_fast(x, w, b, L["stride"], L["pad"]), fwd_flops),
        "backward": (lambda: reference.conv_backward_fast(dout, x, w, L["stride"], L["pad"]), 2 * fwd_flops),
    }
    print(f"{'pass':<10}{'ms':>9}{'GFLOP':>9}{'GFLOP/s':>10}{'% peak':>9}")
    failed = []
    for name, (fn, flops) in runs.items():
        secs = best_seconds(fn, args.repeats)
        rate = flops / secs / 1e9
        share = 100.0 * rate / peak
        print(f"{name:<10}{secs * 1e3:>9.1f}{flops / 1e9:>9.2f}{rate:>10.1f}{share:>8.0f}%")
        if share < args.threshold:
            failed.append(f"{name} {share:.0f}%")
    if failed:
        sys.exit(f"under {args.threshold:.0f}% of peak: {', '.join(failed)}")
    print(f"both passes at or above {args.threshold:.0f}% of peak")


if __name__ == "__main__":
    main()
