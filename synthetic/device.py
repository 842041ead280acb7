"""Which torch device a grid runs on: "auto" = CUDA when available, else CPU."""

from __future__ import annotations

import torch

from synthetic.errors import ConfigError


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto", "cpu", "cuda" or "cuda:N" -> torch.device; asking for CUDA where there is none is a ConfigError."""
    name = str(device).strip().lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda" or name.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but CUDA is not available on this machine "
                              f"(use --device cpu or auto)")
        try:
            dev = torch.device(name)
        except RuntimeError:
            raise ConfigError(f"bad device {name!r}; expected auto, cpu, cuda or cuda:N") from None
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} requested but only {torch.cuda.device_count()} CUDA device(s) exist")
        return dev
    raise ConfigError(f"unknown device {name!r}; expected auto, cpu, cuda or cuda:N")
