"""Reproduction profiles expand into the right runs, narrowed and configured as asked."""

import pytest

from bench import profiles


def test_every_profile_loads_into_valid_configs():
    for name in profiles.names():
        plan = profiles.plan(name)
        assert plan.runs, name
        assert len({r.run_id for r in plan.runs}) == len(plan.runs)


def test_quick_trains_srpnet_the_ablation_rows_and_the_baselines():
    plan = profiles.plan("quick")
    assert {r.method for r in plan.runs} == {"srpnet", "srpnet-baseline", "srpnet+discriminator",
                                             "pennet", "glcic", "picnet"}
    assert all(r.dataset == "sample" and not plan.comparable for r in plan.runs)


def test_paper_profile_follows_the_protocol_and_shares_runs_with_the_ablation():
    paper = profiles.plan("paper")
    ablation = profiles.plan("ablation")
    assert len(paper.runs) == 4 * 4 + 2 * 2  # every method on every dataset, plus Table 5's two extra rows
    for run in paper.runs:
        assert run.config.data.size == 256 and run.config.train.batch_size == 64
    iterations = {r.dataset: r.config.train.iterations for r in paper.runs}
    assert iterations == {"dtd": 330000, "facade": 200000, "celeba-hq": 330000, "places2": 1000000}
    assert {r.run_id for r in ablation.runs} <= {r.run_id for r in paper.runs}
    shared = {r.run_id: r.config for r in paper.runs}
    for run in ablation.runs:
        assert shared[run.run_id] == run.config  # same config, so the same run folder serves both


def test_filters_overrides_and_data_root(tmp_path):
    (tmp_path / "facade").mkdir()
    plan = profiles.plan("paper", data_root=tmp_path, datasets=["facade", "dtd"], methods=["glcic"],
                         overrides=["train.iterations=7"])
    assert [(r.method, r.dataset) for r in plan.runs] == [("glcic", "dtd"), ("glcic", "facade")]
    roots = {r.dataset: r.config.data.root for r in plan.runs}
    assert roots == {"dtd": str(tmp_path), "facade": str(tmp_path / "facade")}
    assert all(r.config.train.iterations == 7 for r in plan.runs)


def test_unknown_names_are_errors():
    with pytest.raises(profiles.ProfileError, match="unknown profile 'fast'"):
        profiles.plan("fast")
    with pytest.raises(profiles.ProfileError, match="no method 'lama'"):
        profiles.plan("quick", methods=["lama"])
    with pytest.raises(ValueError, match="train.iterationz"):
        profiles.plan("quick", overrides=["train.iterationz=3"])
