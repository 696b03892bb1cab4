"""What each page looks like (issue 40's designed look), in Debian's chromium at 1280x800, in the
light and the dark system theme: a screenshot of every page, and what a person would notice checked
on screen — the theme follows the system, text reads (WCAG AA, 4.5:1) in both, the keyboard's focus
shows, nothing clickable is out of the keyboard's reach, and the header is one row that fits.

The screenshots go to a temporary folder, or to $TETHER_SCREENSHOTS (`make screenshots` writes
docs/screenshots, which the README shows)."""

import os
import re
from pathlib import Path

from tests.web.test_ui import ANSWER, EDIT, browser, open_ui, serve, start_run, workspace  # noqa: F401 - the fixtures

THEMES = ("light", "dark")
WIDE, HIGH = 1280, 800
# The colours the review screen and the rest of the app draw with: every one must exist in both themes.
TEXT = ("--fg", "--dim", "--on", "--ok", "--warn", "--bad", "--add-fg", "--del-fg")
TOKENS = tuple(f"--tok-{t}" for t in ("kw", "str", "com", "num", "fn", "cls", "op", "bi"))
DIFF_BACKGROUNDS = ("--bg", "--panel", "--add", "--del", "--add-word", "--del-word", "--hunk")


def rgb(css: str) -> tuple[float, float, float]:
    """'#0969da', '#fff' or 'rgb(9, 105, 218)' as three 0..1 channels."""
    css = css.strip()
    if css.startswith("#"):
        h = css[1:]
        h = "".join(c * 2 for c in h) if len(h) == 3 else h[:6]
        return tuple(int(h[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return tuple(float(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])


def contrast(a: str, b: str) -> float:
    def luminance(css):
        r, g, b = (c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb(css))
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


SAVED = os.environ.get("TETHER_SCREENSHOTS")
SAVED = Path(SAVED).resolve() if SAVED else None  # from where pytest started: the tests run in a temporary folder


def folder(tmp_path) -> Path:
    out = SAVED or tmp_path / "screens"
    out.mkdir(parents=True, exist_ok=True)
    return out


def variables(page, names):
    return page.evaluate("(names) => names.map((n) => getComputedStyle(document.documentElement).getPropertyValue(n).trim())", list(names))


def colours(page):
    return page.evaluate("() => { const s = getComputedStyle(document.body); return [s.color, s.backgroundColor]; }")


def unreachable(page):
    """Things that look clickable (a pointer cursor) but are no link, button or form control."""
    return page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter((e) => getComputedStyle(e).cursor === 'pointer'
             && !e.closest('a[href], button, input, select, textarea, summary, label, [tabindex]:not([tabindex="-1"])'))
             .map((e) => e.outerHTML.slice(0, 80))"""
    )


def shoot(page, out, name, seen):
    """Both themes of the page as it is now: each screenshot saved, and the checks a person would make."""
    backgrounds = {}
    page.evaluate("() => window.scrollTo(0, 0)")  # the page as it opens: header first
    for theme in THEMES:
        page.emulate_media(color_scheme=theme)
        fg, bg = colours(page)
        backgrounds[theme] = bg
        assert contrast(fg, bg) >= 4.5, (name, theme, fg, bg)
        page.screenshot(path=str(out / f"{name}-{theme}.png"))  # the viewport, not the full page: small PNGs
        seen.append(f"{name}-{theme}")
    assert backgrounds["light"] != backgrounds["dark"], name  # the page follows the system theme
    assert unreachable(page) == [], name
    page.emulate_media(color_scheme="light")


def header_fits(page, name):
    page.set_viewport_size({"width": WIDE, "height": HIGH})
    tops = {round(b["y"]) for b in (a.bounding_box() for a in page.locator("header nav a").all())}
    assert len(tops) == 1, (name, tops)  # one row at 1280 px
    page.set_viewport_size({"width": 800, "height": HIGH})
    fits = page.evaluate(
        """() => { const h = document.querySelector('header'), r = document.querySelector('header nav').getBoundingClientRect();
                  return h.scrollWidth <= h.clientWidth && r.right <= window.innerWidth; }"""
    )
    assert fits, name  # at 800 px the nav wraps inside the header instead of running off it
    page.set_viewport_size({"width": WIDE, "height": HIGH})


def test_every_page_in_both_themes(workspace, browser, tmp_path):
    out, seen = folder(tmp_path), []
    remember = EDIT + "\nREMEMBER: notes.txt is numbered line by line\n"  # a note for the memory page to show
    door, server = serve(workspace, [remember, "DONE", ANSWER])
    try:
        page, errors = open_ui(browser, door, server)
        page.set_viewport_size({"width": WIDE, "height": HIGH})

        for theme in THEMES:  # the colours the pages and the review screen use, readable in each theme
            page.emulate_media(color_scheme=theme)
            values = dict(zip(TEXT + TOKENS + DIFF_BACKGROUNDS, variables(page, TEXT + TOKENS + DIFF_BACKGROUNDS), strict=True))
            assert all(values.values()), (theme, values)
            for name in TEXT:
                assert min(contrast(values[name], values[b]) for b in ("--bg", "--panel")) >= 4.5, (theme, name)
            for name in ("--fg", *TOKENS):
                assert min(contrast(values[name], values[b]) for b in DIFF_BACKGROUNDS) >= 4.5, (theme, name)

        # The keyboard: Tab shows where it is, on a link and on a button.
        page.emulate_media(color_scheme="light")
        page.keyboard.press("Tab")
        ring = page.evaluate(
            "() => { const s = getComputedStyle(document.activeElement); return [document.activeElement.tagName, s.outlineStyle, s.outlineWidth]; }"
        )
        assert ring[0] == "A" and ring[1] != "none" and float(ring[2].rstrip("px")) > 0, ring
        for _ in range(40):
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.tagName") == "BUTTON":
                break
        width = page.evaluate("() => getComputedStyle(document.activeElement).outlineWidth")
        assert page.evaluate("() => document.activeElement.textContent") == "Start" and float(width.rstrip("px")) > 0
        page.mouse.click(WIDE - 10, HIGH - 10)  # a mouse click elsewhere: the ring goes

        start_run(page, "upper-case three lines")  # level approve: the run stops at its hunks for review
        page.wait_for_selector("#hunk-2")
        header_fits(page, "review")
        shoot(page, out, "review", seen)
        page.keyboard.press("a")  # every hunk of the file
        page.wait_for_selector("#final")
        shoot(page, out, "run", seen)

        page.click("nav >> text=Runs")
        assert page.locator("nav a.on").inner_text() == "Runs" and page.locator("nav a[aria-current=page]").count() == 1
        number = page.locator("table.runs tr >> nth=1").locator("td.num >> nth=1")
        box = number.bounding_box()
        text = page.evaluate(
            "(e) => { const r = document.createRange(); r.selectNodeContents(e); return r.getBoundingClientRect().right; }",
            number.element_handle(),
        )
        assert abs(box["x"] + box["width"] - text) < 16  # numbers sit at the right of their column
        header_fits(page, "runs")
        shoot(page, out, "runs", seen)

        page.click("table.runs a >> nth=0")
        page.wait_for_url("**/replay/*")
        shoot(page, out, "replay", seen)

        page.click("nav >> text=Timeline")
        page.click("#change-1 summary")
        shoot(page, out, "timeline", seen)

        page.click("nav >> text=Ask")
        page.fill("input[name=question]", "What does line two say?")
        page.click("text=Ask >> nth=-1")
        page.wait_for_selector("#final")
        shoot(page, out, "ask", seen)

        page.goto(f"{server.origin}/file?path=notes.txt&start=2&end=3#L2")
        shoot(page, out, "file", seen)
        for name in ("context", "ledger", "memory", "wiki"):
            page.click(f"nav >> text={name.title()}")
            page.wait_for_url(f"**/{name}*")
            header_fits(page, name)
            shoot(page, out, name, seen)
            if name == "memory":
                assert page.locator("#note-1 button").all_inner_texts() == ["Keep", "Drop"]
        page.goto(f"{server.origin}/file?path=../../etc/passwd")
        shoot(page, out, "error", seen)

        assert len(seen) == 2 * 12 and all((out / f"{n}.png").stat().st_size > 5_000 for n in seen)
        assert [e for e in errors if "400" not in e] == []  # the error page's own status is the one console line
    finally:
        server.shutdown()
