"""Update-rule registry of the engine: a rule owns its state, its per-run hyperparameters and its stacked step.

A `Rule` updates one parameter group of a bucket: tensors with a leading dimension of rows (the runs, or for a hidden
group one row per block of a run: [P, n_out, n_in], synthetic.models.BlockLayout), per-row factors as [rows, 1]
columns (`col`) or broadcastable [rows, 1, …] tensors; a rule never needs to know which run a row belongs to. A step does no host
synchronisation (no `.item()`, no Python branching on tensor values). The rule's `name` is also the theory.bridge
optimizer whose table gives its lr / wd / eps, unless `theory` names another one.

An engine optimizer is data: a map from parameter role (theory.roles) to rule name (`register_engine_optimizer`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping

from torch import Tensor

from synthetic.errors import ConfigError
from theory.roles import BIAS_ROLES, WEIGHT_ROLES

if TYPE_CHECKING:  # pragma: no cover
    from synthetic.config import OptimConfig
    from synthetic.optim import StackedOptimizer

ALL_ROLES = WEIGHT_ROLES + BIAS_ROLES


def col(x: Tensor) -> Tensor:
    """Per-run factors [M, 1, …] as an [M, 1] column."""
    return x.reshape(-1, 1)


_SAME_WIDTH_INT = {2: "int16", 4: "int32", 8: "int64"}


def zero_dead_(x: Tensor, dead: Tensor | None) -> Tensor:
    """Set the rows of frozen runs (`dead` [rows, 1, …] bool, broadcastable) to +0 in place, NaN-safe: the float bits
    are ANDed with an all-ones mask (live) or zero (frozen), the same result as `masked_fill_(dead, 0)` at a tenth of
    its cost on a CPU."""
    if dead is None:
        return x
    import torch

    bits = x.view(getattr(torch, _SAME_WIDTH_INT[x.element_size()]))
    bits.bitwise_and_(dead.to(bits.dtype) - 1)
    return x


def per_run_view(x: Tensor, like: Tensor) -> Tensor:
    """[M] or [M, 1] per-run values broadcastable against `like` ([M, …])."""
    return x.reshape(-1, *([1] * (like.ndim - 1)))


class Rule:
    """One update rule. Subclasses set `name`, and override `init_state` and `step`.

    - `needs_eps`: the bridge's ε per run is required (`opt.eps[name]`, [M, 1, …]).
    - `elementwise`: the state tensors are tiled with the weights (`opt.groups[name].state` holds tile views);
      matrix rules (whole-matrix state) set it False.
    - `scratch`: how many scratch rows of `opt` the step uses (`opt._u(tile, i)`)."""

    name: str = ""
    theory: str | None = None
    needs_eps: bool = False
    elementwise: bool = True
    scratch: int = 1
    uses_hessian: bool = False
    """The engine hands the rule a Hessian-diagonal estimate (`update_hessian`) every `OptimConfig.hessian_every`
    steps, from step 0."""
    version: str | None = None
    """The rule's identity in its runs' ids. A rule defined outside synthetic.rules: declare one and change it when
    the rule's numbers change; without it the sha256 of the rule class's source is used, so an edited rule never gets
    the old cached numbers back (`rule_identity`). The package's own rules are covered by ENGINE_VERSION and declare
    one only where their numbers changed without an engine bump, so that only their runs miss the cache."""
    element_local: bool = False
    """Every element's update depends only on that element and its row's factors (no norms, no matrix products,
    state initialised element by element), so small groups of the rule can be updated as one concatenated group
    with one element per row (`StackedOptimizer`, on a CPU), with the same numbers. `step` then receives that joined
    group's key (an `optim._Flat`) as `name`. Inherited: a subclass whose `step` couples elements must set it False."""

    @property
    def bridge_name(self) -> str:
        return self.theory or self.name

    def hparams(self, parameterization: str, roles, **kw):
        """Each role's LayerHP (theory.bridge.LayerHP) for one run: by default the bridge table of `bridge_name`."""
        from theory.bridge import layer_hparams

        return layer_hparams(self.bridge_name, parameterization, roles=roles, **kw)

    def init_state(self, p: Tensor, cfg: "OptimConfig") -> dict[str, Tensor]:
        return {}

    def update_hessian(self, opt: "StackedOptimizer", name: str, h_hat: Tensor) -> None:
        """Take a fresh Hessian-diagonal estimate ĥ (shaped like the group); only for rules with `uses_hessian`."""

    def step(self, opt: "StackedOptimizer", name: str, p: Tensor, g: Tensor, decay: Tensor | None,
             dead: Tensor | None, lr: Tensor) -> None:
        """W ← W·decay − (update) for every row at once; `decay` [rows, 1] (None: no decay), `dead` [rows, 1] bool
        (None: all alive; a dead run's rows must not move), `lr` [rows, 1, …] this step's learning rates."""
        raise NotImplementedError

    fused_kernel = None
    """`step` as one function of whole-group tensors for `OptimConfig.fused` (a staticmethod; None: the rule has no
    fused form and keeps `step`). `torch.compile` turns it into one kernel; `StackedOptimizer` applies it to every
    group of the rule in one compiled call (`compiled_multi`), so a step costs one guard check per rule."""

    def fused_args(self, opt: "StackedOptimizer", name: str, p: Tensor, g: Tensor, decay: Tensor | None,
                   dead: Tensor | None, lr: Tensor) -> tuple:
        """The arguments of `fused_kernel` for one group at this step (same meaning as `step`'s)."""
        raise NotImplementedError

    def one_pass_step(self, opt: "StackedOptimizer", params: list[Tensor], grads: list[Tensor],
                      state: dict[str, list[Tensor]], lr: "float | Tensor", wd: float, eps: float | None,
                      skip: Tensor | None) -> None:
        """`OptimConfig.one_pass`: update whole rows that share one (lr, wd, eps) in one pass per tensor (a rule
        without such a kernel leaves this unset: `has_one_pass`); `skip` a 0-d float flag, 1 for a frozen run, read
        on the device (synthetic.one_pass)."""
        raise NotImplementedError

    @property
    def has_one_pass(self) -> bool:
        return type(self).one_pass_step is not Rule.one_pass_step

    @property
    def has_fused(self) -> bool:
        return self.fused_kernel is not None

    def fused_step(self, opt: "StackedOptimizer", name: str, p: Tensor, g: Tensor, decay: Tensor | None,
                   dead: Tensor | None, lr: Tensor) -> None:
        """One group's fused update on its own (the optimizer batches the groups of a rule instead)."""
        compiled_multi(self.fused_kernel)([self.fused_args(opt, name, p, g, decay, dead, lr)])


