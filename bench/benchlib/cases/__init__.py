"""The cases, one module per family (bench/README.md, "Cases"). Each function takes the
Bench and adds its rows; a BenchError (or another of common.ERRORS) fails the case."""

from .fwd import case_fwd
from .gbench import case_lookup, case_worker
from .idle import case_idle
from .memif import case_memif
from .scaling import case_scaling
from .stages import case_stages
from .storm import case_storm
from .table1 import case_table1

# A case's name -> its function, in the order they run (common.CASES).
FUNCTIONS = {
    "lookup": case_lookup,
    "worker": case_worker,
    "fwd": case_fwd,
    "stages": case_stages,
    "memif": case_memif,
    "storm": case_storm,
    "scaling": case_scaling,
    "idle": case_idle,
    "table1": case_table1,
}
