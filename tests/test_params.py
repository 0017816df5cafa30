import brainstate
import jax.numpy as jnp
import pytest

from trainer import rename_params
from trainer.core.params import param_values, set_param_values
from trainer.models import GainPopulation, RateRNN


class Net(brainstate.nn.Module):
    def __init__(self):
        super().__init__()
        self.node = GainPopulation(1, g=0.5)
        self.k = brainstate.nn.Param(2.0, t=brainstate.nn.SoftplusT(0.0), fit=True)
        self.frozen = brainstate.nn.Param(1.0, fit=False)


def test_paths_to_dotted_and_back():
    net = Net()
    raw = {('node', 'g', 'val'): 1.0, ('k', 'val'): 2.0}
    dotted = rename_params(raw, net)
    assert dotted == {'node.g': 1.0, 'k': 2.0}
    assert rename_params(dotted, net) == raw


def test_non_param_states_keep_their_path():
    net = RateRNN(2, 3, 2, cell='vanilla')
    keys = list(net.states(brainstate.ParamState))
    assert rename_params(dict.fromkeys(keys, 0), net) == {'cell.W.weight': 0, 'readout.weight': 0}


def test_unknown_name_lists_the_trainable_ones():
    with pytest.raises(KeyError, match=r"'frozen' is not a trainable parameter.*\['k', 'node.g'\]"):
        rename_params({'frozen': 1.0}, Net())


def test_values_are_constrained_and_settable():
    net = Net()
    values = param_values(net)
    assert set(values) == {'node.g', 'k'}
    # SoftplusT stores the unconstrained value; results report the physical one.
    assert float(values['k']) == pytest.approx(2.0, rel=1e-6)
    assert float(net.k.val.value) != pytest.approx(2.0)
    set_param_values(net, {'k': jnp.asarray(3.0)})
    assert float(net.k.value()) == pytest.approx(3.0, rel=1e-6)
