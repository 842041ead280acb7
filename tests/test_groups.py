"""synthetic.groups: every parameter-dict key the model builds parses to its typed identity and back, with the role
theory gives it, and the layer names records use."""

import pytest

from synthetic.config import ModelConfig
from synthetic.groups import Group, bias_groups, weight_groups
from synthetic.models import param_shapes


@pytest.mark.parametrize("k", [1, 2, 3])
def test_every_model_key_round_trips(k):
    shapes = param_shapes(ModelConfig(width=8, depth=5, k=k, d_in=4, d_out=2, bias=True))
    assert list(shapes) == [g.key for g in weight_groups(k)] + [g.key for g in bias_groups(k)]
    for key, shape in shapes.items():
        g = Group.of(key)
        assert g.key == key
        assert g.is_bias == (len(shape) == 1 + g.stacked_over_blocks)     # a bias is a vector per (run, block)
        assert g.stacked_over_blocks == (shape[0] == 5)                     # depth 5: no other dim is 5


def test_identity_fields_and_layer_names():
    assert Group.of("hidden.2") == Group("hidden", 2) and Group.of("hidden_bias.1") == Group("hidden_bias", 1)
    assert Group("hidden", 2).layer_names(3) == ["block1.2", "block2.2", "block3.2"]
    assert Group("hidden_bias", 1).layer_names(2) == ["block1.bias1", "block2.bias1"]
    assert Group("input").layer_names(5) == ["input"] and not Group("output").is_bias


@pytest.mark.parametrize("role, index", [("hidden", None), ("input", 1), ("attention", None)])
def test_impossible_identities_are_refused(role, index):
    with pytest.raises(ValueError):
        Group(role, index)
