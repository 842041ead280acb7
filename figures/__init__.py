"""Figure catalogue: one module per figure (or closely related group) + `figures.registry.run_figure`.

Zheng et al.: `zheng_assumptions` (3–6), `zheng_transfer` (1, 2), `zheng_claims` (e1, e2), `coord` (coord-OPT);
Fan et al.: `wd` (wd1–wd4). Golden exponents for CI: `python -m figures.zheng_golden [--update]`.
"""
