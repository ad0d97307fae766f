"""Training and evaluating evidence mode's consistency head."""
