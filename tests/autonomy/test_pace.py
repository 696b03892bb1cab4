"""How long a run's next reply takes, judged from its replies so far (numbers from a real run store)."""

from tether.autonomy.agent.pace import Pace
from tether.context import tokens
from tether.llm.types import Response, Usage

SYSTEM = {"role": "system", "content": "You are tether. Reply with the whole file."}
FILE = "def measure(bucket_one, bucket_two, goal, start_bucket):\n    pass\n" * 40
OPENING = [SYSTEM, {"role": "user", "content": f"two_bucket.py\n```python\n{FILE}```\n\nMake the tests pass."}]


def reply(text: str, read: int, cached: int, wrote: int, seconds: float, first: float | None) -> Response:
    return Response(
        text,
        "local/m",
        "local",
        Usage(read, wrote, cached_tokens=cached),
        latency_ms=seconds * 1000,
        ttft_ms=None if first is None else first * 1000,
    )


def test_nothing_is_known_before_the_first_reply():
    assert Pace().seconds(OPENING, 200) is None


def test_a_follow_up_reads_only_its_new_tail():
    pace = Pace()
    answer = "two_bucket.py\n```python\ndef measure(a, b, goal, start):\n    return (1, 'one', 0)\n```\n"
    pace.observe(OPENING, reply(answer, 1576, 137, 105, 39.6, 16.0))  # 1,439 tokens read in 16 s, 105 written in 23.6
    feedback = "The checks still fail: AssertionError: (1, 'one', 0) != (4, 'one', 5)"
    follow_up = OPENING + [{"role": "assistant", "content": answer}, {"role": "user", "content": feedback}]
    assert pace.unread(follow_up) <= tokens.count(feedback) + 10
    assert abs(pace.seconds(follow_up, 105) - 23.6) < 1


def test_a_prompt_that_differs_part_way_is_read_again_from_there():
    """Run 5aae of the seed-11 run store: 13.5 s left, a fresh sample of 216 tokens to write at the
    14 tokens a second the last reply showed (12 s by the writing alone), but 844 tokens of its prompt
    not in the cache. It was started, and cut off before its first token."""
    pace = Pace()
    pace.observe(OPENING, reply("two_bucket.py\n```python\npass\n```\n", 1576, 137, 216, 31.0, 16.0))
    outline = [SYSTEM, {"role": "user", "content": "two_bucket.py (only its definitions are shown)\n" + "x = 1\n" * 400}]
    assert pace.unread(outline) > 800
    assert pace.seconds(outline, 173) > 13.5 > 173 / 14


def test_without_a_first_token_time_the_whole_reply_sets_the_speed():
    pace = Pace()
    pace.observe(OPENING, reply("x", 1000, 0, 20, 0.5, None))
    assert pace.seconds(OPENING, 400) == 10.0
