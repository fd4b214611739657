"""Feedback: hidden test cells show the verdict, never their code; and the HTML export of
a whole class costs little more than one student's.

nbgrader's ClearHiddenTests removes the hidden source, but a traceback would still print
hidden lines: ``HideTestTracebacks`` keeps only the errors' name and message (the
verifier's verdict is already in the printed text).

``FeedbackExporter`` (``GenerateFeedback.exporter_class``) renders what nbconvert's
HTMLExporter renders, minus per-student work that is the same for every student: the
feedback templates are compiled once per process instead of once per student, the syntax
highlighting of cells every student shares (the release's) is reused, and the
accessibility pass (alt text for images) is a scan of the ``<img>`` tags instead of parsing
the whole page into a tree and printing it again. The page also carries the kit's
Content-Security-Policy (``inert.POLICY_META``): it runs no script, whatever the notebook
holds.
"""
from __future__ import annotations

import json
import re

import jinja2
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbgrader.preprocessors import NbGraderPreprocessor
from nbgrader.utils import is_grade

from .inert import with_page_policy

HIDDEN_TESTS_BEGIN = "### BEGIN HIDDEN TESTS"
# nbconvert's own wording, so the page reads the same as an nbconvert export.
NO_ALT = "No description has been provided for this image"
_IMG_WITHOUT_ALT = re.compile(r"<img(?![^>]*\salt\s*=)(?=[\s/>])", re.IGNORECASE)


class HideTestTracebacks(NbGraderPreprocessor):
    """Reduce the tracebacks of hidden test cells to their last line: their frames would
    print hidden test code. Runs before nbgrader's ClearHiddenTests, which removes the
    markers it looks for; the public check cells keep their tracebacks (their code is
    released, and the frames show where the student's code failed)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code" and is_grade(cell) and HIDDEN_TESTS_BEGIN in cell.source:
            for out in cell.outputs:
                if out.output_type == "error":
                    out.traceback = [f"{out.ename}: {out.evalue}"]
        return cell, resources


class _CompiledTemplates(jinja2.BytecodeCache):
    """Jinja bytecode kept in memory; jinja checks each entry against its template's
    source, so an edited template is compiled again."""

    def __init__(self):
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket):
        self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


# (lexer, formatter options, source, language, magics language) -> HTML
_HIGHLIGHTED: dict[tuple, str] = {}


class _SharedHighlight:
    """nbconvert's highlight filter, with the result of each distinct cell kept."""

    def __init__(self, lexer: str | None, parent):
        self._highlight = Highlight2HTML(pygments_lexer=lexer, parent=parent)
        self._key = (lexer, json.dumps(self._highlight.extra_formatter_options, sort_keys=True, default=str))

    def __call__(self, source, language=None, metadata=None):
        key = (*self._key, source, language, (metadata or {}).get("magics_language"))
        if key not in _HIGHLIGHTED:
            if len(_HIGHLIGHTED) > 4096:    # students' own cells are all different
                _HIGHLIGHTED.clear()
            _HIGHLIGHTED[key] = self._highlight(source, language, metadata)
        return _HIGHLIGHTED[key]


class FeedbackExporter(HTMLExporter):
    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _COMPILED
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        # HTMLExporter.from_notebook_node with the shared highlighter and without its
        # BeautifulSoup round trip (of which the classic-based feedback page only needs
        # the images' alt text), and with the page's policy.
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        resources = self._init_resources(resources)
        self.register_filter("highlight_code", self.filters.get("highlight_code", _SharedHighlight(lexer, self)))
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        html, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return with_page_policy(_IMG_WITHOUT_ALT.sub(f'<img alt="{NO_ALT}"', html)), resources
