"""Edits out of model replies — SEARCH/REPLACE blocks, unified diffs, whole files — applied to
the workspace all or none. Each format is one module with its prompt text beside its parser."""

from .apply import Plan, apply_text, parse_reply, propose, unified_diff
from .journal import Recovered, recover, write_files
from .model import ApplyReport, BlockResult, Edit

__all__ = [
    "ApplyReport",
    "BlockResult",
    "Edit",
    "Plan",
    "apply_text",
    "parse_reply",
    "propose",
    "recover",
    "Recovered",
    "unified_diff",
    "write_files",
]
