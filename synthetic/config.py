"""Frozen run configurations for the synthetic engine, with canonical JSON and validation.

`RunConfig.bucket_key()` groups runs that can be trained as one stacked model: everything except `base`, `seed`,
`parameterization`, `schedule` (those only change per-run numbers, never shapes or code paths) and the depth (runs of
one width and different depths share a ragged bucket, synthetic.models.BlockLayout).

A `"cifar10"` run is keyed by its data, not by where it lies: `to_dict()` (and so the canonical JSON, the run id and
the bucket key) carries `data.data_sha256` (synthetic.data.cifar10_digest of the batch files) in place of
`data.data_dir`, so the same folder reached by another path is the same run, and changed batch files are another.
"""

from __future__ import annotations

import functools
import math
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal, get_args

from theory.bridge import BaseHP
from theory.roles import Parameterization

from synthetic.errors import ConfigError
from synthetic.quantities import QUANTITY_NAMES
from synthetic.schedule import ScheduleConfig

Activation = Literal["identity", "relu", "gelu"]
NormKind = Literal["none", "rms", "layer"]
LossKind = Literal["mse", "bce", "ce"]
DType = Literal["float32", "float64"]
DataKind = Literal["teacher_regression", "teacher_classification", "two_class_standin", "cifar10"]
InputKind = Literal["dense", "one_hot"]

QUANTITIES = QUANTITY_NAMES
"""The measurement names a run may ask for: a live view of synthetic.quantities' registry, so a quantity registered
later is accepted too."""


@dataclass(frozen=True)
class ModelConfig:
    """Stacked residual MLP: input map, `depth` blocks of `k` maps, output map (see synthetic.models)."""

    width: int
    depth: int
    k: int = 2
    d_in: int = 32
    d_out: int = 1
    activation: Activation = "relu"
    act_after_input: bool = False
    act_after_branch: bool = False
    norm: NormKind = "none"
    bias: bool = False
    hidden_ratio: float = 1.0
    input_kind: InputKind = "dense"
    final_norm: bool = False
    """Normalize h_L (no learnable parameters) before the output map: the `norm` kind, or RMSNorm when `norm` is
    "none". With pre-norm blocks this makes every map writing into the residual stream scale-invariant (Fan et al.'s
    final norm before the readout)."""

    @property
    def final_norm_kind(self) -> NormKind:
        """The norm applied to h_L before the output map ("none" without `final_norm`)."""
        if not self.final_norm:
            return "none"
        return self.norm if self.norm != "none" else "rms"

    @classmethod
    def eq28(cls, width: int, depth: int, d_in: int = 3072, d_out: int = 1) -> "ModelConfig":
        """Zheng et al. Eq. 28: h0 = α0 φ(W0 x), h_l = h_{l-1} + α_l φ(W2 φ(W1 h_{l-1})), out = α W h_L (ReLU, no bias)."""
        return cls(width=width, depth=depth, k=2, d_in=d_in, d_out=d_out, activation="relu", act_after_input=True,
                   act_after_branch=True, norm="none", bias=False)

    @property
    def hidden_width(self) -> int:
        """Inner width n_l of a block (between its maps)."""
        return max(1, round(self.width * self.hidden_ratio))

    @property
    def n_params(self) -> int:
        """Trainable numbers of one run (weights, and biases when present)."""
        n, nh, L, k = self.width, self.hidden_width, self.depth, self.k
        dims = [n] + [nh] * (k - 1) + [n]
        count = self.d_in * n + L * sum(dims[i] * dims[i + 1] for i in range(k)) + n * self.d_out
        if self.bias:
            count += n + L * sum(dims[1:])
        return count


@dataclass(frozen=True)
class RuleSettings:
    """One engine rule's own Θ(1) constants inside a hybrid optimizer (App. E's Shampoo-AdamW trains its AdamW part
    with 2·η_base and β = (0.9, 0.95)): `betas` in place of the optimizer's (None: keep them), and factors on the
    lr and ε that theory.bridge gives the roles this rule trains (the base values' Θ(1) part; exponents unchanged)."""

    rule: str
    betas: tuple[float, float] | None = None
    lr_factor: float = 1.0
    eps_factor: float = 1.0


