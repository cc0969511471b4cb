"""Placeholder until written."""
def evaluate_study(*a): raise NotImplementedError
