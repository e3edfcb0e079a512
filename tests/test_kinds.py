"""Every layer kind in every table: words, rule, provers, reference forms; a gap is caught."""

from __future__ import annotations

import pytest

from symbp.proofs.run import STAGE_PROVERS, proof_tasks, prove_all
from symbp.spec.model import ConvBlock, NetworkSpec
from symbp.symbolic.derivation import derive
from symbp.symbolic.layers import LAYER_RULES


def test_every_kind_of_the_rule_table_says_which_provers_it_calls_for() -> None:
    assert set(STAGE_PROVERS) == set(LAYER_RULES)


def test_a_kind_missing_from_the_table_stops_the_proofs(monkeypatch: pytest.MonkeyPatch) -> None:
    d = derive(NetworkSpec(input_shape=(5, 5), blocks=(ConvBlock(filter_shape=(2, 2)),)))
    monkeypatch.delitem(STAGE_PROVERS, "maxpool")
    with pytest.raises(KeyError, match="maxpool"):
        proof_tasks(d)


@pytest.mark.parametrize(
    "block, expected",
    [
        # the backward pass's order, as the document cites them: the pool before the ReLU
        (ConvBlock(filter_shape=(2, 2)), ["ties", "relu0"]),
        (ConvBlock(filter_shape=(2, 2), pool_stride=1), ["ties", "max-accumulate", "relu0"]),
        (ConvBlock(filter_shape=(2, 2), pool_type="avg"), ["avg-spread", "relu0"]),
        (ConvBlock(filter_shape=(2, 2), activation="tanh", pool_type="none"), ["tanh"]),
    ],
)
def test_each_stage_gets_its_kinds_proofs(block: ConvBlock, expected: list[str]) -> None:
    d = derive(NetworkSpec(input_shape=(5, 5), blocks=(block,)))
    keys = [proof.key for proof in prove_all(d, full_composition=False)]
    assert keys == ["head", "stable-loss", *expected, "dB1", "dW1", "dX"]


def test_every_kind_has_its_words_and_its_rule() -> None:
    from symbp.spec.kinds import KINDS

    assert set(KINDS) == set(LAYER_RULES)
    for name, kind in KINDS.items():
        assert kind.title and "{o}" in kind.pipeline, name
        assert LAYER_RULES[name].title == kind.title


def test_the_full_composition_runs_only_for_piecewise_linear_activations() -> None:
    relu = derive(NetworkSpec(input_shape=(5, 5), filter_shape=(2, 2)))
    tanh = derive(NetworkSpec(input_shape=(5, 5), filter_shape=(2, 2), activation="tanh"))
    assert "composition" in [p.key for p in prove_all(relu)]
    assert "composition" not in [p.key for p in prove_all(tanh)]


def test_every_activation_and_pool_has_its_reference_forms() -> None:
    """The independent references implement every kind the spec admits (their own tables)."""
    from symbp.reference.engine import ACTIVATION_LAYERS, POOL_LAYERS
    from symbp.reference.torch_oracle import TORCH_ACTIVATIONS, TORCH_POOLS
    from symbp.spec.kinds import ACTIVATIONS, POOL_KINDS

    assert set(ACTIVATION_LAYERS) == set(TORCH_ACTIVATIONS) == set(ACTIVATIONS)
    assert set(POOL_LAYERS) == set(TORCH_POOLS) == set(POOL_KINDS)
