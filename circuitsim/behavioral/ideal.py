"""The ideal crossbar matrix-vector product I = V^T G (no wire, driver or sense resistance)."""

from __future__ import annotations

import numpy as np

from ..errors import ConfigError


def ideal_mvm(G, V):
    """Ideal column currents [A]: ``I[j] = sum_i V[i] G[i, j]``.

    ``G`` (rows, cols) [S]; ``V`` (rows,) or (rows, K) [V] -> (cols,) or (cols, K).  numpy
    arrays in, numpy out; torch tensors in, torch out (same device)."""
    if _is_torch(G) or _is_torch(V):
        import torch

        Gt = G if _is_torch(G) else torch.as_tensor(np.asarray(G, dtype=np.float64))
        Vt = V if _is_torch(V) else torch.as_tensor(np.asarray(V), dtype=Gt.dtype,
                                                      device=Gt.device)
        _check_shapes(tuple(Gt.shape), tuple(Vt.shape))
        return Gt.T @ Vt
    G = np.asarray(G, dtype=np.float64)
    V = np.asarray(V, dtype=np.float64)
    _check_shapes(G.shape, V.shape)
    return G.T @ V


def _check_shapes(gs, vs):
    if len(gs) != 2:
        raise ConfigError(f"ideal_mvm: G must be (rows, cols), got shape {gs}")
    if len(vs) not in (1, 2) or vs[0] != gs[0]:
        raise ConfigError(f"ideal_mvm: V must be (rows,) or (rows, K) with rows = {gs[0]}, got "
                          f"shape {vs}")


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")
