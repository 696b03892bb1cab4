"""Records real replies of the embedded models to edit requests, as fixtures for test_replies.py.

Run from the repository root: python tests/autonomy/replies/make_replies.py
Each reply is saved as MODEL--TASK.txt; the tests apply them to fresh copies of the files."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[2] / "src"))

from tether.autonomy.edits import search_replace  # noqa: E402
from tether.llm.router import Grid  # noqa: E402

FILES = {
    "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n\n\ndef total(values):\n    result = 0\n    for v in values:\n        result = add(result, v)\n    return result\n",
    "greet.py": 'def greet(name):\n    return "Hello, " + name\n',
}
TASKS = {
    "rename": ("calc.py", "Rename the function `add` to `plus`, and update its caller."),
    "docstring": ("calc.py", "Add a one-line docstring to `sub`."),
    "exclaim": ("greet.py", "Make `greet` end its greeting with an exclamation mark."),
}
MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def main() -> None:
    grid = Grid.from_config()
    for model in MODELS:
        for task, (path, ask) in TASKS.items():
            messages = [
                {"role": "system", "content": "You are an expert programmer who edits code.\n\n" + search_replace.PROMPT},
                {"role": "user", "content": f"{path}\n```python\n{FILES[path]}```\n\n{ask} Reply with SEARCH/REPLACE blocks only."},
            ]
            reply = grid.complete(f"local/{model}", messages, max_tokens=300, temperature=0)
            (HERE / f"{model}--{task}.txt").write_text(reply.text)
            print(model, task, len(reply.text))


if __name__ == "__main__":
    main()
