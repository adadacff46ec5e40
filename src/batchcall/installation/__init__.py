"""What belongs to the whole installation rather than to a workspace: its secrets."""
