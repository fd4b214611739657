"""Feedback preprocessor: hidden test cells show the verdict, never their code.

nbgrader's ClearHiddenTests removes the hidden source, but a traceback would still print
hidden lines. Errors of test cells keep only their name and message (the verifier's
verdict is already in the printed text).
"""
from __future__ import annotations

from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade


class HideTestTracebacks(NbGraderPreprocessor):
    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell):
            for out in cell.outputs:
                if out.output_type == "error":
                    out.traceback = [f"{out.ename}: {out.evalue}"]
        return cell, resources
