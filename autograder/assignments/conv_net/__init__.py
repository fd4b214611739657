"""conv_net: a fast convolution (speed measured outside the student's kernel), a three-layer
convnet built from it (with a hidden gradient check of the student's own loss), and the
network trained on scikit-learn's digits (its accuracy computed by the grader)."""
from pathlib import Path

from ...assignment import Assignment
from . import cases, diagnose, judges, mutants
from .tasks import ASSIGNMENT, NOTEBOOK, TASKS

assignment = Assignment(
    id=ASSIGNMENT,
    notebook=NOTEBOOK,
    tasks=TASKS,
    calls=Path(__file__).with_name("calls.py"),
    generate_cases=cases.generate_cases,
    make_inputs=cases.make_inputs,
    expected_outputs=cases.expected_outputs,
    diagnosis=diagnose.DIAGNOSIS,
    synthetic_class=mutants.synthetic_class,
    judge=judges.judge,
    judge_time=judges.judge_time,
    report_limits=judges.report_limits,
)