@dataclass(frozen=True)
class OptimConfig:
    """Optimizer family and its Θ(1) constants; lr, wd and eps come from theory.bridge per role."""

    name: str = "adamw"
    """An engine optimizer registered in synthetic.rules (`engine_optimizer_names()`)."""
    momentum: float = 0.0
    nesterov: bool = False
    betas: tuple[float, float] = (0.9, 0.999)
    ns_steps: int = 5
    fused: bool = False
    """The element-wise rules (AdamW, SGD, Lion) update each group in one compiled kernel (torch.compile; needs a C++
    compiler on a CPU) instead of the eager, tiled passes. Same formulas; the last bits differ (the compiler reorders
    and replaces divisions by constants), so it is part of the run's identity. BENCHMARKS.md has its speed."""
    one_pass: bool = False
    """AdamW's groups updated in one pass per tensor by torch's fused AdamW kernel (synthetic.one_pass; eager, no
    compiler; on a CPU from torch 2.4) instead of the eager, tiled passes; the other rules of a hybrid keep theirs.
    Same formulas; the last bits differ, so it is part of the run's identity. BENCHMARKS.md has its speed."""
    rho: float = 0.05
    """Sophia's clip scale ρ (App. E), a rule setting and so part of the run's identity."""
    hessian_every: int = 10
    """Steps between Sophia's Hessian-diagonal estimates (App. E's k), from step 0."""
    rule_settings: tuple[RuleSettings, ...] = ()
    """Per engine rule of a hybrid (synthetic.rules.role_rules), its own constants; a rule not listed keeps these."""

    def for_rule(self, rule: str) -> "OptimConfig":
        """The constants a rule reads: these, with the rule's own `betas` where `rule_settings` names it."""
        own = next((r for r in self.rule_settings if r.rule == rule), None)
        if own is None or own.betas is None:
            return self
        return replace(self, betas=tuple(own.betas))

    def factors(self, rule: str) -> tuple[float, float]:
        """(lr factor, ε factor) of a rule (1, 1 unless `rule_settings` names it)."""
        own = next((r for r in self.rule_settings if r.rule == rule), None)
        return (1.0, 1.0) if own is None else (own.lr_factor, own.eps_factor)


@dataclass(frozen=True)
class DataConfig:
    """What synthetic.data serves; `n_train=None` means a fresh batch every step."""

    kind: DataKind = "teacher_regression"
    n_train: int | None = None
    n_test: int = 512
    teacher_rank: int = 8
    noise: float = 0.1
    n_classes: int = 2
    data_dir: str | None = None
    """Folder with the CIFAR-10 python batches (kind "cifar10"); read for loading, keyed by content (`to_dict`)."""


OPTIONAL_DEFAULTS: tuple[tuple[tuple[str, ...], Any], ...] = ((("model", "final_norm"), False),
                                                             (("decay_roles",), None),
                                                             (("base", "sigma2_input"), None),
                                                             (("schedule",), asdict(ScheduleConfig())),
                                                             (("optim", "fused"), False),
                                                             (("optim", "one_pass"), False),
                                                             (("optim", "rho"), 0.05),
                                                             (("optim", "hessian_every"), 10),
                                                             (("optim", "rule_settings"), []))
"""(path in `RunConfig.to_dict()`, default) of fields omitted from the canonical JSON at their default."""


def _key_data_dir(data: dict[str, Any]) -> None:
    """Replace a "cifar10" `data_dir` by `data_sha256`, the content digest of its batch files, so the run id follows
    the data rather than the path string; raises DataError when the folder does not exist."""
    if data["kind"] != "cifar10" or not data["data_dir"]:
        return
    from synthetic.data import cifar10_digest

    data["data_sha256"] = cifar10_digest(data.pop("data_dir"))


def _data_from_dict(data: dict[str, Any]) -> DataConfig:
    data = dict(data)
    data.pop("data_sha256", None)
    return DataConfig(**data)


def _tuple(x: Any) -> tuple:
    return tuple(x) if isinstance(x, (list, tuple)) else (x,)


