"""Split a cross-validation run into independent chunks: image batches × variants.

A *variant* is one point of the run's configuration space (one sweep value and one seed); a
chunk is a contiguous batch of test images evaluated under one variant.  Chunks are
independent and deterministic: the same chunk always gives the same result, wherever it runs,
so a run can be split over processes or machines and resumed after a crash.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError


@dataclass(frozen=True)
class Chunk:
    """One unit of work.

    ``variant``: key of the variant (a short file-name-safe string); ``start``/``stop``:
    the half-open range of test-image indices; ``spice``: whether ngspice runs on this chunk
    (the behavioral levels always run).
    """

    variant: str
    start: int
    stop: int
    spice: bool = True

    @property
    def id(self) -> str:
        """Stable name, used as the chunk's file name: ``<variant>-i<start>-<stop>``."""
        return f"{self.variant}-i{self.start:05d}-{self.stop:05d}"

    @property
    def n(self) -> int:
        return self.stop - self.start


BEHAVIORAL_CHUNK = 120
"""Images per behavioral-only chunk (no ngspice: cheap, so larger batches)."""


def make_chunks(variants: list[str], n_images: int, chunk_size: int,
                spice_images: int | None = None) -> list[Chunk]:
    """Chunks for every variant over images ``0..n_images-1``: the first ``spice_images``
    (None: all) in batches of ``chunk_size`` run ngspice too; the rest are behavioral-only
    batches of up to ``max(chunk_size, BEHAVIORAL_CHUNK)``.
    """
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be ≥ 1, got {chunk_size}")
    if n_images < 1:
        raise ConfigError(f"the run needs at least one image, got n_images={n_images}")
    if len(set(variants)) != len(variants):
        raise ConfigError(f"variant keys must be unique, got {variants}")
    n_sp = n_images if spice_images is None else max(0, min(int(spice_images), n_images))
    chunks = []
    for v in variants:
        for lo, hi, sp in ((0, n_sp, True), (n_sp, n_images, False)):
            step = chunk_size if sp else max(chunk_size, BEHAVIORAL_CHUNK)
            for s in range(lo, hi, step):
                chunks.append(Chunk(v, s, min(s + step, hi), sp))
    return chunks
