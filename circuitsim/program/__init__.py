"""Write-verify programming of crossbar arrays in transient ngspice and in the twin.

``program_array(ProgramConfig(...), targets, world="spice" | "twin")`` programs one array of
VTEAM or linear ion drift cells on its real wiring (driver and wire resistances, wire
capacitance in SPICE) with incremental-step write-verify under a V/2 or V/3 half-select
scheme; both worlds build their waveforms from one schedule (:mod:`.schedule`) and decide
from their own verify reads.
:func:`half_select_probe` measures what the unselected cells suffer per scheme;
:mod:`.handoff` writes and loads the hardware hand-off files.
"""

from .array import CellArray
from .config import PROGRAM_SCHEMES, SCHEMES, ProgramConfig, scheme_levels
from .probe import half_select_probe
from .schedule import CellPulse, build_iteration
from .writeverify import ProgramResult, Verifier, divergence, program_array

__all__ = ["CellArray", "CellPulse", "PROGRAM_SCHEMES", "ProgramConfig", "ProgramResult",
           "SCHEMES", "Verifier", "build_iteration", "divergence", "half_select_probe",
           "program_array", "scheme_levels"]
