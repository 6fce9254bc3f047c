"""Every built-in detector passes the conformance check (tiny configs: its search space's smoke values)."""
import pytest

from tsadbench.zoo import MODELS, get_model
from tsadbench.zoo.cli import check_values
from tsadbench.zoo.conformance import CHECKS, check_detector, series_lengths
from tsadbench.zoo.plugins import plugin_folder

BUILT_IN = sorted(name for name in MODELS if plugin_folder(name) is None and MODELS[name].__module__.startswith("tsadbench."))


def test_every_builtin_model_is_checked():
    assert {"anomaly_transformer", "transmamba", "stformer", "dual_stf", "twavefussion", "slmr", "mlp_autoencoder",
            "random", "one_liner"} <= set(BUILT_IN)


@pytest.mark.parametrize("model", BUILT_IN)
def test_builtin_model_passes_check(model):
    values, origin = check_values(model)
    results = check_detector(get_model(model), values)
    assert [r.check for r in results] == list(CHECKS)
    failed = [r.line(model) for r in results if not r.passed]
    assert not failed, f"{origin}: {failed}"


def test_the_lengths_include_a_tail_no_window_fits():
    assert series_lengths(50, 50) == (50, 126, 257)
    assert all(length % 50 for length in series_lengths(50, 50)[1:])
