"""The grid: every LLM provider behind one metered, switchable client."""
