"""Running plans: the store API, prepared queries, the reference evaluator."""
