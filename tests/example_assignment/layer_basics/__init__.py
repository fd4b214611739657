"""layer_basics: a two-task assignment (an affine layer's forward pass, a ReLU's backward
pass), the worked example of the README's "Writing an assignment".

This folder is everything the grader knows of the assignment; its master notebook is
``source/layer_basics/layer_basics.ipynb``. A course uses it by listing the folder that
holds this one in ``c.Grading.assignment_dirs``.
"""
from pathlib import Path

from autograder.assignment import Assignment, Task

from . import cases, mistakes, mutants

assignment = Assignment(
    id="layer_basics",
    notebook="layer_basics",
    tasks=(Task("affine_forward", 10, inputs=("x", "w", "b"), outputs=("out",)),
           Task("relu_backward", 10, inputs=("x", "dout"), outputs=("dx",))),
    calls=Path(__file__).with_name("calls.py"),
    generate_cases=cases.generate_cases,
    make_inputs=cases.make_inputs,
    expected_outputs=cases.expected_outputs,
    diagnosis=mistakes.DIAGNOSIS,
    synthetic_class=mutants.synthetic_class,
)
