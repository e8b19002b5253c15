"""Experiments that reproduce the papers' figures (MODEL.md Parts A and B)."""
