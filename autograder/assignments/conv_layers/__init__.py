"""conv_layers: the naive forward and backward passes of a convolutional layer and a
max-pooling layer, in the API of CS231n-style courses."""
from pathlib import Path

from ...assignment import Assignment
from . import cases, diagnose, mutants
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
)
