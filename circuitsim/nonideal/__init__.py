"""Device non-idealities as small, seeded, composable transforms, and one config object."""

from .config import NonIdealityConfig
from .device import Drift, Endurance, PulseNonlinearity, StuckAt, nl_to_a_over_pmax
from .programming import (
    WAN2022_COEFFS,
    WAN2022_G_REF,
    ProgrammingNoise,
    WriteVerify,
    wan2022_sigma,
)
from .read import IRDrop, IVNonlinearity, ReadNoise
from .training import IRDropAware, WeightNoise

__all__ = ["WAN2022_COEFFS", "WAN2022_G_REF", "Drift", "Endurance", "IRDrop", "IRDropAware",
           "IVNonlinearity", "NonIdealityConfig", "ProgrammingNoise", "PulseNonlinearity",
           "ReadNoise", "StuckAt", "WeightNoise", "WriteVerify", "nl_to_a_over_pmax",
           "wan2022_sigma"]
