"""One-command CUDA check of the exact crossbar solver (torch path, float64).

    python benchmarks/check_cuda.py                 # 4096x4096 on CUDA vs the numpy CPU path
    python benchmarks/check_cuda.py --n 512 --device cpu   # the same check without a GPU

Solves one N x N linear 1R array (G uniform 1-100 uS, 1 ohm wires, driver and sense, inputs
0-0.2 V; new conductances, setup included) with :func:`circuitsim.behavioral.pcg.solve` on
the torch device and with the numpy CPU path, and requires the column currents to agree within
1e-9 (max difference / max current).  Also times, on the device: a 100-draw x 100-vector
Monte-Carlo batch of 128x128 arrays, and one forward + adjoint backward pass through a 256x256
array.  Prints a table, writes benchmarks/results/crossbar_cuda.json, exits 1 when the
agreement check fails.  Expect a few minutes at 4096 (most of it the CPU reference).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "results"


def _spec(n: int, seed: int):
    from circuitsim.crossbar import CrossbarSpec

    rng = np.random.default_rng(seed)
    return CrossbarSpec(rng.uniform(1e-6, 1e-4, (n, n)), r_wire_row=1.0, r_wire_col=1.0,
                        r_source=1.0, r_sense=1.0), rng


def _sync(dev):
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def main(argv=None) -> int:
    import torch

    from circuitsim.behavioral import pcg
    from circuitsim.behavioral.autograd import crossbar_currents
    from circuitsim.behavioral.solver import blas_limit

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=4096)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tol", type=float, default=1e-9)
    ap.add_argument("--mc", type=int, default=100,
                    help="Monte-Carlo draws and vectors per draw (128x128)")
    ap.add_argument("--skip-extras", action="store_true",
                    help="only the N x N agreement check")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        print("no CUDA device visible to torch: run with --device cpu (and a smaller --n) to "
              "check the torch path on the CPU")
        return 2
    dev = torch.device(args.device)
    if dev.type == "cpu":
        torch.set_num_threads(1)  # shared CPUs: one thread, as the numpy path
    rows = {"n": args.n, "device": str(dev), "torch": torch.__version__,
            "machine": platform.node(),
            "gpu": torch.cuda.get_device_name(dev) if dev.type == "cuda" else None}
    spec, rng = _spec(args.n, args.n)
    V = rng.uniform(0.0, 0.2, args.n)

    # device: warm-up on a small array (CUDA context, kernels), then the timed solve
    pcg.solve(_spec(64, 1)[0], torch.zeros(64, dtype=torch.float64, device=dev))
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)
    _sync(dev)
    t0 = time.perf_counter()
    out_d = pcg.solve(spec, torch.as_tensor(V, device=dev))
    _sync(dev)
    rows["device_s"] = time.perf_counter() - t0
    rows["device_iterations"] = out_d.iterations
    rows["device_kcl_rel"] = out_d.kcl_rel
    if dev.type == "cuda":
        rows["device_peak_gib"] = torch.cuda.max_memory_allocated(dev) / 2**30
    print(f"{args.n}x{args.n} on {dev}: {rows['device_s']:.2f} s, {out_d.iterations} CG "
          f"iterations, KCL residual {out_d.kcl_rel:.2g} of i_ref", flush=True)

    with blas_limit(1):
        t0 = time.perf_counter()
        out_c = pcg.solve(spec, V)
        rows["cpu_s"] = time.perf_counter() - t0
    I_c = out_c.currents
    I_d = out_d.currents.cpu().numpy()
    diff = float(np.abs(I_d - I_c).max() / np.abs(I_c).max())
    rows["max_rel_diff"] = diff
    rows["ok"] = diff <= args.tol
    print(f"{args.n}x{args.n} numpy CPU: {rows['cpu_s']:.2f} s; device vs CPU max rel. diff "
          f"{diff:.2g} (tolerance {args.tol:g}): {'OK' if rows['ok'] else 'FAIL'}", flush=True)

    if not args.skip_extras:
        s128, r = _spec(128, 7)
        m = args.mc
        G = torch.as_tensor(r.uniform(1e-6, 1e-4, (m, 128, 128)), device=dev)
        Vb = torch.as_tensor(r.uniform(0.0, 0.2, (128, m)), device=dev)
        pcg.solve(s128, Vb[:, :2], G[:2])
        _sync(dev)
        t0 = time.perf_counter()
        mc = pcg.solve(s128, Vb, G)
        _sync(dev)
        rows["mc_draws_x_vectors"] = m
        rows["mc_128sq_s"] = time.perf_counter() - t0
        ref = pcg.solve(s128, Vb[:, :3].cpu().numpy(), G[:2].cpu().numpy()).currents
        rows["mc_max_rel_diff"] = float(np.abs(mc.currents[:2, :, :3].cpu().numpy() - ref).max()
                                        / np.abs(ref).max())
        print(f"Monte-Carlo {m} draws x {m} vectors, 128x128: {rows['mc_128sq_s']:.2f} s (CPU "
              f"spot check diff {rows['mc_max_rel_diff']:.2g})", flush=True)
        s256, r = _spec(256, 9)
        g = torch.as_tensor(np.array(s256.conductance) * 1e4, device=dev).requires_grad_()
        v = torch.as_tensor(r.uniform(0, 0.2, (256, 32)), device=dev)
        _sync(dev)
        t0 = time.perf_counter()
        loss = (crossbar_currents(s256, v, g * 1e-4) ** 2).sum()
        loss.backward()
        _sync(dev)
        rows["grad_256sq_x32_s"] = time.perf_counter() - t0
        print(f"forward + adjoint backward, 256x256, 32 vectors: {rows['grad_256sq_x32_s']:.2f} s",
              flush=True)

    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "crossbar_cuda.json").write_text(json.dumps(rows, indent=1))
    return 0 if rows["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
