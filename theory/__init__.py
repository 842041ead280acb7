"""theory/: the spectral μP conditions and every HP-scaling table, derived with SymPy.

One source of truth: conditions (conditions.py) + width-μP init + an optimizer's update norm
(optimizers.py) -> solver.py -> per-role exponents of (multiplier, init_var, lr, wd, eps) in
r_n = n/n_base and r_L = L/L_base -> tables.py (the paper's Tables 1-13) and bridge.py (numbers for
the engine). Nothing in theory/ holds a typed table entry.

Adding an optimizer takes one call; its tables, bridge values and JSON then follow::

    from theory import register_optimizer
    register_optimizer("my_opt", update_norm=lambda ctx: ctx.n_in, biases=True, epsilon=None)

`update_norm(ctx)` returns ‖A‖_R (the update direction without lr and wd) as a SymPy monomial in
ctx.n_in, ctx.n_out, ctx.alpha, ctx.other_norms, ctx.grad_norm (the raw SGD gradient's ‖∇W‖_R), with
ctx.role, ctx.k, ctx.parameterization for anything role-specific. `biases=False` for matrix
optimizers; `epsilon` is None, "gradient_entry" (Adam-like), "preconditioner" (Shampoo-like),
"preconditioner_root" (SOAP-like) or a map ctx -> ε scale. Then lr = target ‖ΔW‖_R / ‖A‖_R and wd = ‖A‖_R / ‖W‖_R.

CLI: `python -m theory --table 6`, `--table wd-rules`, `--table residual`, `--list`; `python -m theory hparams
--width N --depth L ...` prints the bridge's per-layer numbers with the table entry behind each.
"""

from theory.bridge import BaseHP, LayerHP, layer_hparams
from theory.errors import TheoryError
from theory.optimizers import UpdateContext, optimizer_names, register_optimizer, unregister_optimizer
from theory.solver import DerivedTable, derive_table
from theory.tables import TABLE_IDS, build_table

__all__ = ["BaseHP", "LayerHP", "layer_hparams", "TheoryError", "UpdateContext", "optimizer_names",
           "register_optimizer", "unregister_optimizer", "DerivedTable", "derive_table", "TABLE_IDS", "build_table"]
