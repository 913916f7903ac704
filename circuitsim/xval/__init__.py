"""Cross-validation harness: software, behavioral (ideal and full circuit) and ngspice on the
same trained network, chunked over local processes or dask, resumable, with reports/plots."""

from .chunks import Chunk, make_chunks
from .config import XvalConfig
from .executors import DaskExecutor, Executor, LocalExecutor, get_executor
from .harness import LEVELS, Variant, XvalRun, evaluate_chunk, network_from_config
from .report import comparable, summarise
from .store import ChunkStore

__all__ = ["LEVELS", "Chunk", "ChunkStore", "DaskExecutor", "Executor", "LocalExecutor",
           "Variant", "XvalConfig", "XvalRun", "comparable", "evaluate_chunk", "get_executor",
           "make_chunks", "network_from_config", "summarise"]
