"""What keeps a run on its leash: the leash itself, the sandbox, the checks a change must pass and
what they may leave behind, and the fence around untrusted text."""
