"""The catalogue's figure IDs, in order (no imports: read by the registry, the results table and the figure modules)."""

ZHENG_IDS: tuple[str, ...] = ("3", "4", "5", "6", "1", "2", "depth-k", "v2-shampoo", "v2-sophia", "e1", "e2")
WD_IDS: tuple[str, ...] = ("wd1", "wd2", "wd3", "wd4")
COORD_OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw", "muon", "muon_kimi", "lion", "muon_kimi_adamw", "shampoo",
                                     "shampoo_adamw", "soap", "sso", "sophia")
"""The engine optimizers with a coordinate-check figure (figures.coord), `coord-<name>`."""
COORD_IDS: tuple[str, ...] = tuple(f"coord-{o}" for o in COORD_OPTIMIZERS)
