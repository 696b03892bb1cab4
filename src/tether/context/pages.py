"""One docs page — Markdown, reStructuredText or HTML — as Markdown with its title and summary.

reStructuredText goes through docutils to HTML, and HTML through markdownify to Markdown. Sphinx
adds roles and directives docutils does not know; the common ones are taught here so their text
survives (`:class:\\`Foo\\`` becomes `Foo`, `.. autoclass:: a.B` a line naming `a.B`) instead of
being dropped as errors."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Page", "convert", "SUFFIXES"]

SUFFIXES = {".md": "markdown", ".markdown": "markdown", ".rst": "rst", ".html": "html", ".htm": "html"}


@dataclass
class Page:
    title: str
    summary: str
    markdown: str


def convert(text: str, kind: str, fallback_title: str) -> Page:
    if kind == "rst":
        title, html = _rst_to_html(text)
        markdown = _html_to_markdown(html)
        if title:
            markdown = f"# {title}\n\n{markdown}"
    elif kind == "html":
        title, markdown = _html_page(text)
        if title and not re.match(r"#\s", markdown.lstrip()):
            markdown = f"# {title}\n\n{markdown}"
    else:
        title, markdown = None, _strip_front_matter(text)
    title = title or _first_heading(markdown) or fallback_title
    return Page(title.strip(), _summary(markdown), markdown.strip() + "\n")


# -- Markdown ---------------------------------------------------------------------------------

_FRONT = re.compile(r"\A---\n(.*?)\n---\n", re.S)


def _strip_front_matter(text: str) -> str:
    m = _FRONT.match(text)
    if not m:
        return text
    title = re.search(r"^title:\s*['\"]?(.+?)['\"]?\s*$", m.group(1), re.M)
    rest = text[m.end() :]
    return f"# {title.group(1)}\n\n{rest}" if title and not _first_heading(rest) else rest


def _first_heading(markdown: str) -> str | None:
    html = re.search(r"<h1[^>]*>\s*(.+?)\s*</h1>", markdown, re.S | re.I)  # a README-style centred title
    if html and not re.search(r"^#\s", markdown[: html.start()], re.M):
        return _plain(re.sub(r"<[^>]+>", "", html.group(1)))
    in_code = False
    lines = markdown.splitlines()
    for n, line in enumerate(lines):
        if line.lstrip().startswith(("```", "~~~")):
            in_code = not in_code
        elif not in_code and (m := re.match(r"#{1,2}\s+(.+?)\s*#*\s*$", line)):
            return _plain(m.group(1))
        elif (
            not in_code
            and line.strip()
            and n + 1 < len(lines)
            and re.fullmatch(r"(=+|-+)\s*", lines[n + 1])
            and len(lines[n + 1].strip()) >= 3
        ):
            return _plain(line)
    return None


def _summary(markdown: str) -> str:
    """A blockquote right under the title (the llms.txt way of summing up a page), else the first
    sentence of the first paragraph of prose (not a heading, list, code or markup)."""
    in_code = False
    found = [b for b in re.split(r"\n\s*\n", markdown) if b.strip()]
    if len(found) > 1 and found[0].lstrip().startswith("# ") and found[1].lstrip().startswith("> "):
        return _plain(" ".join(line.lstrip("> ").strip() for line in found[1].splitlines()))
    for block in found:
        first = block.lstrip()
        if first.startswith(("```", "~~~")):
            in_code = first.count("```") + first.count("~~~") == 1 if not in_code else False
            continue
        if (
            in_code
            or not first
            or first.startswith(("#", "<", "|", "![", "    ", "- ", "* ", "> ", ":", "..", "[!", "!!!", "???", "{"))
            or re.match(r"\d+\.\s", first)
        ):
            continue
        if re.fullmatch(r"[=\-*_\s]+|`[^`]+`", first) or re.search(r"\|\w+\|", first):  # rules, a lone name, an unset |substitution|
            continue
        text = _plain(" ".join(first.split()))
        sentence = re.match(r"(.+?[.!?])(\s|$)", text)
        text = sentence.group(1) if sentence else text
        return text if len(text) <= 200 else text[:197].rsplit(" ", 1)[0] + "…"
    return ""


def _plain(text: str) -> str:
    """Markdown markup off, words kept: `snake_case` and `$XDG_HOME` keep their underscores."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links and images keep their text
    text = re.sub(r"`+([^`]+)`+", r"\1", text)
    text = re.sub(r"\*{1,3}([^*]+)\*{1,3}", r"\1", text)
    return re.sub(r"(?<!\w)_{1,3}([^_]+)_{1,3}(?!\w)", r"\1", text).strip()


# -- reStructuredText ---------------------------------------------------------------------------

_SPHINX_ROLES = (
    "class",
    "func",
    "meth",
    "attr",
    "mod",
    "exc",
    "data",
    "obj",
    "const",
    "ref",
    "doc",
    "term",
    "py:class",
    "py:func",
    "py:meth",
    "py:attr",
    "py:mod",
    "py:exc",
    "py:data",
    "py:obj",
    "option",
    "envvar",
    "file",
    "command",
    "program",
    "samp",
    "kbd",
    "any",
    "pep",
    "rfc",
    "issue",
    "pr",
    "user",
    "gh",
)
_AUTO = (
    "autoclass",
    "autofunction",
    "automethod",
    "automodule",
    "autoattribute",
    "autoexception",
    "autodata",
    "function",
    "method",
    "attribute",
    "module",
    "exception",
    "data",
    "currentmodule",
    "decorator",
)  # not `class`: docutils has its own
_taught = False


