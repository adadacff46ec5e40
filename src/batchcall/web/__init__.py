"""HTTP plumbing: the unit-of-work route, error answers, body and memory limits."""
