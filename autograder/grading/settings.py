"""Course-level grading settings, configured in ``nbgrader_config.py`` as ``c.Grading.*``."""
from __future__ import annotations

from traitlets import Dict, Int, List, Unicode
from traitlets.config import Configurable

from ..running.sandbox import Limits

_DEFAULT_LIMITS = Limits()


class Grading(Configurable):
    seed = Int(0, help="Secret seed of the hidden test cases. Set it in the course's "
                       "nbgrader_config.py (never released) and keep it private.").tag(config=True)
    memory_bytes = Int(_DEFAULT_LIMITS.memory_bytes, help="Memory of one submission's "
                       "sandbox (cgroup), all its processes together.").tag(config=True)
    cpu_seconds = Int(_DEFAULT_LIMITS.cpu_seconds, help="CPU seconds per process of a "
                      "submission (RLIMIT_CPU).").tag(config=True)
    processes = Int(_DEFAULT_LIMITS.processes, help="Processes and threads of one "
                    "submission (cgroup pids.max).").tag(config=True)
    file_bytes = Int(_DEFAULT_LIMITS.file_bytes, help="Largest file a submission may "
                     "write (RLIMIT_FSIZE).").tag(config=True)
    open_files = Int(_DEFAULT_LIMITS.open_files, help="Open files per process "
                     "(RLIMIT_NOFILE).").tag(config=True)
    disk_bytes = Int(_DEFAULT_LIMITS.disk_bytes, help="Size of the submission's "
                     "scratch directory (tmpfs).").tag(config=True)
    cell_timeout = Dict(value_trait=Int(), default_value={}, help="Per assignment id, the "
                        "wall-clock limit of one cell in seconds, where it is not "
                        "c.Execute.timeout (e.g. an assignment that trains a network)."
                        ).tag(config=True)
    submission_seconds = Int(240, help="Wall-clock limit for executing one notebook; "
                             "cells left when it runs out are not run.").tag(config=True)
    max_output_bytes = Int(2**20, help="Output kept per cell; the rest is dropped with "
                           "a note.").tag(config=True)
    max_notebook_bytes = Int(20 * 2**20, help="A submitted notebook larger than this "
                             "is not graded.").tag(config=True)
    sandbox_uid_base = Int(61000, help="Sandboxed kernels run as uid base + worker "
                           "slot; these uids must own no files.").tag(config=True)
    assignment_dirs = List(Unicode(), [], help="Folders holding assignments' grading folders "
                           "(<dir>/<assignment id>/__init__.py), searched before the kit's own "
                           "autograder/assignments/; relative to the course directory. On a "
                           "Dask cluster they must exist at the same path on every worker."
                           ).tag(config=True)
    kernel_preload = List(Unicode(), ["numpy", "matplotlib.pyplot",
                                      "matplotlib.backends.backend_agg"], help="Modules the "
                          "kernel template imports once per grading process, so that each "
                          "student's kernel (a fresh fork of the template) starts with them "
                          "imported. Only modules whose import runs no course code.").tag(config=True)

    def limits(self) -> Limits:
        return Limits(self.memory_bytes, self.cpu_seconds, self.processes, self.file_bytes,
                      self.open_files, self.disk_bytes)
