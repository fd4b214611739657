"""Command line: ``python -m autograder grade|report|collect|demo``."""
from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="autograde every submission of a course")
    g.add_argument("--course", type=Path, default=REPO, help="course directory (default: %(default)s)")
    g.add_argument("--jobs", type=int, default=0, help="parallel submissions (default: cores)")
    g.add_argument("--scheduler", help="address of a Dask scheduler to grade on instead")
    g.add_argument("--force", action="store_true", help="regrade unchanged submissions too")
    g.add_argument("--student", action="append", default=[], help="grade only these students")
    g.add_argument("--assignment", action="append", default=[],
                   help="grade only these assignments (default: every one in source/ that has a "
                        "grading folder)")
    d = sub.add_parser("demo", help="grade a synthetic class of every assignment of the kit "
                                    "in a fresh temporary course")
    d.add_argument("--course", type=Path, help="where to build it (default: a new temp dir)")
    d.add_argument("--jobs", type=int, default=0)
    r = sub.add_parser("report", help="write grades.csv, the LMS CSV and the class report")
    r.add_argument("--course", type=Path, default=REPO)
    c = sub.add_parser("collect", help="put an LMS's submissions archive into submitted/")
    c.add_argument("--course", type=Path, default=REPO)
    c.add_argument("--zip", type=Path, required=True,
                   help="the LMS's \"download all submissions\" archive")
    c.add_argument("--lms", choices=["canvas", "moodle"],
                   help="the archive's format (default: detected)")
    c.add_argument("--roster", type=Path, help="a roster CSV exported from the LMS")
    c.add_argument("--assignment", help="assignment id (default: the course's one assignment)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("autograder.nbgrader").setLevel(logging.CRITICAL)
    # nbgrader's Gradebook.add_submission trips SQLAlchemy 2's autoflush warning on every
    # new submission (it adds the object itself right after): noise, once per student.
    warnings.filterwarnings("ignore", message=r"Object of type <Submitted\w+> not in session",
                            module="nbgrader")
    if args.command == "grade":
        from .grading.pipeline import CourseError, grade_course
        try:
            summary = grade_course(args.course, args.jobs, args.scheduler, args.force, args.student,
                                   args.assignment)
        except CourseError as exc:
            sys.exit(f"error: {exc}")
        print(f"graded {summary.graded} submissions ({summary.skipped} unchanged) in "
              f"{summary.seconds:.1f} s; grades in {args.course / 'grades.csv'}")
    elif args.command == "demo":
        from .demo import run
        run(args.course, args.jobs)
    elif args.command == "collect":
        from .grading.collect import collect_archive
        from .grading.pipeline import CourseError
        try:
            report = collect_archive(args.course, args.zip, args.lms, args.roster, args.assignment)
        except CourseError as exc:
            sys.exit(f"error: {exc}")
        print("\n".join(report.lines()))
    elif args.command == "report":
        from .grading.pipeline import write_reports
        for path in write_reports(args.course):
            print(path)
