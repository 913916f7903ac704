"""One source of truth: the wires, the sigmoid, the output -> label rule and the default
mapping are each written once and used by every world."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from circuitsim import readout
from circuitsim.bptrain import twin as bp_twin
from circuitsim.bptrain.train import predict_labels as bp_labels
from circuitsim.crossbar import CrossbarSpec
from circuitsim.crossbar.wires import G_OPEN, Wires
from circuitsim.generators.neuron import NeuronCard
from circuitsim.mapping import DEFAULT_MAPPING, MappingConfig
from circuitsim.network import CircuitConfig, NetOutputs, build_network
from circuitsim.nn.train import predict
from circuitsim.nonideal import IRDrop
from circuitsim.xval import config as xval_config


def test_wire_fields_are_defined_once():
    names = [f.name for f in dataclasses.fields(Wires)]
    for cls in (CrossbarSpec, CircuitConfig, IRDrop):
        assert issubclass(cls, Wires)
        own = {f.name: f.default for f in dataclasses.fields(cls)}
        for f in dataclasses.fields(Wires):
            assert own[f.name] == f.default  # one default each (the ideal wire, 1 pS open)
    assert "g_open" in names and Wires().g_open == G_OPEN == IRDrop().g_open
    c = CircuitConfig(r_wire_row=1.5, r_wire_col=3.0, r_source=4.0, r_sense=2.0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 2))
    spec = build_network(model, c).crossbar_spec(build_network(model, c).plans[0])
    assert spec.wires == c.wires and IRDrop(**dataclasses.asdict(c.wires)).wires == c.wires


def test_one_sigmoid_everywhere():
    z = np.linspace(-800.0, 800.0, 1601)
    ref = readout.sigmoid(z)
    assert np.isfinite(ref).all() and ref[0] == 0.0 and ref[-1] == 1.0
    assert bp_twin._sigmoid is readout.sigmoid
    card = NeuronCard("sigmoid", "ideal", v_per_unit=0.25, v_full_scale=0.2)
    np.testing.assert_array_equal(card.activation_of(z), ref)
    np.testing.assert_allclose(readout.sigmoid(torch.as_tensor(z), xp=torch).numpy(),
                               torch.sigmoid(torch.as_tensor(z)).numpy(), atol=1e-15)


def test_one_label_rule_everywhere():
    rng = np.random.default_rng(0)
    for logits in (rng.normal(size=(50, 4)), rng.normal(size=(50, 1))):
        want = readout.predict_labels(logits)
        assert np.array_equal(NetOutputs([logits], logits).predict(), want)
        lin = torch.nn.Linear(len(logits), logits.shape[1]).double()
        with torch.no_grad():  # on the unit vectors its outputs are the logits themselves
            lin.weight.copy_(torch.as_tensor(logits.T))
            lin.bias.zero_()
        assert np.array_equal(predict(torch.nn.Sequential(lin), np.eye(len(logits))), want)
        # the sigmoid outputs of the BP twin: the same decision at 0.5
        assert np.array_equal(bp_labels(readout.sigmoid(logits)), want)


def test_one_default_mapping():
    assert MappingConfig() == DEFAULT_MAPPING
    d = DEFAULT_MAPPING.to_dict()
    assert {k: d[k] for k in xval_config.DEFAULT_MAPPING} == xval_config.DEFAULT_MAPPING
    net = build_network(torch.nn.Sequential(torch.nn.Linear(3, 2)))
    assert net.mapping == DEFAULT_MAPPING