_COMPILED: dict[object, object] = {}
_MULTI: dict[object, object] = {}
_COMPILER_OK: bool | None = None


FUSED_RECOMPILE_LIMIT = 64
"""Graphs torch may build per kernel. Dynamic shapes still specialise on dtype, on a group of one row, on the number
of groups and on a rule's structural flags (SGD's momentum buffer, Nesterov): about a dozen variants per kernel in a
mixed grid, past torch's default limit of 8, where `fullgraph=True` would fail rather than run eagerly with other
numbers."""


def compiled_multi(kernel):
    """One compiled function that applies `kernel` to each argument tuple of a list (the groups of one rule)."""
    if kernel not in _MULTI:
        def multi(arg_lists):
            for args in arg_lists:
                kernel(*args)

        _MULTI[kernel] = compiled(multi)
    return _MULTI[kernel]


def compiled(fn):
    """`torch.compile(fn)` (dynamic shapes, one graph), built once per function."""
    if fn not in _COMPILED:
        from synthetic.inductor_cache import separate_inductor_cache

        separate_inductor_cache()

        import torch
        import torch._dynamo

        import torch.fx.experimental._config as fx_config

        # no duck sizing: two sizes that happen to be equal in the first bucket (a group's rows and another's) must
        # not become a guard that the next bucket fails, recompiling
        fx_config.use_duck_shape = False
        for name in ("recompile_limit", "cache_size_limit"):
            if hasattr(torch._dynamo.config, name):
                setattr(torch._dynamo.config, name, max(getattr(torch._dynamo.config, name), FUSED_RECOMPILE_LIMIT))
        if hasattr(torch._dynamo.config, "accumulated_recompile_limit"):
            torch._dynamo.config.accumulated_recompile_limit = max(
                torch._dynamo.config.accumulated_recompile_limit, 16 * FUSED_RECOMPILE_LIMIT)
        _COMPILED[fn] = torch.compile(fn, dynamic=True, fullgraph=True)
    return _COMPILED[fn]


def require_compiler() -> None:
    """Raise ConfigError (one line) unless torch.compile can build a kernel here (a C++ compiler on a CPU)."""
    global _COMPILER_OK
    if _COMPILER_OK is None:
        import torch

        from synthetic.inductor_cache import separate_inductor_cache

        separate_inductor_cache()
        try:
            torch.compile(lambda x: x * 2 + 1, fullgraph=True)(torch.ones(3))
            _COMPILER_OK = True
        except Exception as exc:  # noqa: BLE001  (any backend failure means: no fused update here)
            _COMPILER_OK = False
            require_compiler.reason = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    if not _COMPILER_OK:
        raise ConfigError("optim.fused needs torch.compile, which failed here "
                          f"({getattr(require_compiler, 'reason', 'unknown')}); train without fused")


