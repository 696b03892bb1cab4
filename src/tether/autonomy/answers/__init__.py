"""Answers about a repository whose every claim cites lines that were checked: `ask` and the wiki."""
