"""The README's pictures of `tether ui`, taken by Debian's chromium on a small workspace with a
scripted model: `.venv/bin/python docs/screenshots.py` writes docs/screenshots/*.png."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "web"))
OUT = ROOT / "docs" / "screenshots"


def main() -> None:
    os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp()
    from playwright.sync_api import sync_playwright
    from test_ui import ANSWER, CHROMIUM, EDIT, ORIGINAL, serve

    root = Path(tempfile.mkdtemp()) / "shop"
    root.mkdir()
    (root / "notes.txt").write_text(ORIGINAL)
    (root / "cart.py").write_text("class Cart:\n    def total(self):\n        return sum(self.items)\n")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    door, server = serve(root, [EDIT, "DONE", ANSWER])
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"])
        page = browser.new_page(viewport={"width": 1200, "height": 800})
        page.goto(f"{server.origin}/?token={door.token}")
        page.fill("textarea[name=instruction]", "upper-case lines 2, 15 and 28")
        page.screenshot(path=OUT / "runs.png")
        page.click("#start button[type=submit]")
        page.wait_for_selector("#hunk-2")
        page.keyboard.press("y")
        page.keyboard.press("n")
        page.screenshot(path=OUT / "review.png")
        page.keyboard.press("y")
        page.wait_for_selector("#final")
        page.screenshot(path=OUT / "run.png")
        page.goto(f"{server.origin}/timeline")
        page.click("details summary")
        page.screenshot(path=OUT / "timeline.png")
        page.goto(f"{server.origin}/ask")
        page.fill("input[name=question]", "What does line two say?")
        page.click("text=Ask >> nth=-1")
        page.wait_for_selector("a.cite")
        page.screenshot(path=OUT / "ask.png")
        page.goto(f"{server.origin}/context?q=total")
        page.screenshot(path=OUT / "context.png")
        page.goto(f"{server.origin}/ledger")
        page.screenshot(path=OUT / "ledger.png")
        browser.close()
    server.shutdown()
    print("\n".join(str(p.relative_to(ROOT)) for p in sorted(OUT.glob("*.png"))))


if __name__ == "__main__":
    main()
