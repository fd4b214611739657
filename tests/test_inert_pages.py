"""Student output is inert in every page instructors open.

The sanitizer on each kind of active content, and on what must still show; then the pages
of ``active_outputs`` (adversarial corpus: a correct submission whose extra cell displays
HTML, JavaScript, SVG and Markdown crafted to run script, a table and a plot), graded in the
session's class: its feedback page, the formgrader's page of its autograded notebook and the
class report, each opened in headless chromium.
"""
from __future__ import annotations

import base64
import copy
import io
import json
import re
import time
from collections import Counter
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from matplotlib.figure import Figure
from nbconvert.exporters import HTMLExporter
from nbformat import NotebookNode
from nbgrader.server_extensions.formgrader import handlers as formgrader

from autograder.reporting.inert import (POLICY_META, SanitizeOutputs, clean_html, clean_output, clean_svg,
                              with_page_policy)
from autograder.assignments.conv_layers.tasks import ASSIGNMENT, NOTEBOOK
from conftest import chromium, needs_chromium

ATTACK = "active_outputs"
# What the attack's payloads write when they run (tests/adversarial.py spells them apart).
MARKERS = ("PWNED", "pwned-")
PNG = "data:image/png;base64,"
# Elements that run script, load another document or change where the page points.
ACTIVE_TAGS = ["script", "iframe", "frame", "frameset", "object", "embed", "applet", "base",
               "meta", "link", "form", "input", "button", "svg", "math", "style", "noscript"]
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "data", "srcdoc", "xlink:href",
                  "background", "poster"}
INLINE_IMAGE = re.compile(r"data:image/(png|jpeg|gif|webp)[;,]")


def _url(value) -> str:
    """An attribute's value as a browser reads a URL: no whitespace or control characters."""
    value = " ".join(value) if isinstance(value, list) else value
    return re.sub(r"[\s\x00-\x1f]", "", value).lower()


def script_attributes(soup: BeautifulSoup) -> list[str]:
    """Event handlers, and URLs that run script or hold a document of their own (a data:
    URL other than an image's source: an image, even SVG, runs no script)."""
    found = []
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            url = _url(value)
            image = tag.name == "img" and name == "src" and url.startswith("data:image/")
            if name.lower().startswith("on") or name in URL_ATTRIBUTES and (
                    url.startswith(("javascript:", "vbscript:"))
                    or url.startswith("data:") and not image):
                found.append(f"{tag.name} {name}={str(value)[:40]}")
    return found


def active_content(html: str) -> list[str]:
    """What in sanitized HTML could run script, load something or cover the page: active
    elements, handlers, script URLs, URLs other than web links and inline images, and
    positioned boxes."""
    soup = BeautifulSoup(html, "html.parser")
    found = [f"<{tag.name}>" for tag in soup.find_all(ACTIVE_TAGS)] + script_attributes(soup)
    for tag in soup.find_all(True):
        for name, value in tag.attrs.items():
            url = _url(value)
            if name in URL_ATTRIBUTES and not (url.startswith(("https:", "http:", "mailto:"))
                                               or INLINE_IMAGE.match(url)):
                found.append(f"{tag.name} {name}={str(value)[:40]}")
            if name == "style" and "position" in str(value):
                found.append(f"{tag.name} style={str(value)[:40]}")
    return found


VECTORS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//x.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<img src=\"javascript:alert(1)\">",
    "<img src=\"data:image/svg+xml;base64,PHN2Zz4=\">",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\" JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\"data:text/html,<script>alert(1)</script>\">x</a>",
    "<a href=\"\x01 da\ta:text/html,<script>alert(1)</script>\">x</a>",
    "<img src=\"\x01java\nscript:alert(1)\">",
    "<a href=\"/logout\">x</a>",
    "<iframe srcdoc=\"<script>alert(1)</script>\"></iframe>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<base href=\"javascript:alert(1)//\">",
    "<link rel=stylesheet href=\"//x.example/x.css\">",
    "<style>@import '//x.example/x.css';</style>",
    "<svg onload=alert(1)><script>alert(1)</script></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<svg><foreignObject><img src=x onerror=alert(1)></foreignObject></svg>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\">",
    "<details open ontoggle=alert(1)>x</details>",
    "<form><button formaction=\"javascript:alert(1)\">x</button></form>",
    "<input autofocus onfocus=alert(1)>",
    "<body onload=alert(1)>",
    "<div style=\"position:fixed;top:0;left:0;width:100%;height:100%\">cover</div>",
    "<div title=\"x\" onmouseover=\"alert(1)\">x</div>",
]


