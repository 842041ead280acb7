"""Engine vs plain one-model-at-a-time PyTorch loop: same grid, same data, same hyperparameters, timed in one process."""
