"""A Conversation keeps a chat's history: a turn joins it only when its reply is whole."""

import pytest

from tests.conftest import ledger_rows
from tether.errors import AuthError, BadRequest, Cancelled, StreamInterrupted, UnknownModel
from tether.llm import Conversation, GridLike
from tether.llm.types import Response


def sent(grid, provider="s") -> list[list[tuple[str, str]]]:
    """What the model was sent, call by call, as (role, content)."""
    return [[(m["role"], m["content"]) for m in r.messages] for r in grid.provider(provider).requests]


def test_two_turns_keep_both_questions_and_both_replies_and_send_the_first_with_the_second(make_grid):
    grid = make_grid(s=["Paris.", "About two million."])
    talk = Conversation(grid, "s/m", system="Answer briefly.")
    first = talk.send("Capital of France?")
    second = talk.send("How many people live there?")
    assert (first.text, second.text, talk.turns) == ("Paris.", "About two million.", 2)
    assert [(m["role"], m["content"]) for m in talk.messages] == [
        ("system", "Answer briefly."),
        ("user", "Capital of France?"),
        ("assistant", "Paris."),
        ("user", "How many people live there?"),
        ("assistant", "About two million."),
    ]
    assert sent(grid)[1] == [(m["role"], m["content"]) for m in talk.messages][:-1]
    assert talk.to_dict() == {"model": "s/m", "turns": 2, "messages": [dict(m) for m in talk.messages]}


def test_a_streamed_turn_yields_text_then_the_response_and_joins_the_history(make_grid):
    grid = make_grid(s=["one two three"])
    talk = Conversation(grid, "s/m")
    items = list(talk.stream("count"))
    assert "".join(i for i in items if isinstance(i, str)) == "one two three"
    assert isinstance(items[-1], Response) and items[-1].text == "one two three"
    assert [m["content"] for m in talk.messages] == ["count", "one two three"]


def test_a_failed_turn_leaves_the_history_as_it_was_and_the_next_is_sent_without_it(make_grid):
    grid = make_grid(s=["first reply", AuthError("s: key refused"), "second reply"])
    talk = Conversation(grid, "s/m")
    talk.send("one")
    before = talk.messages
    with pytest.raises(AuthError):
        talk.send("lost question")
    assert talk.messages == before and talk.turns == 1
    talk.send("two")
    assert sent(grid)[-1] == [("user", "one"), ("assistant", "first reply"), ("user", "two")]


def test_a_stream_broken_after_its_first_words_or_stopped_by_the_reader_leaves_the_history_as_it_was(make_grid):
    grid = make_grid(s=["kept", {"text": "never whole at all", "fail_after": 2}, "cut off by the reader", "whole"])
    talk = Conversation(grid, "s/m")
    talk.send("one")
    with pytest.raises(StreamInterrupted):
        for _ in talk.stream("two"):
            pass
    stream = talk.stream("three")
    assert next(stream) == "cut "
    stream.close()  # what Ctrl-C does to `tether chat`'s reply
    assert [m["content"] for m in talk.messages] == ["one", "kept"]
    assert ledger_rows(grid)[-1]["outcome"] == "cancelled"  # the cut-off call is on the ledger all the same
    assert [i for i in talk.stream("four") if isinstance(i, str)] == ["whole"]
    assert sent(grid)[-1] == [("user", "one"), ("assistant", "kept"), ("user", "four")]


def test_a_turn_interrupted_by_ctrl_c_or_stopped_leaves_the_history_as_it_was(make_grid):
    grid = make_grid(s=["kept", Cancelled("s/m: stopped"), KeyboardInterrupt()])
    talk = Conversation(grid, "s/m")
    talk.send("one")
    with pytest.raises(Cancelled):
        list(talk.stream("two"))
    with pytest.raises(KeyboardInterrupt):
        talk.send("three")
    assert [m["content"] for m in talk.messages] == ["one", "kept"] and talk.turns == 1


def test_a_continued_chat_sends_its_earlier_turns_and_keeps_its_own_model_unless_another_is_named(make_grid):
    grid = make_grid(s=["and then a third"], t=["from t"])
    logged = (
        {"id": "c1", "model": "s/m"},
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "one"}, {"role": "assistant", "content": "two"}],
    )
    talk = Conversation.resume(grid, logged)
    assert (talk.model, talk.turns) == ("s/m", 1)
    assert talk.send("and?").text == "and then a third"
    assert sent(grid) == [[("system", "Be brief."), ("user", "one"), ("assistant", "two"), ("user", "and?")]]
    other = Conversation.resume(grid, logged, model="t/x")
    other.send("and?")
    assert other.model == "t/x" and sent(grid, "t")[0][:3] == [("system", "Be brief."), ("user", "one"), ("assistant", "two")]


def test_an_unknown_model_or_a_malformed_logged_message_is_one_clear_error_before_anything_is_sent(make_grid):
    grid = make_grid(s=["never"])
    with pytest.raises(UnknownModel, match="gpt4"):
        Conversation(grid, "gpt4")
    with pytest.raises(BadRequest, match="role"):
        Conversation.resume(grid, ({"model": "s/m"}, [{"role": "wizard", "content": "x"}]))
    assert grid.provider("s").requests == []


def test_the_history_cannot_be_changed_from_outside(make_grid):
    grid = make_grid(s=["reply"])
    talk = Conversation(grid, "s/m")
    talk.send("question")
    with pytest.raises(TypeError):
        talk.messages[0]["content"] = "rewritten"
    assert talk.messages[0]["content"] == "question"


def test_the_grid_is_what_the_floors_above_may_use_of_it(make_grid):
    assert isinstance(make_grid(), GridLike)
