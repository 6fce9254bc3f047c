"""Cluster helpers that need no running cluster: the storage check, the shipped code, the ETA."""
from pathlib import Path

from tsadbench.tuning.cluster import code_package, storage_problem
from tsadbench.tuning.progress import TrialLinePrinter


def test_storage_check_refuses_a_local_path_on_several_nodes():
    assert storage_problem("/data/ray_results", nodes=1, declared_shared=False) is None
    assert storage_problem("s3://bucket/ray_results", nodes=4, declared_shared=False) is None
    assert storage_problem("/nfs/ray_results", nodes=4, declared_shared=True) is None
    problem = storage_problem("/data/ray_results", nodes=3, declared_shared=False)
    assert "3 nodes" in problem and "--shared-storage" in problem and "s3://" in problem


def test_code_package_ships_source_only(tmp_path):
    package = code_package(tmp_path)
    shipped = {p.relative_to(package).as_posix() for p in package.rglob("*") if p.is_file()}
    assert {"__init__.py", "tuning/trainable.py", "zoo/transmamba.py", "datasets/raw/smd.py",
            "search_spaces/transmamba.yaml", "results/published.yaml", "results/plots/timeline.py"} <= shipped
    assert not [p for p in shipped if p.startswith(("tests/", ".venv/", "ray_results/", "data/"))]
    assert all(Path(p).suffix in (".py", ".yaml") for p in shipped)


def test_status_line_counts_and_eta():
    printer = TrialLinePrinter("m__d", "val_loss", planned=10, printer=lambda line: None)
    assert printer.status_line(running=2, now=printer.started + 60).endswith("ETA unknown")
    printer.done, printer.failed = 3, 1
    line = printer.status_line(running=2, now=printer.started + 120)
    assert line == "[m__d] 3 done, 2 running, 1 failed of 10; 2.0 min elapsed, ETA 3.0 min"


def test_gpu_requests_are_dropped_only_on_a_cluster_without_gpus(tmp_path):
    from tsadbench.tuning.grids import GridSpec
    from tsadbench.tuning.runner import GridRequest, fit_to_cluster, plan_grid

    grid = GridSpec("g", "", models=("transmamba", "random"), datasets=("synthetic",), num_samples=1, max_concurrent=1)
    plan = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r"))
    assert [e.resources["gpu"] for e in plan.experiments] == [0.25, 0.0]
    assert fit_to_cluster(plan, {"CPU": 8, "GPU": 1}) == []
    assert [e.resources["gpu"] for e in plan.experiments] == [0.25, 0.0]
    assert fit_to_cluster(plan, {"CPU": 8}) == ["the cluster has no GPU: the trials of transmamba run on CPU"]
    assert [e.resources["gpu"] for e in plan.experiments] == [0.0, 0.0]
    overridden = plan_grid(GridRequest(grid=grid, storage=tmp_path, run_name="r", gpus_per_trial=0.5, cpus_per_trial=2))
    assert [e.resources for e in overridden.experiments] == [{"cpu": 2, "gpu": 0.5}] * 2


def test_status_lines_keep_coming_while_nothing_happens(monkeypatch):
    import pickle
    import time

    from tsadbench.tuning import progress

    monkeypatch.setattr(progress, "STATUS_EVERY_S", 0.05)
    lines = []
    printer = TrialLinePrinter("m__d", "val_loss", planned=2, printer=lines.append)
    printer.setup()
    printer.on_trial_start(0, [], type("T", (), {"trial_id": "a"})())
    time.sleep(0.3)
    printer.on_experiment_end([])
    time.sleep(0.1)
    seen = len(lines)
    time.sleep(0.2)
    assert seen >= 3 and len(lines) == seen
    assert all(line.startswith("[m__d] 0 done, 1 running, 0 failed of 2") for line in lines)
    assert pickle.loads(pickle.dumps(printer)).running == {"a"}


def test_a_printer_pickled_by_an_older_version_still_works():
    printer = TrialLinePrinter.__new__(TrialLinePrinter)
    printer.__setstate__({"experiment": "m__d", "objective_metric": "val_loss", "planned": 2, "printer": print})
    printer.on_trial_start(0, [], type("T", (), {"trial_id": "a"})())
    assert printer.running == {"a"} and printer.status_line(1, printer.started + 1).startswith("[m__d] 0 done")
