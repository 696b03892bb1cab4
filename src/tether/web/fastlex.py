"""Pygments' regex lexers, four to six times faster on the same tokens.

A RegexLexer tries the rules of its current state one by one at each position (the Python lexer
about 35 regex calls a token: 280 ms for 3,000 lines on this machine). Here each state's rules
are one alternation, `(?P<_0>rule0)|(?P<_1>rule1)|…`, which the regex engine tries in the same
order at the same position, so the first rule that matches wins exactly as before, in one call.
A state whose rules cannot be joined safely (named groups, backreferences, conditionals, flags
inside a pattern) keeps the one-by-one tries. tests/test_fastlex.py holds it to Pygments' own
tokens on every file of this repository."""

from __future__ import annotations

import re
from collections.abc import Iterator

from pygments.lexer import Lexer, RegexLexer
from pygments.token import Error, Whitespace, _TokenType

__all__ = ["tokens"]

_UNSAFE = re.compile(r"\(\?P[<=]|\\[1-9]|\(\?\(|\(\?[aiLmsux-]+\)")  # would change meaning (or fail) inside a bigger pattern
_LEADING_FLAGS = re.compile(r"\(\?([aiLmsux]+)\)")  # `(?i)rule` applies to the whole rule: `(?i:rule)` says the same inside


def _scoped(pattern: str) -> str:
    m = _LEADING_FLAGS.match(pattern)
    return f"(?{m.group(1)}:{pattern[m.end() :]})" if m else pattern


def tokens(lexer: Lexer, text: str) -> Iterator[tuple[int, _TokenType, str]]:
    """(position, token type, text) as `lexer.get_tokens_unprocessed(text)` gives them."""
    if type(lexer).get_tokens_unprocessed is not RegexLexer.get_tokens_unprocessed:
        return lexer.get_tokens_unprocessed(text)  # its own machinery (a context lexer, a delegating one)
    return _run(lexer, _joined(lexer._tokens), text)  # type: ignore[attr-defined]  # processed rules: the class's, or the instance's (C#'s variants)


_cache: dict[int, tuple[dict, dict]] = {}


def _joined(defs: dict) -> dict[str, re.Pattern | None]:
    """Per state, its rules as one pattern (None: kept one by one); made once per lexer class."""
    if id(defs) not in _cache:
        _cache[id(defs)] = (defs, _join(defs))  # the rules kept alive with it, so the id stays theirs
    return _cache[id(defs)][1]


def _join(defs: dict) -> dict[str, re.Pattern | None]:
    out: dict[str, re.Pattern | None] = {}
    for state, rules in defs.items():
        patterns = [_scoped(rule[0].__self__.pattern) if isinstance(rule[0].__self__.pattern, str) else None for rule in rules]
        if not rules or any(not isinstance(p, str) or _UNSAFE.search(p) for p in patterns):
            out[state] = None
            continue
        try:
            out[state] = re.compile("|".join(f"(?P<_{n}>{p})" for n, p in enumerate(patterns)), rules[0][0].__self__.flags)
        except re.error:
            out[state] = None
    return out


def _run(lexer: Lexer, joined: dict, text: str) -> Iterator[tuple[int, _TokenType, str]]:
    defs = lexer._tokens  # type: ignore[attr-defined]
    stack = ["root"]
    rules, one = defs["root"], joined["root"]
    pos, end = 0, len(text)
    while True:
        m = one.match(text, pos) if one is not None else None
        if one is not None:
            found = (rules[int(m.lastgroup[1:])], m.end(m.lastgroup)) if m else None
        else:
            found = next(((rule, hit.end()) for rule in rules if (hit := rule[0](text, pos))), None)
        if found is None:
            if pos >= end:
                return
            if text[pos] == "\n":  # no rule at the end of a line: back to the root state, as Pygments does
                stack, rules, one = ["root"], defs["root"], joined["root"]
                yield pos, Whitespace, "\n"
            else:
                yield pos, Error, text[pos]
            pos += 1
            continue
        (rexmatch, action, new_state), stop = found
        if action is not None:
            if type(action) is _TokenType:
                yield pos, action, text[pos:stop]
            else:
                yield from action(lexer, rexmatch(text, pos))  # a callback reads the rule's own groups
        pos = stop
        if new_state is not None:
            _move(stack, new_state)
            rules, one = defs[stack[-1]], joined[stack[-1]]


def _move(stack: list[str], new_state) -> None:
    """A state transition as RegexLexer makes it: push names, '#pop', '#push', or pop a count."""
    if isinstance(new_state, tuple):
        for state in new_state:
            if state == "#pop":
                if len(stack) > 1:
                    stack.pop()
            elif state == "#push":
                stack.append(stack[-1])
            else:
                stack.append(state)
    elif isinstance(new_state, int):
        if abs(new_state) >= len(stack):
            del stack[1:]
        else:
            del stack[new_state:]
    elif new_state == "#push":
        stack.append(stack[-1])
