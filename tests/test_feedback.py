"""The feedback page: the grader's exporter renders what nbconvert's own HTMLExporter
renders (up to how BeautifulSoup re-prints HTML), only cheaper."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from bs4 import BeautifulSoup

from autograder.reporting.feedback import NO_ALT, _IMG_WITHOUT_ALT
from autograder.reporting.inert import with_page_policy
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK
from conftest import REPO


@pytest.fixture(scope="module")
def nbconvert_feedback(graded_class, tmp_path_factory):
    """Feedback for some graded students, by plain nbgrader with nbconvert's exporter."""
    course = tmp_path_factory.mktemp("plain-feedback") / "course"
    # Not the submissions (some are links and FIFOs) nor the feedback: only what nbgrader's
    # generate_feedback reads.
    shutil.copytree(graded_class.course, course, symlinks=True,
                    ignore=shutil.ignore_patterns("feedback", "submitted"))
    students = ["correct", "exception", "mistake_kernel_flipped"]
    for sid in students:
        subprocess.run([sys.executable, "-m", "nbgrader", "generate_feedback", ASSIGNMENT,
                        "--student", sid, "--force",
                        "--GenerateFeedback.exporter_class=nbconvert.exporters.HTMLExporter"],
                       cwd=course, check=True, capture_output=True,
                       env=dict(os.environ, PYTHONPATH=str(REPO)))
    return {sid: (course / "feedback" / sid / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
            for sid in students}


def test_feedback_page_is_nbconverts_page(graded_class, nbconvert_feedback):
    for sid, expected in nbconvert_feedback.items():
        ours = graded_class.feedback(sid)
        assert "<img" in ours
        # Ours also carries the page policy that forbids script (autograder/inert.py).
        assert str(BeautifulSoup(ours, features="html.parser")) == with_page_policy(expected), sid


@pytest.mark.parametrize("tag, alt_added", [
    ('<img src="data:image/png;base64,AAA">', True),
    ('<img\nsrc="x"/>', True),
    ('<IMG SRC="x">', True),
    ('<img alt="a plot" src="x">', False),
    ('<img src="x" alt="">', False),
    ('<imgx src="x">', False),
])
def test_images_without_alt_text_get_nbconverts_alt_text(tag, alt_added):
    out = _IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', tag)
    assert out == (f'<img alt="{NO_ALT}"' + tag[4:] if alt_added else tag)
