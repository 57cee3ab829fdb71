"""Inference and evaluation loops."""
