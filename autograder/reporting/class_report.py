"""The class report: one self-contained HTML page (``report/index.html``), a section per
assignment, and its plots (``report/<assignment>/*.png``).

Built from the rows of ``report.collect`` without regrading. The page has inline CSS and
its plots embedded as data URIs, so it still works when copied alone; the plots are also
written beside it as PNG files. Student ids and reasons are student-controlled text and
are always escaped, and the page's Content-Security-Policy (``inert.POLICY_META``) runs no
script at all.
"""
from __future__ import annotations

import base64
import io
import statistics
from collections import Counter
from html import escape
from pathlib import Path
from urllib.parse import quote

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ..assignment import Assignment
from ..grading.records import atomic_write
from ..grading.worker import FLAGGED, NOT_GRADED
from .grades import StudentRow
from .inert import POLICY_META

TOP_MISTAKES = 10
CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1, h2, h3 { border-bottom: 1px solid #ddd; padding-bottom: .2em; }
table { border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.summary td { font-size: 1.1em; }
.flagged { background: #fff4d6; } .notgraded { background: #fde2e2; }
img { max-width: 100%; display: block; margin: 1em 0; border: 1px solid #eee; }
ul.reasons { margin: .2em 0; padding-left: 1.2em; } ul.reasons li { white-space: pre-wrap; }
.sid { display: inline-block; min-width: 12em; max-width: 24em; overflow-wrap: anywhere;
       font-family: monospace; }
"""


def _case_stats(a: Assignment, rows: list[StudentRow]) -> dict[str, list[tuple[int, str, int, int]]]:
    """Per task, one ``(index, description, passed, checked)`` per hidden case, counted over
    every student whose verdict for the task has that case."""
    stats: dict[str, dict[int, list]] = {t.name: {} for t in a.tasks}
    for row in rows:
        for name, verdict in row.verdicts.items():
            for case in verdict.get("cases", []):
                entry = stats.setdefault(name, {}).setdefault(
                    case["index"], [case["description"], 0, 0])
                entry[1] += bool(case["passed"])
                entry[2] += 1
    return {name: [(i, *cases[i]) for i in sorted(cases)] for name, cases in stats.items()}


def _task_means(a: Assignment, rows: list[StudentRow]) -> dict[str, float | None]:
    """Per task, the mean score of the students with a score, as % of the task's points."""
    means = {}
    for task in a.tasks:
        scores = [r.scores[task.name] for r in rows if r.scores.get(task.name) is not None]
        means[task.name] = 100 * statistics.fmean(scores) / task.points if scores else None
    return means


def _mistake_counts(rows: list[StudentRow]) -> Counter:
    """Diagnosed mistake ids of failed cases, counted once per student per task."""
    counts: Counter = Counter()
    for row in rows:
        for verdict in row.verdicts.values():
            counts.update({c["mistake"] for c in verdict.get("cases", [])
                           if not c["passed"] and c.get("mistake")})
    return counts


def _measures(rows: list[StudentRow]) -> dict[str, list[float]]:
    """The figures an assignment's own checks measured (a speed ratio, an accuracy, ...),
    by "task: what", one value per student and case."""
    found: dict[str, list[float]] = {}
    for row in rows:
        for name, verdict in row.verdicts.items():
            for case in verdict.get("cases", []):
                m = case.get("measure")
                if isinstance(m, list) and len(m) == 2 and isinstance(m[1], (int, float)):
                    found.setdefault(f"{name}: {m[0]}", []).append(float(m[1]))
    return found


def _measures_plot(measures: dict[str, list[float]]) -> bytes:
    """A histogram per measured figure."""
    fig = Figure(figsize=(8, 2.8 * len(measures)))
    for ax, (what, values) in zip(fig.subplots(len(measures), 1, squeeze=False)[:, 0],
                                  measures.items()):
        ax.hist(values, bins=20, color="#55a868", edgecolor="white")
        ax.set(xlabel=what, ylabel="students", title=f"{what} ({len(values)} measured)")
        ax.yaxis.get_major_locator().set_params(integer=True)
    fig.tight_layout()
    return _png(fig)


def _measures_table(measures: dict[str, list[float]]) -> str:
    return _table(["measured", "students", "min", "median", "max"], [
        [escape(what), str(len(v)), _fmt(min(v)), _fmt(statistics.median(v)), _fmt(max(v))]
        for what, v in measures.items()])


def _png(fig: Figure) -> bytes:
    """The figure rendered by the Agg backend, as PNG bytes."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _histogram(totals: list[float], max_score: float) -> bytes:
    """Histogram of the graded students' totals over 0..max_score."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.add_subplot()
    ax.hist(totals, bins=20, range=(0, max_score), color="#4c72b0", edgecolor="white")
    ax.set(xlim=(0, max_score), xlabel=f"total (out of {max_score:g})", ylabel="students",
           title=f"Totals of the {len(totals)} graded students")
    ax.yaxis.get_major_locator().set_params(integer=True)
    return _png(fig)


def _pass_rates(a: Assignment, means: dict[str, float | None], cases: dict[str, list]) -> bytes:
    """Per-task mean score (% of points) beside per-case pass rates grouped by task."""
    labels, rates, colors = [], [], []
    for k, task in enumerate(a.tasks):
        for index, description, passed, checked in cases.get(task.name, []):
            labels.append(f"{task.name} #{index}: {description}")
            rates.append(100 * passed / checked)
            colors.append(f"C{k}")
    fig = Figure(figsize=(11, 2.5 + 0.28 * len(labels)))
    top, bottom = fig.subplots(2, 1, height_ratios=[len(a.tasks) + 1, max(len(labels), 1)])
    names = [t.name for t in a.tasks]
    top.barh(names, [means[n] or 0 for n in names], color=[f"C{k}" for k in range(len(names))])
    top.set(xlim=(0, 100), xlabel="mean score, % of the task's points", title="Tasks")
    top.invert_yaxis()
    bottom.barh(range(len(labels)), rates, color=colors)
    bottom.set_yticks(range(len(labels)), labels, fontsize=8)
    bottom.set(xlim=(0, 100), ylim=(len(labels) - 0.5, -0.5), xlabel="students passing, %",
               title="Hidden cases")
    fig.tight_layout()
    return _png(fig)


def _mistakes_plot(counts: Counter) -> bytes:
    """Bar chart of the most common diagnosed mistakes."""
    common = counts.most_common(TOP_MISTAKES)
    fig = Figure(figsize=(8, 1.5 + 0.35 * max(len(common), 1)))
    ax = fig.add_subplot()
    if common:
        ax.barh([m for m, _ in common], [n for _, n in common], color="#c44e52")
        ax.invert_yaxis()
        ax.xaxis.get_major_locator().set_params(integer=True)
    else:
        ax.text(0.5, 0.5, "no diagnosed mistakes", ha="center", va="center")
        ax.set_axis_off()
    ax.set(xlabel="students x tasks", title="Most common diagnosed mistakes")
    return _png(fig)


def _fmt(v: float | None) -> str:
    """A score for the page: up to 4 significant digits, a dash when missing."""
    return "—" if v is None else f"{v:.4g}"


def _table(header: list[str], body: list[list[str]], styles: list[str] | None = None) -> str:
    """An HTML table of already-escaped cells; a cell that starts with a digit (or is a dash
    for a missing number) is right-aligned; ``styles`` gives each body row's class."""
    head = "".join(f"<th>{h}</th>" for h in header)
    trs = []
    for i, cells in enumerate(body):
        attr = f' class="{styles[i]}"' if styles and styles[i] else ""
        tds = "".join(f'<td class="num">{c}</td>' if c[:1].isdigit() or c == "—"
                      else f"<td>{c}</td>" for c in cells)
        trs.append(f"<tr{attr}>{tds}</tr>")
    return f"<table><tr>{head}</tr>{''.join(trs)}</table>"


def _summary(rows: list[StudentRow]) -> str:
    """Head counts by status, and the mean and median total of the students with one."""
    totals = [r.total for r in rows if r.total is not None]
    status = Counter(r.status for r in rows)
    return _table(["students", "graded (have a total)", "flagged", "not graded", "mean total",
                   "median total"],
                  [[str(len(rows)), str(len(totals)), str(status[FLAGGED]),
                    str(status[NOT_GRADED]), _fmt(statistics.fmean(totals) if totals else None),
                    _fmt(statistics.median(totals) if totals else None)]])


def _cases_table(a: Assignment, means: dict[str, float | None], cases: dict[str, list]) -> str:
    """One row per task (mean score) followed by one row per hidden case (pass rate)."""
    body = []
    for task in a.tasks:
        mean = "—" if means[task.name] is None else f"{means[task.name]:.1f}%"
        body.append([f"<b>{escape(task.name)}</b>", "", f"<b>mean score {mean}</b>"])
        body += [[f"case {i}", escape(desc), f"{100 * p / n:.1f}% ({p}/{n})"]
                 for i, desc, p, n in cases.get(task.name, [])]
    return _table(["task / case", "the case's parameters",
                   "task: mean score; case: students passing"], body)


def _mistakes_table(a: Assignment, counts: Counter) -> str:
    """The most common mistakes with their counts and the message students see."""
    if not counts:
        return "<p>None.</p>"
    known = a.mistakes
    return _table(["mistake", "count", "message"], [
        [f"<code>{escape(m)}</code>", str(n), escape(known[m].message if m in known else "")]
        for m, n in counts.most_common(TOP_MISTAKES)])


def _look_table(rows: list[StudentRow]) -> str:
    """Every flagged and not-graded student, each reason on its own line."""
    look = sorted((r for r in rows if r.status in (FLAGGED, NOT_GRADED)),
                  key=lambda r: (r.status, r.student_id))
    if not look:
        return "<p>No one.</p>"
    return _table(["student", "status", "reasons"], [
        [f'<span class="sid">{escape(r.student_id)}</span>', escape(r.status),
         '<ul class="reasons">' + "".join(f"<li>{escape(x)}</li>" for x in r.reasons) + "</ul>"]
        for r in look])


def _students_table(a: Assignment, rows: list[StudentRow]) -> str:
    """Every student: scores, total, status and a link to the feedback (relative to report/)."""
    header = (["student"] + [escape(t.name).replace("_", "_<wbr>") for t in a.tasks]
              + [f"total / {a.max_score:g}", "status", "feedback"])
    body = [[f'<span class="sid">{escape(r.student_id)}</span>']
            + [_fmt(r.scores.get(t.name)) for t in a.tasks] + [_fmt(r.total), escape(r.status),
               f'<a href="../{escape(quote(r.feedback))}">feedback</a>' if r.feedback else "none"]
            for r in rows]
    styles = [{FLAGGED: "flagged", NOT_GRADED: "notgraded"}.get(r.status, "") for r in rows]
    return _table(header, body, styles)


PNGS = ("score_histogram.png", "task_pass_rates.png", "mistakes.png")


def _section(a: Assignment, rows: list[StudentRow]) -> tuple[str, dict[str, bytes]]:
    """The page's section of one assignment, its plots embedded as data URIs, and the plots."""
    means, cases, counts = _task_means(a, rows), _case_stats(a, rows), _mistake_counts(rows)
    pngs = dict(zip(PNGS, (
        _histogram([r.total for r in rows if r.total is not None], a.max_score),
        _pass_rates(a, means, cases), _mistakes_plot(counts))))
    measures = _measures(rows)
    if measures:
        pngs["measures.png"] = _measures_plot(measures)
    img = {name: f'<img alt="{escape(a.id)}: {name}" src="data:image/png;base64,'
                 f'{base64.b64encode(data).decode()}">' for name, data in pngs.items()}
    measured = (f'<h3>Measured by the checks</h3>{img["measures.png"]}{_measures_table(measures)}'
                if measures else "")
    return f"""<section id="{escape(a.id)}">
<h2>{escape(a.id)}</h2>
{_summary(rows)}
<h3>Scores</h3>{img["score_histogram.png"]}
<h3>Tasks and hidden cases</h3>{img["task_pass_rates.png"]}{_cases_table(a, means, cases)}
<h3>Most common diagnosed mistakes</h3>
<p>Counted once per student per task.</p>{img["mistakes.png"]}{_mistakes_table(a, counts)}
{measured}
<h3>Needs a human look</h3>{_look_table(rows)}
<h3>All students</h3>{_students_table(a, rows)}
</section>""", pngs


def write_class_report(course: Path, classes: dict[Assignment, list[StudentRow]]) -> list[Path]:
    """Write ``course/report/index.html``, a section per assignment, and each section's
    plots as PNG files in ``report/<assignment>/``; return the paths written."""
    out = course / "report"
    sections, paths = [], []
    for a, rows in classes.items():
        html, pngs = _section(a, rows)
        sections.append(html)
        for name, data in pngs.items():
            atomic_write(out / a.id / name, data)
            paths.append(out / a.id / name)
    contents = "".join(f'<li><a href="#{escape(a.id)}">{escape(a.id)}</a></li>' for a in classes)
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">{POLICY_META}<title>Class report</title>
<style>{CSS}</style></head><body>
<h1>Class report</h1>
<ul>{contents or "<li>No assignment has been graded yet.</li>"}</ul>
{"".join(sections)}
</body></html>
"""
    atomic_write(out / "index.html", page.encode())
    return [out / "index.html"] + paths
