"""The terminal's person: the leash's question is shown as it is, whatever text it holds."""

from tether.cli.terminal import TerminalPerson


def test_a_question_is_shown_as_written_with_no_markup_left_in_it(monkeypatch, capsys):
    monkeypatch.setattr("builtins.input", lambda prompt: "y")
    asked = 'mcp:docs:search: {"query": "[red]total[/red]"} (level approve asks before each call) Allow?'
    assert TerminalPerson(None).confirm(asked)
    shown = capsys.readouterr().err
    assert "[yellow]" not in shown and '"[red]total[/red]"' in shown
