"""Worked examples that use the project from plain PyTorch code."""