@pytest.mark.parametrize("html", VECTORS)
def test_html_output_loses_everything_active(html):
    assert active_content(clean_html(html)) == [], clean_html(html)


def test_safe_html_survives():
    table = ('<table border="1" class="dataframe"><thead><tr style="text-align:right">'
             "<th>a</th></tr></thead><tbody><tr><td>1.5</td></tr></tbody></table>")
    assert clean_html(table) == table
    image = f'<img src="{PNG}iVBORw0KGgo=" alt="a plot">'
    assert clean_html(image) == image
    text = "<p><b>bold</b> <code>a &lt; b</code> <a href=\"https://example.org/\">a link</a></p>"
    assert clean_html(text) == text.replace('">a link', '" rel="noopener noreferrer">a link')


def _matplotlib_svg() -> str:
    """A real plot as SVG: paths, clip paths, <use> references and an embedded image."""
    ax = Figure(figsize=(2, 2)).add_subplot()
    ax.plot([0, 1, 2], [2, 0, 1], marker="o")
    ax.imshow([[0, 1], [1, 0]])
    ax.set_title("a < b & c")
    buf = io.StringIO()
    ax.figure.savefig(buf, format="svg")
    return buf.getvalue()


SVG_OPEN = ('<svg xmlns="http://www.w3.org/2000/svg" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10"')


@pytest.mark.parametrize("svg", [
    f'{SVG_OPEN} onload="alert(1)"><circle r="4"/></svg>',
    f"{SVG_OPEN}><script>alert(1)</script><circle r=\"4\"/></svg>",
    f'{SVG_OPEN}><foreignObject><img xmlns="http://www.w3.org/1999/xhtml" src="x" '
    'onerror="alert(1)"/></foreignObject></svg>',
    f'{SVG_OPEN}><a xlink:href="javascript:alert(1)"><text>x</text></a></svg>',
    f'{SVG_OPEN}><a href=" javascript:alert(1)"><text>x</text></a></svg>',
    f'{SVG_OPEN}><use xlink:href="data:image/svg+xml;base64,AAAA#x"/></svg>',
    f'{SVG_OPEN}><image href="https://x.example/javascript.svg"/></svg>',
    f'{SVG_OPEN}><set attributeName="onmouseover" to="alert(1)"/>'
    '<animate attributeName="href" to="javascript:alert(1)"/></svg>',
    f'{SVG_OPEN}><h:script xmlns:h="http://www.w3.org/1999/xhtml">alert(1)</h:script></svg>',
    # A processing instruction an HTML parser would end at its first '>'.
    f'{SVG_OPEN}><?x a="><img src=x onerror=alert(1)>"?><circle r="4"/></svg>',
    f'{SVG_OPEN}><!-- <script>alert(1)</script> --><circle r="4"/></svg>',
])
def test_svg_output_loses_everything_active(svg):
    out = clean_svg(svg)
    assert out is not None and out.startswith('<svg xmlns="http://www.w3.org/2000/svg"')
    for word in ("script", "onload", "onerror", "onmouseover", "javascript", "foreignObject",
                 "<set", "<animate", "<?", "<!--", "data:image/svg"):
        assert word not in out, (word, out)


@pytest.mark.parametrize("svg", [
    "<svg",                                                    # not XML
    '<html xmlns="http://www.w3.org/1999/xhtml"/>',            # not SVG
    '<!DOCTYPE svg [<!ENTITY a "aaaaaaaa">]><svg xmlns="http://www.w3.org/2000/svg">&a;</svg>',
    # A comment that an HTML parser ends early ("--!>"), which XML does not allow.
    f'{SVG_OPEN}><!-- --!><img src=x onerror=alert(1)> --></svg>',
])
def test_what_is_not_plain_svg_is_not_svg(svg):
    assert clean_svg(svg) is None


def test_a_matplotlib_svg_keeps_its_drawing():
    svg = _matplotlib_svg()
    out = clean_svg(svg)
    drawn = Counter(re.findall(r"<(path|use|image|clipPath|text|g)\b", svg))
    assert Counter(re.findall(r"<(path|use|image|clipPath|text|g)\b", out)) == drawn
    assert out.count('href="#') == svg.count('xlink:href="#')
    assert 'href="data:image/png;base64,' in out
    assert clean_svg(out) == out