def flat(x: Tensor, written: bool = True) -> Tensor:
    """A group tensor as [rows, R] (the one rank every compiled kernel sees): a view of a tensor the kernel writes
    (weights, state: contiguous, so a view exists), a view or a copy of one it only reads (`written=False`)."""
    return x.view(x.shape[0], -1) if written else x.reshape(x.shape[0], -1)


_RULES: dict[str, Rule] = {}
_ENGINE: dict[str, dict[str, str]] = {}


def register_rule(rule: Rule) -> Rule:
    """Register (or replace) a rule under `rule.name`; returns it."""
    if not rule.name or not isinstance(rule.name, str):
        raise ConfigError("a rule needs a non-empty name")
    _RULES[rule.name] = rule
    return rule


def unregister_rule(name: str) -> None:
    _RULES.pop(name, None)


BUILT_IN_PREFIX = "synthetic.rules."


def rule_identity(rule: Rule) -> str | None:
    """A rule of the package: its `version`, or None (ENGINE_VERSION covers it). Another rule: the `version` it, its
    own class or an ancestor outside the package declares, else the sha256 of its class's source (its module and
    qualified name where the source cannot be read), so that a subclass of a package rule that edits it is never
    served the old cached numbers under the version it inherited."""
    cls = type(rule)
    if cls.__module__.startswith(BUILT_IN_PREFIX):
        return None if rule.version is None else f"v{rule.version}"
    owner = rule if "version" in vars(rule) else next((c for c in cls.__mro__ if "version" in vars(c)), Rule)
    if rule.version is not None and not owner.__module__.startswith(BUILT_IN_PREFIX) and owner is not Rule:
        return f"v{rule.version}"
    import hashlib
    import inspect

    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        source = f"{cls.__module__}.{cls.__qualname__}"
    return "src" + hashlib.sha256(source.encode()).hexdigest()[:16]


def get_rule(name: str) -> Rule:
    try:
        return _RULES[name]
    except KeyError:
        raise ConfigError(f"unknown update rule {name!r}; known: {', '.join(sorted(_RULES))}") from None


def rule_names() -> tuple[str, ...]:
    return tuple(_RULES)


def register_engine_optimizer(name: str, roles: str | Mapping[str, str], *, biases: str | None = None) -> dict[str, str]:
    """An engine optimizer as data: `roles` a rule name for every role, or a map role -> rule name; `biases` (with a
    single rule name) the rule for the bias roles (a matrix rule trains biases with AdamW). Returns the role map."""
    if isinstance(roles, str):
        mapping = {r: roles for r in WEIGHT_ROLES}
        mapping.update({r: biases or roles for r in BIAS_ROLES})
    else:
        mapping = dict(roles)
    missing = [r for r in ALL_ROLES if r not in mapping]
    if missing:
        raise ConfigError(f"engine optimizer {name!r} has no rule for {', '.join(missing)}")
    for rule in mapping.values():
        get_rule(rule)
    _ENGINE[name] = mapping
    return dict(mapping)


def unregister_engine_optimizer(name: str) -> None:
    _ENGINE.pop(name, None)


def engine_optimizer_names() -> tuple[str, ...]:
    return tuple(_ENGINE)


def role_rules(optimizer: str) -> dict[str, str]:
    """Update rule name per role for an engine optimizer."""
    try:
        return dict(_ENGINE[optimizer])
    except KeyError:
        raise ConfigError(f"unknown optimizer {optimizer!r}; expected one of {', '.join(_ENGINE)}") from None


class _Registration:
    """A rule and/or engine optimizer registered for the duration of a `with` block (tests, worked examples)."""

    def __init__(self, rules: tuple[Rule, ...], engine: tuple) -> None:
        self.rules, self.engine = rules, engine

    def __enter__(self) -> "_Registration":
        self._saved_rules = {r.name: _RULES.get(r.name) for r in self.rules}
        self._saved_engine = {n: _ENGINE.get(n) for n, _, _ in self.engine}
        for r in self.rules:
            register_rule(r)
        for n, roles, biases in self.engine:
            register_engine_optimizer(n, roles, biases=biases)
        return self

    def __exit__(self, *exc) -> None:
        for n, old in self._saved_engine.items():
            _ENGINE.pop(n, None) if old is None else _ENGINE.__setitem__(n, old)
        for n, old in self._saved_rules.items():
            _RULES.pop(n, None) if old is None else _RULES.__setitem__(n, old)


def registered(rules: tuple[Rule, ...] = (), engine: tuple = ()) -> _Registration:
    """Context manager: `with registered((MyRule(),), (("mine", "mine", "adamw"),)):` registers a rule and an engine
    optimizer (name, roles, biases) and restores the registry on exit."""
    return _Registration(tuple(rules), tuple(engine))
