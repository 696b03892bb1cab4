"""Edits out of model replies — SEARCH/REPLACE blocks, unified diffs, whole files — applied to
the workspace all or none. Each format is one module with its prompt text beside its parser."""

from .apply import Plan, apply_text, parse_reply, propose, recover, unified_diff
from .model import ApplyReport, BlockResult, Edit

__all__ = ["ApplyReport", "BlockResult", "Edit", "Plan", "apply_text", "parse_reply", "propose", "recover", "unified_diff"]