def _display(data: dict, metadata=None) -> NotebookNode:
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata or {})


@pytest.mark.parametrize("mimetype", [
    "application/javascript", "text/javascript", "application/x-javascript",
    "application/vnd.bokehjs_exec.v0+json", "application/vnd.jupyter.widget-view+json",
    "application/vnd.holoviews_load.v0+json", "text/vnd.mermaid", "application/pdf",
])
def test_other_output_types_are_removed_with_a_note(mimetype):
    out = clean_output(_display({mimetype: "document.title = 1", "text/plain": "an object"}))
    assert [o.output_type for o in out] == ["display_data", "stream"]
    assert out[0].data == {"text/plain": "an object"}
    assert mimetype in out[1].text and "removed" in out[1].text


def test_markdown_output_is_shown_as_sanitized_html():
    md = "**inert** <img src=x onerror=alert(1)> [link](javascript:alert(1)) a < b"
    (out,) = clean_output(_display({"text/markdown": md, "text/plain": "md"}))
    assert set(out.data) == {"text/html", "text/plain"}
    assert "<strong>inert</strong>" in out.data["text/html"]
    assert active_content(out.data["text/html"]) == []


def test_text_images_and_errors_are_kept_as_they_are():
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()
    outputs = [
        _display({"image/png": png, "image/jpeg": png, "text/plain": "<Figure>",
                  "text/latex": "$x$", "application/json": {"a": 1}}, {"image/png": {"width": 3}}),
        nbformat.v4.new_output("stream", name="stdout", text="<script>alert(1)</script>"),
        nbformat.v4.new_output("error", ename="E", evalue="<b>", traceback=["<img onerror>"]),
    ]
    for output in outputs:
        assert clean_output(copy.deepcopy(output)) == [output]


def test_an_output_does_not_point_at_files():
    png = base64.b64encode(b"\x89PNG").decode()
    (out,) = clean_output(_display({"image/png": png},
                                   {"filenames": {"image/png": "/logout"}, "width": 3}))
    assert out.metadata == {"width": 3}


def test_only_code_cell_outputs_change():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("<b>the release's own text</b>"),
        nbformat.v4.new_code_cell("display(Javascript(...))", outputs=[
            _display({"application/javascript": "alert(1)"})]),
    ])
    nb, _ = SanitizeOutputs().preprocess(nb, {})
    assert nb.cells[0].source == "<b>the release's own text</b>"
    assert [o.output_type for o in nb.cells[1].outputs] == ["display_data", "stream"]


def test_the_page_policy_comes_first_in_the_head():
    page = with_page_policy("<!DOCTYPE html>\n<html><head lang=en><title>t</title></head></html>")
    assert page == ("<!DOCTYPE html>\n<html><head lang=en>\n" + POLICY_META
                    + "<title>t</title></head></html>")
    with pytest.raises(ValueError):
        with_page_policy("<p>no head</p>")


# --- The graded attack, through the real pipeline and a real browser.

def _autograded(course: Path, sid: str) -> Path:
    return course / "autograded" / sid / ASSIGNMENT / f"{NOTEBOOK}.ipynb"


def _formgrade_page(course: Path, sid: str, out: Path) -> Path:
    """The page the formgrader serves for ``sid``'s autograded notebook (its exporter and
    template, with the resources its submission handler passes)."""
    exporter = HTMLExporter(template_name="formgrade",
                            extra_template_basedirs=[formgrader.template_path])
    html, _ = exporter.from_filename(str(_autograded(course, sid)), resources={
        "assignment_id": ASSIGNMENT, "notebook_id": NOTEBOOK, "submission_id": sid,
        "index": 0, "total": 1, "base_url": "", "student": sid, "last_name": None,
        "first_name": None, "notebook_path": f"autograded/{sid}/{ASSIGNMENT}/{NOTEBOOK}.ipynb"})
    page = out / f"formgrade-{sid}.html"
    page.write_text(html)
    return page


def _dump_dom(page: Path, profile: Path) -> str:
    """The DOM of ``page`` after it loaded and its timers and events ran, in headless
    chromium with no network (every host fails to resolve)."""
    run = chromium(profile, "--host-resolver-rules=MAP * ~NOTFOUND",
                   "--virtual-time-budget=2000", "--dump-dom", page.as_uri())
    assert "<html" in run.stdout, f"chromium dumped no page:\n{run.stderr[-2000:]}"
    return run.stdout


