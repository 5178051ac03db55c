"""LinUCB bandit for trade admission and size buckets, plus the alpha model."""
