"""What the wiki is made of: a part of the code, the page written of it (verified claims only, each
citing lines by hash), what a build did, and what it would do before any model call."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Part:
    slug: str
    title: str
    files: tuple[str, ...]


@dataclass
class Page:
    slug: str
    title: str
    files: list[str]
    claims: list[dict]  # {"text", "citations": [{"path", "start", "end", "hash", "around"}]}, verified ones only
    dropped: int  # claims the model wrote that did not verify
    commit: str
    run_id: str = ""

    def markdown(self) -> str:
        lines = [f"# {self.title}", "", f"Files: {', '.join(f'`{f}`' for f in self.files)} · at `{self.commit[:12] or 'working tree'}`", ""]
        for c in self.claims:
            cites = "; ".join(
                f"[{x['path']}:{x['start']}-{x['end']}]({x['path']}#L{x['start']}-L{x['end']}) `{x['hash']}`" for x in c["citations"]
            )
            lines.append(f"- {c['text']} ({cites})")
        if not self.claims:
            lines.append("- (no claim about this part could be verified)")
        return "\n".join(lines) + "\n"

    def to_dict(self) -> dict:
        return {
            "slug": self.slug,
            "title": self.title,
            "files": self.files,
            "claims": self.claims,
            "dropped": self.dropped,
            "commit": self.commit,
            "run": self.run_id,
        }


@dataclass
class WikiReport:
    pages: list[Page]
    written: list[str] = field(default_factory=list)  # slugs written by a model this time (whole, or the claims whose lines changed)
    kept: list[str] = field(default_factory=list)  # slugs whose cited lines still hold (citations moved with the code)
    seconds: float = 0.0
    overview: str = ""

    @property
    def citations(self) -> tuple[int, int]:
        """(verified citations shown, claims dropped because they did not verify)."""
        return sum(len(c["citations"]) for p in self.pages for c in p.claims), sum(p.dropped for p in self.pages)

    def to_dict(self) -> dict:
        shown, dropped = self.citations
        return {
            "pages": [p.to_dict() for p in self.pages],
            "written": self.written,
            "kept": self.kept,
            "seconds": round(self.seconds, 2),
            "claims": sum(len(p.claims) for p in self.pages),
            "citations": shown,
            "dropped_claims": dropped,
        }


PROMPT_OVERHEAD = 450  # tokens of ask's instructions and question around a page's snippets


REPLY_TOKENS = 350  # tokens a page's claims take to write


@dataclass
class WikiPlan:
    """What `build` would do, without a model call: per page write, refresh or keep, the prompt
    tokens it would send, and the time that takes at the speeds the ledger has seen for the model."""

    pages: list[dict]
    model: str
    speeds: tuple[float, float] | None  # (prompt, reply) tokens per second; None: never called here yet

    @property
    def tokens(self) -> int:
        return sum(p["prompt_tokens"] for p in self.pages)

    @property
    def seconds(self) -> float | None:
        asked = sum(p["action"] != "keep" for p in self.pages)
        return None if self.speeds is None else self.tokens / self.speeds[0] + asked * REPLY_TOKENS / self.speeds[1]

    def to_dict(self) -> dict:
        seconds = self.seconds
        return {
            "pages": self.pages,
            "model": self.model,
            "prompt_tokens": self.tokens,
            "seconds": None if seconds is None else round(seconds, 1),
        }