def _title(html: str) -> str:
    title = BeautifulSoup(html, "html.parser").title
    return title.get_text() if title else ""


def _page_script(html: str) -> Counter:
    """The page's script elements (by their attributes), handlers and script URLs: for a
    template's page, those of the template (MathJax, the formgrader's own buttons)."""
    soup = BeautifulSoup(html, "html.parser")
    return Counter([json.dumps(s.attrs, sort_keys=True) for s in soup.find_all("script")]
                   + script_attributes(soup))


@needs_chromium
def test_the_browser_check_sees_a_script_that_runs(tmp_path):
    page = tmp_path / "control.html"
    page.write_text("<!DOCTYPE html><html><head><title>control</title></head><body>"
                    "<img src=x onerror=\"document.title='PW'+'NED'\"></body></html>")
    assert _title(_dump_dom(page, tmp_path / "profile")) == "PWNED"


@pytest.fixture(scope="module")
def pages(graded_class, tmp_path_factory) -> dict[str, tuple[Path, str | None]]:
    """Each page of the attack, with the same page of the correct student (whose scripts
    are the template's own), or None for the class report (which has no script)."""
    course, out = graded_class.course, tmp_path_factory.mktemp("pages")
    return {
        "feedback": (course / "feedback" / ATTACK / ASSIGNMENT / f"{NOTEBOOK}.html",
                     graded_class.feedback("correct")),
        "formgrader": (_formgrade_page(course, ATTACK, out),
                       _formgrade_page(course, "correct", out).read_text()),
        "class report": (course / "report" / "index.html", None),
    }


@needs_chromium
@pytest.mark.parametrize("name", ["feedback", "formgrader", "class report"])
def test_no_student_script_runs_in_the_pages(pages, name, tmp_path):
    page, reference = pages[name]
    html = page.read_text()
    dom = _dump_dom(page, tmp_path / "profile")
    assert _title(dom) == _title(html) != ""
    for marker in MARKERS:
        assert marker not in dom, marker
    # Nothing left either that a click, a timer or a browser without the policy would run.
    assert _page_script(dom) == (_page_script(reference) if reference else Counter())
    soup = BeautifulSoup(dom, "html.parser")
    assert not soup.find_all(["iframe", "object", "embed", "base", "frame"])
    assert all(m.get("http-equiv", "").lower() != "refresh" for m in soup.find_all("meta"))


@pytest.mark.parametrize("name", ["feedback", "class report"])
def test_the_kits_pages_carry_the_policy_before_anything_it_governs(pages, name):
    head = pages[name][0].read_text().split("</head>", 1)[0]
    policy = head.index(POLICY_META)
    assert all(policy < i for i in (head.find("<script"), head.find("<style")) if i >= 0)


@pytest.mark.parametrize("name", ["feedback", "formgrader"])
def test_the_students_plot_table_and_text_still_show(pages, name):
    page, reference = pages[name]
    html = page.read_text()
    assert html.count(f'src="{PNG}') == reference.count(f'src="{PNG}') + 1   # the plot
    assert 'src="data:image/svg+xml;base64,' in html                        # the safe SVG
    assert "<td>inert-table-cell</td>" in html and "<strong>inert-markdown</strong>" in html
    assert "output of type application/javascript removed" in html
    assert "&lt;script&gt;document.title=" in html                          # printed text


def test_the_stored_notebook_is_already_inert(graded_class):
    nb = nbformat.read(str(_autograded(graded_class.course, ATTACK)), as_version=4)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    types = {m for o in outputs for m in o.get("data", {})}
    assert types <= {"text/plain", "text/html", "image/png", "image/svg+xml"}, types
    assert all(active_content(o.data["text/html"]) == [] for o in outputs
               if "text/html" in o.get("data", {}))
    again, _ = SanitizeOutputs().preprocess(copy.deepcopy(nb), {})
    assert again == nb


def test_sanitizing_a_graded_notebook_costs_little(graded_class):
    nb = nbformat.read(str(_autograded(graded_class.course, "correct")), as_version=4)
    start = time.perf_counter()
    for _ in range(10):
        SanitizeOutputs().preprocess(copy.deepcopy(nb), {})
    assert (time.perf_counter() - start) / 10 < 0.1
