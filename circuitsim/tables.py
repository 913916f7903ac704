"""Tabulated functions of two variables for both behavioral backends: ONE text of the
evaluation for numpy and torch (the array module ``xp`` is taken from the arguments, as
:meth:`circuitsim.cards.Nmos1Card.level1` does).

:class:`Bicubic` is the bicubic interpolating spline of scipy's ``RectBivariateSpline``
(kx = ky = 3, s = 0) on a rectangular grid, stored as one bicubic polynomial per grid cell:
inside a cell the spline *is* a bicubic polynomial (its knots are grid points), so the 16
coefficients of each cell, fitted once to 4 x 4 spline values inside it, reproduce the spline
and its derivatives to rounding.  Evaluation is then a cell look-up and a polynomial, which
torch can run on any device.
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RectBivariateSpline

from .errors import ConfigError

_T = np.array([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0])
_VINV = np.linalg.inv(np.vander(_T, 4, increasing=True))  # values at _T -> power coefficients


def array_module(*xs):
    """numpy, or torch when any argument is a torch tensor."""
    for x in xs:
        if type(x).__module__.startswith("torch"):
            import torch

            return torch
    return np


def _cell(grid, q, xp):
    """Index of the grid cell holding each query (clipped to the first / last cell)."""
    if xp is np:
        k = np.searchsorted(grid, q, side="right") - 1
        return np.clip(k, 0, grid.shape[0] - 2)
    k = xp.searchsorted(grid, q.contiguous(), right=True) - 1
    return xp.clamp(k, 0, grid.shape[0] - 2)


class Bicubic:
    """f(x, y) on the grid ``x`` (nx,) x ``y`` (ny,) (each >= 4 increasing values) from the
    values ``z`` (nx, ny); evaluates ``f``, ``df/dx`` and ``df/dy`` with numpy or torch."""

    def __init__(self, x, y, z):
        x, y, z = (np.asarray(a, dtype=float) for a in (x, y, z))
        if x.ndim != 1 or y.ndim != 1 or x.size < 4 or y.size < 4:
            raise ConfigError("Bicubic: x and y must each be >= 4 values")
        if np.any(np.diff(x) <= 0) or np.any(np.diff(y) <= 0):
            raise ConfigError("Bicubic: x and y must be strictly increasing")
        if z.shape != (x.size, y.size) or not np.all(np.isfinite(z)):
            raise ConfigError(f"Bicubic: z must be finite with shape ({x.size}, {y.size}), got "
                              f"{z.shape}")
        s = RectBivariateSpline(x, y, z, kx=3, ky=3)
        hx, hy = np.diff(x), np.diff(y)
        xs = x[:-1, None] + hx[:, None] * _T  # (nx-1, 4) sample points inside each cell
        ys = y[:-1, None] + hy[:, None] * _T
        X = np.broadcast_to(xs[:, None, :, None], (x.size - 1, y.size - 1, 4, 4))
        Y = np.broadcast_to(ys[None, :, None, :], X.shape)
        F = s.ev(X.ravel(), Y.ravel()).reshape(X.shape)
        # F[a, b] = sum_pq c[p, q] t_a^p t_b^q  ->  c = Vinv F Vinv^T
        self.coef = np.einsum("pa,ijab,qb->ijpq", _VINV, F, _VINV)
        self.x, self.y, self.hx, self.hy = x, y, hx, hy
        self._spline = s
        self._torch: dict = {}

    def _arrays(self, xp, like):
        if xp is np:
            return self.x, self.y, self.hx, self.hy, self.coef
        key = (like.device, like.dtype)
        if key not in self._torch:
            self._torch[key] = tuple(xp.as_tensor(a, device=like.device, dtype=like.dtype)
                                     for a in (self.x, self.y, self.hx, self.hy, self.coef))
        return self._torch[key]

    def contains(self, xq, yq, tol: float = 1e-9) -> bool:
        """Whether every query point lies on the grid (within ``tol``)."""
        return bool(float(xq.min()) >= self.x[0] - tol and float(xq.max()) <= self.x[-1] + tol
                    and float(yq.min()) >= self.y[0] - tol
                    and float(yq.max()) <= self.y[-1] + tol)

    def __call__(self, xq, yq):
        """``(f, df/dx, df/dy)`` at same-shape (or broadcastable) arrays of one module; points
        outside the grid are extrapolated with the edge cell's polynomial (check
        :meth:`contains` first where that matters)."""
        xp = array_module(xq, yq)
        if xp is np:
            xq, yq = np.broadcast_arrays(np.asarray(xq, dtype=float),
                                         np.asarray(yq, dtype=float))
        else:
            xq, yq = xp.broadcast_tensors(xq, yq)
        gx, gy, hx, hy, coef = self._arrays(xp, xq if xp is not np else None)
        i, j = _cell(gx, xq, xp), _cell(gy, yq, xp)
        u = (xq - gx[i]) / hx[i]
        w = (yq - gy[j]) / hy[j]
        c = coef[i, j]  # (..., 4, 4): c[..., p, q] multiplies u^p w^q
        wq = w[..., None]
        cw = ((c[..., 3] * wq + c[..., 2]) * wq + c[..., 1]) * wq + c[..., 0]  # (..., 4) in p
        dcw = (3.0 * c[..., 3] * wq + 2.0 * c[..., 2]) * wq + c[..., 1]
        f = ((cw[..., 3] * u + cw[..., 2]) * u + cw[..., 1]) * u + cw[..., 0]
        fx = ((3.0 * cw[..., 3] * u + 2.0 * cw[..., 2]) * u + cw[..., 1]) / hx[i]
        fy = (((dcw[..., 3] * u + dcw[..., 2]) * u + dcw[..., 1]) * u + dcw[..., 0]) / hy[j]
        return f, fx, fy


__all__ = ["Bicubic", "array_module"]
