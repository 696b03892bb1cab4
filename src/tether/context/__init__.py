"""The context floor: a repository turned into what an LLM digests best."""

from .digest import Digest, digest

__all__ = ["Digest", "digest"]
