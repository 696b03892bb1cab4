"""Edits out of model replies — SEARCH/REPLACE blocks, unified diffs, whole files — applied to
the workspace all or none. Each format is one module with its prompt text beside its parser."""

from .apply import apply_text, parse_reply, recover
from .model import ApplyReport, BlockResult, Edit

__all__ = ["ApplyReport", "BlockResult", "Edit", "apply_text", "parse_reply", "recover"]
