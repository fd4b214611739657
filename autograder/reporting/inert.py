"""Student output shown inertly in every page instructors open.

The feedback page and the formgrader render the autograded notebook, whose outputs the
student's code chose: a ``<script>``, an ``onerror`` handler or a JavaScript output there
would run in the instructor's browser, and in a page the formgrader serves, with the
instructor's Jupyter session. ``SanitizeOutputs`` runs last in
``Autograde.autograde_preprocessors`` (after the execute step and everything that reads
outputs for a grade), so the autograded notebook nbgrader stores, and every page built from
it, holds only inert output:

- text, PNG/JPEG/GIF images, LaTeX and JSON stay as they are (the templates escape them);
- ``text/html`` goes through nh3 (the Ammonia sanitizer): an allowlist of tags, attributes
  and CSS properties, links to http(s)/mailto only, images inline (``data:image/...``) only;
- ``text/markdown`` is rendered to HTML as nbconvert renders it, then sanitized like HTML;
- ``image/svg+xml`` is parsed as XML and rebuilt from drawing elements only: no script,
  ``foreignObject``, animation or event handler, and references only inside the image;
- every other type (JavaScript, widget views, vendor types) is removed, and a note in the
  cell's output says so.

The kit's own pages (feedback, class report) also carry ``POLICY_META``, a
Content-Security-Policy that runs no script at all (the pages need none) and loads nothing
but inline styles and ``data:`` images.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Optional

import nh3
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from nbconvert.filters.markdown import markdown2html
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor

POLICY = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
          "base-uri 'none'; form-action 'none'")
# Written the way BeautifulSoup prints it (attributes sorted), so that a page re-printed
# by it (nbconvert's HTMLExporter does) compares equal.
POLICY_META = f'<meta content="{POLICY}" http-equiv="Content-Security-Policy"/>'

# Shown as they are: the templates escape text and put images in a data: URL.
KEPT = frozenset({"text/plain", "text/latex", "application/json", "image/png", "image/jpeg",
                  "image/gif"})
HTML, MARKDOWN, SVG = "text/html", "text/markdown", "image/svg+xml"

# What a browser ignores in a URL before it reads the scheme: tabs and newlines anywhere,
# controls and spaces in front.
_URL_IGNORED = re.compile(r"[\t\n\r]|^[\x00-\x20]+")
_RASTER_DATA = re.compile(r"data:image/(png|jpeg|gif|webp)[;,]")


def _url(value: str) -> str:
    """``value`` as a browser reads a URL's scheme (lower case)."""
    return _URL_IGNORED.sub("", value).lower()


def _only_inline_images(tag: str, attr: str, value: str) -> Optional[str]:
    """nh3's attribute filter: a ``data:`` URL survives only as an image's source."""
    url = _url(value)
    if url.startswith("data:") and not (tag == "img" and attr == "src" and _RASTER_DATA.match(url)):
        return None
    return value


_HTML_CLEANER = nh3.Cleaner(
    attributes={**nh3.ALLOWED_ATTRIBUTES, "*": {"title", "style"},
                "table": nh3.ALLOWED_ATTRIBUTES["table"] | {"border"},
                "img": nh3.ALLOWED_ATTRIBUTES["img"] | {"title"}},
    allowed_classes={"table": {"dataframe"}},   # pandas; the page's own classes stay its own
    # Styles that format a table or text, none that can place a box over the page.
    filter_style_properties={"text-align", "vertical-align", "color", "background-color",
                             "font-weight", "font-style", "white-space", "text-decoration"},
    url_schemes={"http", "https", "mailto", "data"},
    # A relative URL would be a request to the instructor's own server (e.g. /logout).
    url_relative="deny",
    attribute_filter=_only_inline_images,
)


def clean_html(html: str) -> str:
    """Student HTML with everything that could run script or load a page removed."""
    return _HTML_CLEANER.clean(html)


SVG_NS = "http://www.w3.org/2000/svg"
XML_NS = "http://www.w3.org/XML/1998/namespace"
XLINK_HREF = "{http://www.w3.org/1999/xlink}href"
# What plots draw with; no script, foreignObject, animation (which can set an href), filter.
SVG_ELEMENTS = frozenset({
    "svg", "g", "defs", "symbol", "use", "title", "desc", "style", "a", "path", "rect",
    "circle", "ellipse", "line", "polyline", "polygon", "text", "tspan", "textPath",
    "clipPath", "mask", "pattern", "marker", "linearGradient", "radialGradient", "stop",
    "image"})


