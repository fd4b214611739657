"""The class report from hand-built rows (no grading run), and its look in a real browser."""
from __future__ import annotations

import base64
import sys
from pathlib import Path

import pytest
from matplotlib.image import imread

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from autograder.reporting.class_report import write_class_report  # noqa: E402
from autograder.assignments.conv_layers.diagnose import MISTAKES  # noqa: E402
from autograder.reporting.grades import StudentRow  # noqa: E402
from autograder.assignments.conv_layers import assignment as CONV_LAYERS  # noqa: E402
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK, TASKS  # noqa: E402
from conftest import chromium, needs_chromium  # noqa: E402

PNGS = ("score_histogram.png", "task_pass_rates.png", "mistakes.png")
DESCRIPTIONS = ["x(1, 1, 5, 5), w(1, 1, 3, 3), stride=1, pad=0",
                "x(2, 3, 6, 7), w(2, 3, 3, 3), stride=2, pad=1",
                "x(1, 2, 7, 5), w(3, 2, 2, 4), stride=3, pad=1"]
SCRIPT = "<script>alert(1)</script>"


def verdicts(failed: dict[str, dict[int, str]]) -> dict:
    """Three cases per task; ``failed[task][index]`` is the mistake of a failed case."""
    out = {}
    for task in TASKS:
        bad = failed.get(task.name, {})
        cases = [{"index": i, "description": DESCRIPTIONS[i - 1], "passed": i not in bad,
                  "points": 0.0 if i in bad else task.points / 3,
                  "message": MISTAKES[bad[i]].message if i in bad else "", "mistake": bad.get(i)}
                 for i in (1, 2, 3)]
        out[task.name] = {"task": task.name, "max_points": task.points, "cases": cases,
                          "problem": "", "points": sum(c["points"] for c in cases)}
    return out


def row(sid: str, status: str, failed=None, reasons=(), graded=True) -> StudentRow:
    v = verdicts(failed or {}) if graded else {}
    scores = {t.name: (v[t.name]["points"] if graded else None) for t in TASKS}
    return StudentRow(sid, sid, scores, status, list(reasons), [], v,
                      f"feedback/{sid}/{ASSIGNMENT}/{NOTEBOOK}.html")


@pytest.fixture(scope="module")
def rows() -> list[StudentRow]:
    return [
        row("alice", "ok"),
        row("bob", "ok", {"conv_forward_naive": {2: "padding_ignored", 3: "padding_ignored"},
                          "conv_backward_naive": {2: "padding_ignored"},
                          "max_pool_backward_naive": {1: "pool_spread"}}),
        row("carol", "ok", {"conv_forward_naive": {3: "stride_ignored"}}),
        row(f"eve{SCRIPT}", "flagged", {"max_pool_forward_naive": {1: "not_implemented"}},
            reasons=[f"tampering: {SCRIPT}", "wrote outside its directory"]),
        row("dave", "not graded", graded=False,
            reasons=["timed out after 60 s", "kernel died"]),
    ]


@pytest.fixture(scope="module")
def report(tmp_path_factory, rows) -> Path:
    """The report, written once for the module's tests."""
    course = tmp_path_factory.mktemp("course")
    written = write_class_report(course, {CONV_LAYERS: rows})
    out = course / "report"
    assert sorted(written) == sorted([out / "index.html"] + [out / ASSIGNMENT / p for p in PNGS])
    return out


def test_plots_are_png_files_and_embedded(report):
    html = (report / "index.html").read_text()
    for name in PNGS:
        data = (report / ASSIGNMENT / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000, name
        assert f"data:image/png;base64,{base64.b64encode(data).decode()}" in html, name
    assert 'src="' not in html.replace('src="data:image/png;base64,', "")  # nothing external


def test_needs_a_human_look_lists_every_flagged_and_ungraded_student(report, rows):
    html = (report / "index.html").read_text()
    look = html.split("Needs a human look", 1)[1].split("All students", 1)[0]
    assert "eve&lt;script&gt;alert(1)&lt;/script&gt;" in look
    assert "<li>tampering: &lt;script&gt;alert(1)&lt;/script&gt;</li>" in look
    assert "<li>wrote outside its directory</li>" in look
    assert "dave" in look and "<li>timed out after 60 s</li><li>kernel died</li>" in look
    assert "alice" not in look and "bob" not in look
    assert SCRIPT not in html and "<script" not in html


def test_every_student_links_their_feedback(report, rows):
    html = (report / "index.html").read_text()
    for sid in ("alice", "bob", "carol", "dave"):
        assert f'href="../feedback/{sid}/{ASSIGNMENT}/{NOTEBOOK}.html"' in html
    # the hostile id is percent-encoded in the link, so the link still resolves
    assert 'href="../feedback/eve%3Cscript%3Ealert%281%29%3C/script%3E/' in html


def test_case_pass_rates_match_the_rows(report, rows):
    html = (report / "index.html").read_text()
    table = html.split("Tasks and hidden cases", 1)[1].split("Most common", 1)[0]
    for task in TASKS:
        for i, desc in enumerate(DESCRIPTIONS, 1):
            results = [c["passed"] for r in rows for c in r.verdicts.get(task.name, {}).get(
                "cases", []) if c["index"] == i]
            expected = f"{100 * sum(results) / len(results):.1f}% ({sum(results)}/{len(results)})"
            assert f"<td>case {i}</td><td>{desc}</td><td class=\"num\">{expected}</td>" in table
    assert "75.0% (3/4)" in table and "50.0% (2/4)" in table  # spot check by hand


def test_summary_and_mistakes(report, rows):
    html = (report / "index.html").read_text()
    # 5 students, 4 with a total, 1 flagged, 1 not graded
    assert "<td class=\"num\">5</td><td class=\"num\">4</td><td class=\"num\">1</td>" \
           "<td class=\"num\">1</td>" in html
    mistakes = html.split("Most common diagnosed mistakes", 1)[1].split("Needs a human", 1)[0]
    # padding_ignored: bob in two tasks (twice in conv_forward, counted once) -> 2
    assert (f'<code>padding_ignored</code></td><td class="num">2</td>'
            f'<td>{MISTAKES["padding_ignored"].message}</td>') in mistakes
    for m in ("stride_ignored", "pool_spread", "not_implemented"):
        assert f'<code>{m}</code></td><td class="num">1</td>' in mistakes


@needs_chromium
def test_report_renders_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "shot.png"
    run = chromium(tmp_path / "chromium-profile", f"--screenshot={shot}",
                   "--window-size=1280,2000", (report / "index.html").as_uri())
    assert shot.exists(), f"chromium wrote no screenshot:\n{run.stderr[-2000:]}"
    assert shot.read_bytes().startswith(b"\x89PNG") and shot.stat().st_size > 10_000
    pixels = imread(shot)
    assert pixels.shape[:2] == (2000, 1280)
    assert pixels[..., :3].std() > 0.05, "the screenshot is blank"
