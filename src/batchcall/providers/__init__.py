"""Channel vendors behind one Protocol: ``simulated`` by default."""
