"""The autonomy floor: changes a person can trust — edits, checkpoints, the leash, the agent."""