def _teach_sphinx() -> None:
    """Register Sphinx's common roles and directives with docutils, once per process."""
    global _taught
    if _taught:
        return
    from docutils import nodes
    from docutils.parsers.rst import Directive, directives, roles

    def literal_role(name, rawtext, text, lineno, inliner, options=None, content=None):
        shown = (
            re.sub(r"\s*<[^>]*>$", "", text)
            if "<" in text
            else text.lstrip("~!").split(".")[-1]
            if text.startswith("~")
            else text.lstrip("!")
        )
        return [nodes.literal(rawtext, shown)], []

    class AnyOption(dict):  # `:members:`, `:noindex:` … are options, whatever their names
        def __contains__(self, key):
            return True

        def __getitem__(self, key):
            return directives.unchanged

    class Named(Directive):  # `.. autoclass:: pkg.Name` → a line naming it, then its content
        required_arguments, optional_arguments, final_argument_whitespace, has_content = 0, 10, True, True
        option_spec = AnyOption(members=None)  # not empty: docutils reads options only for a true option_spec

        def run(self):
            named = self.arguments and not self.name.endswith("module")  # which module a page documents is not news
            found = [nodes.paragraph("", "", nodes.literal("", " ".join(self.arguments)))] if named else []
            if self.content:
                body = nodes.container()
                self.state.nested_parse(self.content, self.content_offset, body)
                found += body.children
            return found

    class Version(Directive):  # `.. versionadded:: 2.0 text` and its content
        required_arguments, optional_arguments, final_argument_whitespace, has_content = 1, 1, True, True
        option_spec = None

        def run(self):
            label = {"versionadded": "New in version", "versionchanged": "Changed in version", "deprecated": "Deprecated since version"}[
                self.name
            ]
            said = self.state.inline_text(self.arguments[1], self.lineno)[0] if len(self.arguments) > 1 else []
            body = nodes.container()
            if self.content:
                self.state.nested_parse(self.content, self.content_offset, body)
            return [nodes.paragraph("", f"{label} {self.arguments[0]}" + (": " if said else "."), *said)] + list(body.children)

    class Dropped(Directive):  # navigation only: a toctree lists pages the llms.txt lists anyway
        optional_arguments, final_argument_whitespace, has_content = 10, True, True
        option_spec = AnyOption(members=None)  # not empty: docutils reads options only for a true option_spec

        def run(self):
            return []

    _register(roles, directives, literal_role, Named, Version, Dropped)
    _taught = True


def _register(roles, directives, literal_role, named, version, dropped) -> None:
    for name in _SPHINX_ROLES:
        roles.register_local_role(name, literal_role)
    for name in _AUTO:
        directives.register_directive(name, named)
        directives.register_directive(f"py:{name}", named)
    directives.register_directive("py:class", named)
    for name in ("versionadded", "versionchanged", "deprecated"):
        directives.register_directive(name, version)
    for name in ("toctree", "literalinclude", "automodapi", "autosummary", "include", "only", "index", "highlight", "tabularcolumns"):
        directives.register_directive(name, dropped)


def _rst_to_html(text: str) -> tuple[str | None, str]:
    from docutils.core import publish_parts

    _teach_sphinx()
    parts = publish_parts(
        text,
        writer="html5",
        settings_overrides={
            "report_level": 5,
            "halt_level": 5,
            "file_insertion_enabled": False,
            "raw_enabled": False,
            "_disable_config": True,
            "syntax_highlight": "none",
            "doctitle_xform": True,
            "input_encoding": "unicode",
            "warning_stream": False,
        },
    )
    return (parts["title"] or None), parts["body"]


# -- HTML ---------------------------------------------------------------------------------------


def _html_page(text: str) -> tuple[str | None, str]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    main = soup.find("main") or soup.find(attrs={"role": "main"}) or soup.find("article") or soup.body or soup
    for junk in main.find_all(["script", "style", "nav", "header", "footer", "noscript", "form", "button", "svg"]):
        junk.decompose()
    h1 = main.find("h1")
    return (h1.get_text(" ", strip=True) if h1 else title), _html_to_markdown(main)


def _html_to_markdown(html) -> str:
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    soup = BeautifulSoup(html, "html.parser") if isinstance(html, str) else html
    for span in soup.find_all("span", class_="literal"):  # docutils' ``inline literal``
        span.name = "code"
    for link in soup.find_all("a", class_="headerlink"):  # Sphinx's ¶ anchors
        link.decompose()
    converter = MarkdownConverter(heading_style="ATX", bullets="-", code_language_callback=_language)
    markdown = converter.convert_soup(soup)
    return re.sub(r"\n{3,}", "\n\n", markdown).strip() + "\n"


def _language(el) -> str:
    code = el.find("code")
    found = [*(el.get("class") or []), *((code.get("class") or []) if code else [])]
    classes = [c for c in found if c not in ("code", "literal-block", "highlight", "notranslate")]
    for c in classes:
        if c.startswith(("language-", "highlight-")):
            return c.split("-", 1)[1]
    return classes[0] if classes else ""