def _svg_reference(value: str) -> bool:
    """An href that stays inside the image: a fragment, or embedded raster data."""
    url = _url(value)
    return url.startswith("#") or bool(_RASTER_DATA.match(url))


def _svg_attributes(attrib: dict[str, str]) -> dict[str, str]:
    """The attributes worth keeping: plain or ``xml:`` ones, no handler, safe references
    (``xlink:href`` becomes SVG 2's plain ``href``, so no namespace is needed)."""
    kept = {}
    for name, value in attrib.items():
        local = name.rsplit("}", 1)[-1]
        if local.lower().startswith("on"):
            continue
        if local == "href" and name in ("href", XLINK_HREF):
            if _svg_reference(value):
                kept["href"] = value
        elif "}" not in name or name.startswith(f"{{{XML_NS}}}"):
            kept[name] = value
    return kept


def _clean_svg_children(element: ET.Element) -> None:
    """Keep only allowed SVG-namespace descendants, without their namespace."""
    previous: Optional[ET.Element] = None
    for child in list(element):
        namespace, _, local = child.tag.rpartition("}")
        if namespace == f"{{{SVG_NS}" and local in SVG_ELEMENTS:
            child.tag, child.attrib = local, _svg_attributes(child.attrib)
            _clean_svg_children(child)
            previous = child
            continue
        # The text after a removed element belongs to what came before it.
        if child.tail:
            if previous is None:
                element.text = (element.text or "") + child.tail
            else:
                previous.tail = (previous.tail or "") + child.tail
        element.remove(child)


def clean_svg(svg: str) -> Optional[str]:
    """The drawing of a standalone SVG document without anything active, re-serialized (no
    comments, processing instructions or DTD survive); None if it is not SVG."""
    try:
        root = fromstring(svg.encode("utf-8"), forbid_dtd=False)
    except (ET.ParseError, DefusedXmlException, ValueError):
        return None
    if root.tag != f"{{{SVG_NS}}}svg":
        return None
    root.tag, root.attrib = "svg", {"xmlns": SVG_NS, **_svg_attributes(root.attrib)}
    _clean_svg_children(root)
    return ET.tostring(root, encoding="unicode")


def _text(value) -> str:
    """A mimebundle value as one string (nbformat may keep it as a list of lines)."""
    return "".join(value) if isinstance(value, list) else str(value)


def removed_note(mimetypes: list[str]) -> NotebookNode:
    """The output that takes the place of what was removed, so the reader knows."""
    return NotebookNode(output_type="stream", name="stdout", text=(
        f"[output of type {', '.join(mimetypes)} removed: pages for instructors show "
        "student output without running it]\n"))


def clean_output(output: NotebookNode) -> list[NotebookNode]:
    """``output`` made inert, followed by a note if some of its types were removed."""
    if "data" not in output:   # stream and error outputs: text, escaped by the templates
        return [output]
    data, removed = output.data, []
    if MARKDOWN in data:
        markdown = _text(data.pop(MARKDOWN))
        if HTML not in data:   # else the HTML is what every renderer shows
            data[HTML] = markdown2html(markdown)
    if HTML in data:
        data[HTML] = clean_html(_text(data[HTML]))
    if SVG in data:
        svg = clean_svg(_text(data[SVG]))
        if svg is None:
            removed.append(SVG)
            del data[SVG]
        else:
            data[SVG] = svg
    for mimetype in [m for m in data if m not in KEPT | {HTML, SVG}]:
        removed.append(mimetype)
        del data[mimetype]
    # Only nbconvert's ExtractOutput points an output at a file; from a kernel it is a URL.
    output.get("metadata", {}).pop("filenames", None)
    return [output, removed_note(removed)] if removed else [output]


class SanitizeOutputs(NbGraderPreprocessor):
    """Makes every code cell's outputs inert (see the module's docstring)."""

    def preprocess_cell(self, cell, resources, index):
        if cell.cell_type == "code":
            cell.outputs = [kept for output in cell.outputs for kept in clean_output(output)]
        return cell, resources


def with_page_policy(html: str) -> str:
    """``html`` with ``POLICY_META`` first in its head."""
    head = re.search(r"<head\b[^>]*>", html, re.IGNORECASE)
    if head is None:
        raise ValueError("the page has no <head> to carry its Content-Security-Policy")
    return f"{html[:head.end()]}\n{POLICY_META}{html[head.end():]}"
