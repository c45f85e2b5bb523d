"""Lowering derived equations to NumPy, and running them over time."""
