"""The skeleton's two models: the MLP autoencoder discriminates, the random baseline does not."""
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from tsadbench.datasets.preprocessing import prepare
from tsadbench.datasets.synthetic import SyntheticSpec, generate_synthetic
from tsadbench.zoo import UnknownModelError, get_model
from tsadbench.zoo.base import ModelConfigError


@pytest.fixture(scope="module")
def synthetic():
    return prepare("synthetic", [generate_synthetic(SyntheticSpec(seed=0)).arrays])


def _trained(name, data, epochs, **config):
    cls = get_model(name)
    model = cls(data.n_channels, cls.Config.from_dict(config), seed=0)
    for _ in range(epochs):
        model.train_epoch(data.train)
    return model


def test_autoencoder_roc_auc_is_clearly_above_the_random_baseline(synthetic):
    autoencoder = _trained("mlp_autoencoder", synthetic, epochs=6)
    random = _trained("random", synthetic, epochs=1)
    learned = roc_auc_score(synthetic.labels, autoencoder.score(synthetic.test))
    chance = roc_auc_score(synthetic.labels, random.score(synthetic.test))
    assert abs(chance - 0.5) < 0.05
    assert learned > 0.7 and learned - chance > 0.2, (learned, chance)


def test_training_lowers_the_validation_loss(synthetic):
    cls = get_model("mlp_autoencoder")
    model = cls(synthetic.n_channels, cls.Config(), seed=0)
    before = model.validation_loss(synthetic.val)
    for _ in range(3):
        model.train_epoch(synthetic.train, max_windows=1024)
    assert model.validation_loss(synthetic.val) < 0.5 * before


def test_checkpoint_state_resumes_exactly(synthetic):
    cls = get_model("mlp_autoencoder")
    straight = cls(synthetic.n_channels, cls.Config(), seed=1)
    for _ in range(2):
        straight.train_epoch(synthetic.train, max_windows=512)
    first = cls(synthetic.n_channels, cls.Config(), seed=1)
    first.train_epoch(synthetic.train, max_windows=512)
    resumed = cls(synthetic.n_channels, cls.Config(), seed=99)
    resumed.load_state_dict(first.state_dict())
    resumed.train_epoch(synthetic.train, max_windows=512)
    np.testing.assert_allclose(resumed.score(synthetic.test), straight.score(synthetic.test), rtol=1e-6)
    assert resumed.epochs_trained == 2


def test_scores_are_deterministic_and_one_per_point(synthetic):
    model = _trained("mlp_autoencoder", synthetic, epochs=1)
    first, second = model.score(synthetic.test), model.score(synthetic.test)
    assert first.shape == (synthetic.test.shape[0],)
    np.testing.assert_array_equal(first, second)


def test_bad_inputs_are_refused_with_the_fix(synthetic):
    with pytest.raises(UnknownModelError, match="unknown model 'nope': known models are .*mlp_autoencoder"):
        get_model("nope")
    cls = get_model("mlp_autoencoder")
    with pytest.raises(ModelConfigError, match=r"no hyperparameter\(s\) \['dmodel'\]"):
        cls.Config.from_dict({"dmodel": 3})
    with pytest.raises(ModelConfigError, match="lr > 0"):
        cls.Config.from_dict({"lr": -1.0})
    model = cls(synthetic.n_channels, cls.Config(win_size=32), seed=0)
    with pytest.raises(ValueError, match=r"shorter than win_size=32: choose win_size <= 10"):
        model.score(synthetic.test[:10])
    with pytest.raises(ValueError, match="has 2 channels"):
        model.score(synthetic.test[:, :2])
    broken = synthetic.test.copy()
    broken[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.score(broken)
