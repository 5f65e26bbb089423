"""Benchmarks: each prints its figures; ``./dev bench`` runs them all."""
