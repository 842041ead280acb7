"""Numeric core: stacked residual networks, stacked optimizers, batched trainer, measurements (see ARCHITECTURE.md)."""
