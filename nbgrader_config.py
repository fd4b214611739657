# Course configuration: nbgrader's settings plus the grader's own (c.Grading.*).
# This file stays with the instructor: it is never released to students.
c = get_config()  # noqa: F821

c.CourseDirectory.course_id = "conv-layers"
# The student release lives in assignments/<assignment>/ (committed with the kit).
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", ".*"]

# Hidden test cases come from this seed. Change it for your course and keep it private.
c.Grading.seed = 20261128

# Sandbox limits for each submission (see README, "Threat model").
c.Grading.memory_bytes = 2 * 2**30      # all processes of a submission together (cgroup)
c.Grading.cpu_seconds = 300             # per process (RLIMIT_CPU)
c.Grading.processes = 64                # processes and threads (cgroup pids.max)
c.Grading.file_bytes = 64 * 2**20       # largest file written (RLIMIT_FSIZE)
c.Grading.open_files = 256              # per process (RLIMIT_NOFILE)
c.Grading.disk_bytes = 256 * 2**20      # scratch directory (tmpfs)
c.Grading.submission_seconds = 240      # wall clock for one whole notebook
c.Grading.max_output_bytes = 2**20      # output kept per cell
c.Grading.max_notebook_bytes = 20 * 2**20

# What flags a submission for tampering (see README, "How flags are decided"). The lists
# have defaults in autograder/tampering.py; extend or trim them here, e.g.
# c.TamperingScan.modules.append("requests_html") or c.TamperingScan.allowed_magics.append("env").
# A library that would do a naive task's work is flagged as its own kind, per assignment.
c.TamperingScan.work_libraries = {
    "conv_layers": ["scipy.signal", "scipy.ndimage", "scipy.fft", "numpy.convolve",
                    "numpy.correlate", "torch", "tensorflow", "keras", "jax", "skimage",
                    "cv2", "theano", "chainer", "mxnet"],
    # scikit-learn is fine here: the notebook loads its digits with it.
    "conv_net": ["scipy.signal", "scipy.ndimage", "scipy.fft", "numpy.convolve",
                 "numpy.correlate", "torch", "tensorflow", "keras", "jax", "skimage", "cv2",
                 "theano", "chainer", "mxnet", "sklearn.neural_network"],
}

# Per-cell wall-clock limit; a cell over it is interrupted (or its kernel killed).
c.Execute.timeout = 10
# conv_net trains a network in one cell (seconds with a fast convolution, much longer with loops).
c.Grading.cell_timeout = {"conv_net": 90}

# Student code runs in the sandbox; the hidden tests are scored by the trusted verifier.
# Last, after everything that reads outputs: the stored notebook shows student output
# inertly (no script, handler or JavaScript output), and so does every page built from it.
c.Autograde.autograde_preprocessors = [
    "autograder.running.execute.SandboxedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "autograder.grading.metadata.CheckCellMetadata",
    "autograder.reporting.inert.SanitizeOutputs",
]
# nbgrader's own steps before executing; its metadata check with the schema compiled once.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "nbgrader.preprocessors.DeduplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "autograder.grading.metadata.CheckCellMetadata",
]
# Deleted test cells come back from the gradebook.
c.OverwriteCells.add_missing_cells = True

# Feedback shows each case's verdict but no hidden test source or traceback.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
    "autograder.reporting.feedback.HideTestTracebacks",
    "nbgrader.preprocessors.ClearHiddenTests",
]
# The same page as nbconvert's HTMLExporter, with the work every student shares done once.
c.GenerateFeedback.exporter_class = "autograder.reporting.feedback.FeedbackExporter"

# Collecting an LMS's "download all submissions" archive (python -m autograder collect; see
# README, "Collecting from an LMS"). The defaults:
# c.Collect.max_entries = 10_000            # more entries in one archive: nothing collected
# c.Collect.max_file_bytes = 64 * 2**20     # one file, inflated; a larger one is refused
# c.Collect.max_total_bytes = 2 * 2**30     # all files to collect, inflated; more: nothing collected
# c.Collect.timezone = "UTC"                # the LMS server's zone, for zip times without a UTC field