@dataclass(frozen=True)
class RunConfig:
    """One training run. Runs with equal `bucket_key()` train together in one stacked model."""

    model: ModelConfig
    optim: OptimConfig = field(default_factory=OptimConfig)
    parameterization: Parameterization = "mup_k2"
    base: BaseHP = field(default_factory=BaseHP)
    data: DataConfig = field(default_factory=DataConfig)
    loss: LossKind = "mse"
    steps: int = 100
    batch_size: int = 64
    seed: int = 0
    dtype: DType = "float32"
    measure_at: tuple[int, ...] = ()
    measurements: tuple[str, ...] = ("loss",)
    measure_layers: tuple[str, ...] = ()
    bias_init_zero: bool = True
    decay_roles: tuple[str, ...] | None = None
    """None: the bridge's weight decay on every role. Otherwise a mask: only the listed roles (theory.roles names) get
    the bridge's λ, every other role λ = 0 (Fan et al.'s λ1 = 0 for vector-like parameters: ("hidden",))."""
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    """The learning-rate schedule (synthetic.schedule); per run, so runs of one bucket may differ in it."""

    def to_dict(self) -> dict[str, Any]:
        """Canonical JSON-able dict (tuples as lists, nested configs as dicts). Fields added after the first cached
        runs (`OPTIONAL_DEFAULTS`) are left out while at their default, so older configs keep their run ids. For kind
        "cifar10" the data folder enters by content (`_key_data_dir`)."""
        d = json.loads(self._fields_json)
        _key_data_dir(d["data"])
        return d

    @functools.cached_property
    def _fields_json(self) -> str:
        """JSON of the fields with the optional defaults left out, computed once per (immutable) config: `asdict`
        of the nested configs cost ~0.3 ms, paid twice per run by every bucket (run id and bucket key)."""
        d = json.loads(json.dumps(asdict(self)))
        for path, default in OPTIONAL_DEFAULTS:
            *parents, name = path
            owner = d
            for key in parents:
                owner = owner[key]
            if owner[name] == default:
                del owner[name]
        return json.dumps(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "RunConfig":
        """Inverse of `to_dict`; raises ConfigError on unknown or missing fields. A "cifar10" dict holds the data's
        digest, not its folder: the result has `data_dir=None` (set it to train)."""
        try:
            d = dict(d)
            model = ModelConfig(**d.pop("model"))
            o = dict(d.pop("optim", {}))
            if "betas" in o:
                o["betas"] = tuple(o["betas"])
            if "rule_settings" in o:
                o["rule_settings"] = tuple(RuleSettings(**{**r, "betas": None if r.get("betas") is None
                                                           else tuple(r["betas"])}) for r in o["rule_settings"])
            optim = OptimConfig(**o)
            base = BaseHP(**d.pop("base", {}))
            data = _data_from_dict(d.pop("data", {}))
            schedule = ScheduleConfig(**d.pop("schedule", {}))
            for name in ("measure_at", "measurements", "measure_layers"):
                if name in d:
                    d[name] = _tuple(d[name])
            if d.get("decay_roles") is not None:
                d["decay_roles"] = _tuple(d["decay_roles"])
            return cls(model=model, optim=optim, base=base, data=data, schedule=schedule, **d)
        except (TypeError, KeyError) as e:
            raise ConfigError(f"bad run config dict: {e}") from None

    def canonical_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def bucket_key(self) -> str:
        """Canonical JSON of every field except base, seed, parameterization, schedule and depth (per-run numbers;
        runs of different depths train in one ragged bucket, synthetic.models.BlockLayout)."""
        d = self.to_dict()
        for name in ("base", "seed", "parameterization"):
            d.pop(name)
        d.pop("schedule", None)
        d["model"].pop("depth")
        return json.dumps(d, sort_keys=True, separators=(",", ":"))

    def validate(self) -> "RunConfig":
        """Raise ConfigError with one clear line if this run cannot be trained; return self otherwise."""
        m, o = self.model, self.optim

        def choice(value: Any, lit: Any, what: str) -> None:
            allowed = get_args(lit)
            if value not in allowed:
                raise ConfigError(f"unknown {what} {value!r}; expected one of {', '.join(map(str, allowed))}")

        def positive_int(value: Any, what: str) -> None:
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"{what} must be a positive integer (got {value!r})")

        positive_int(m.width, "width")
        positive_int(m.depth, "depth")
        if isinstance(m.k, bool) or not isinstance(m.k, int) or m.k < 1:
            raise ConfigError(f"block depth k must be an integer >= 1 (got {m.k!r})")
        positive_int(m.d_in, "d_in")
        positive_int(m.d_out, "d_out")
        if not m.hidden_ratio > 0:
            raise ConfigError(f"hidden_ratio must be > 0 (got {m.hidden_ratio!r})")
        choice(m.activation, Activation, "activation")
        choice(m.norm, NormKind, "norm")
        choice(m.input_kind, InputKind, "input_kind")
        from synthetic.rules import engine_optimizer_names

        if o.name not in engine_optimizer_names():
            raise ConfigError(f"unknown optimizer {o.name!r}; expected one of {', '.join(engine_optimizer_names())}")
        if not 0.0 <= o.momentum < 1.0:
            raise ConfigError(f"momentum must be in [0, 1) (got {o.momentum!r})")
        if len(o.betas) != 2 or not all(0.0 <= b < 1.0 for b in o.betas):
            raise ConfigError(f"betas must be two numbers in [0, 1) (got {o.betas!r})")
        positive_int(o.ns_steps, "ns_steps")
        if o.nesterov and o.momentum == 0.0:
            raise ConfigError("nesterov needs momentum > 0")
        if isinstance(o.rho, bool) or not isinstance(o.rho, (int, float)) or not 0 < o.rho < math.inf:
            raise ConfigError(f"rho must be a finite number > 0 (got {o.rho!r})")
        positive_int(o.hessian_every, "hessian_every")
        from synthetic.rules import get_rule, role_rules

        rules_here = set(role_rules(o.name).values())
        if o.one_pass and o.fused:
            raise ConfigError("optim.one_pass and optim.fused are two ways of one update: choose one")
        if o.one_pass and not any(get_rule(r).has_one_pass for r in rules_here):
            raise ConfigError(f"optim.one_pass: no rule of {o.name!r} has a one-pass update "
                              f"(rules with one: {', '.join(_one_pass_rules())})")
        for rs in o.rule_settings:
            if not isinstance(rs, RuleSettings):
                raise ConfigError(f"rule_settings holds RuleSettings, got {rs!r}")
            if rs.rule not in rules_here:
                raise ConfigError(f"rule_settings names rule {rs.rule!r}, which {o.name!r} does not use "
                                  f"(it uses {', '.join(sorted(rules_here))})")
            if rs.betas is not None and (len(rs.betas) != 2 or not all(0.0 <= b < 1.0 for b in rs.betas)):
                raise ConfigError(f"betas of rule {rs.rule!r} must be two numbers in [0, 1) (got {rs.betas!r})")
            for what, v in (("lr_factor", rs.lr_factor), ("eps_factor", rs.eps_factor)):
                if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v < math.inf:
                    raise ConfigError(f"{what} of rule {rs.rule!r} must be a finite number > 0 (got {v!r})")
        choice(self.parameterization, Parameterization, "parameterization")
        choice(self.data.kind, DataKind, "data kind")
        choice(self.loss, LossKind, "loss")
        choice(self.dtype, DType, "dtype")
        self.schedule.validate(self.steps)
        if not isinstance(m.final_norm, bool):
            raise ConfigError(f"final_norm must be true or false (got {m.final_norm!r})")
        if self.decay_roles is not None:
            from theory.roles import ROLES

            if isinstance(self.decay_roles, str) or not isinstance(self.decay_roles, tuple):
                raise ConfigError(f"decay_roles must be a tuple of role names or None (got {self.decay_roles!r})")
            for role in self.decay_roles:
                if role not in ROLES:
                    raise ConfigError(f"unknown role {role!r} in decay_roles; expected some of {', '.join(ROLES)}")
        if self.loss == "bce" and m.d_out != 1:
            raise ConfigError(f"loss 'bce' needs d_out = 1 (got {m.d_out})")
        if self.loss == "ce" and m.d_out < 2:
            raise ConfigError(f"loss 'ce' needs d_out >= 2 classes (got {m.d_out})")
        positive_int(self.steps, "steps")
        positive_int(self.batch_size, "batch_size")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ConfigError(f"seed must be a non-negative integer (got {self.seed!r})")
        for t in self.measure_at:
            if isinstance(t, bool) or not isinstance(t, int) or not 0 <= t <= self.steps:
                raise ConfigError(f"measure_at step {t!r} is outside 0..steps={self.steps}")
        unknown = [q for q in self.measurements if q not in QUANTITIES]
        if unknown:
            raise ConfigError(f"unknown measurement {unknown[0]!r}; expected one of {', '.join(QUANTITIES)}")
        from synthetic.records import all_layer_names

        known = set(all_layer_names(m.depth, m.k, m.bias))
        bad = [name for name in self.measure_layers if name not in known]
        if bad:
            raise ConfigError(f"unknown layer {bad[0]!r} in measure_layers (depth {m.depth}, k {m.k}, bias {m.bias})")
        if any(q not in ("loss", "sigma1_pi") for q in self.measurements) and not self.measure_at:
            raise ConfigError("measurements other than 'loss' and 'sigma1_pi' need measure_at steps")
        return self


def _one_pass_rules() -> list[str]:
    from synthetic.rules import get_rule, rule_names

    return sorted(r for r in rule_names() if get_rule(r).has_one_pass)
