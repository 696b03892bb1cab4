"""What a run leaves behind and how it is undone: checkpoints, a run's own trail, applied changes,
drafts to apply later, and the run log."""
