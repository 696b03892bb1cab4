"""The review's rows: coloured from the whole file, the changed words marked, numbered on both
sides, every character of the file escaped, folded lines counted and unfolded right."""

import html
import re

from tether.autonomy.edits.hunks import split
from tether.web.diffview import FileView, colour, line_html, word_changes
from tether.web.review import ReviewView

OLD = 'def f(x):\n    """doc\n    return x"""\n    return x + 1\n' + "".join(f"v{n} = {n}\n" for n in range(40)) + "class A:\n    pass\n"


def test_a_string_that_opens_above_a_line_colours_that_line_as_string():
    lines = [line_html(p) for p in colour("a.py", OLD)]
    assert lines[0].startswith('<i class="k">def</i> <i class="f">f</i>')
    assert lines[2] == '<i class="s">    return x&quot;&quot;&quot;</i>'  # inside the docstring, not a keyword
    assert '<i class="k">return</i>' in lines[3]


def test_every_character_of_a_file_is_escaped_and_carriage_returns_never_end_a_row():
    text = 'x = "<img src=x onerror=alert(1)>" & 1\r\n<script>alert(2)</script>\r\n'
    for path in ("a.py", "a.html", "a.unknown-kind"):
        out = [line_html(p) for p in colour(path, text)]
        assert len(out) == 2 and "<img" not in "".join(out) and "<script" not in "".join(out) and "\r" not in "".join(out)
        shown = [html.unescape(re.sub(r"<[^>]*>", "", line)) for line in out]  # what the page shows as text
        assert shown == ['x = "<img src=x onerror=alert(1)>" & 1', "<script>alert(2)</script>"]


def test_the_changed_word_is_marked_and_a_rewritten_line_is_not():
    assert word_changes("    return x + 1", "    return x + 2") == ([(15, 16)], [(15, 16)])
    assert word_changes("alpha beta gamma", "totally different words here") == ([], [])
    assert line_html([("k", "return"), ("", " x + 1")], [(11, 12)]) == '<i class="k">return</i> x + <mark>1</mark>'


def test_rows_are_numbered_on_both_sides_after_an_earlier_hunk_added_lines():
    new = OLD.replace("    return x + 1\n", "    y = x\n    return y + 1\n").replace("    pass\n", "    kind = 'a'\n")
    hunks = split("a.py", OLD, new)
    view = FileView("a.py", OLD, hunks)
    assert view.matches() and len(hunks) == 2
    rows = view.rows(1)
    removed = [r for r in rows if r.sign == "-"]
    added = [r for r in rows if r.sign == "+"]
    assert [(r.old, r.new) for r in removed] == [(46, None)] and [(r.old, r.new) for r in added] == [(None, 47)]
    context = [r for r in rows if r.sign == " "]
    assert all(r.new == r.old + 1 for r in context)  # one line more above, in the new text


def test_a_file_of_form_feeds_keeps_one_row_per_line():
    text = "a = 1\n\x0cb = 2\nc = 3\n"
    hunks = split("a.py", text, text.replace("c = 3", "c = 4"))
    view = FileView("a.py", text, hunks)
    assert view.matches() and [r.sign for r in view.rows(0)][-2:] == ["-", "+"]


def test_folded_lines_are_counted_and_unfold_to_their_own_numbers(tmp_path):
    (tmp_path / "a.py").write_text(OLD)
    new = OLD.replace("v3 = 3", "v3 = 33").replace("v30 = 30", "v30 = 300")
    review = ReviewView(tmp_path, split("a.py", OLD, new))
    first, second = review.hunk(0), review.hunk(1)
    assert (first["above"], first["below"]) == (4, 0)  # lines 1-4 folded above; the next hunk follows
    # hunk 1 shows lines 5-11 (v3 is line 8), hunk 2 lines 32-38 (v30 is line 35); the file has 46
    assert (second["above"], second["below"]) == (20, 8)
    rows = review.unfold(1, "above", 0)
    assert [r[1] for r in rows] == list(range(12, 32)) and [r[2] for r in rows] == list(range(12, 32))
    assert review.unfold(1, "above", 5) == rows[:-5]  # the 5 nearest the hunk already shown: the ones above them
    assert review.unfold(1, "below", 0)[-1][1] == len(OLD.splitlines())


def test_a_file_changed_since_the_proposal_is_shown_from_the_hunk_alone(tmp_path):
    (tmp_path / "a.py").write_text("something else entirely\n")
    review = ReviewView(tmp_path, split("a.py", OLD, OLD.replace("v3 = 3", "v3 = 33")))
    hunk = review.hunk(0)
    assert hunk["above"] == hunk["below"] == 0
    assert [r[0] for r in hunk["rows"]] == [" ", " ", " ", "-", "+", " ", " ", " "] and hunk["rows"][3][1] == 8


def test_the_runs_of_each_workspace_of_a_server_are_numbered_on_not_again():
    from tether.web.runs import Runs

    first = Runs()
    taken = [next(first.numbers) for _ in range(2)]
    assert taken == [1, 2] and next(first.after().numbers) == 3  # a tab left on r1 of the first workspace never reaches the second's


def test_characters_that_reorder_text_are_shown_not_obeyed():
    line = "if level != 'none\u202e\u2066': # admin\u2069\u2066' and level != 'user"
    out = line_html([("", line)])
    assert "\u202e" not in out and "\u2066" not in out and out.count('<b class="ctl"') == 4 and "U+202E" in out
