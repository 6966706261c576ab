"""Reproduction profiles expand into the right runs, narrowed and configured as asked."""

from pathlib import Path

import pytest

from bench import methods as registry
from bench import profiles


def test_every_profile_loads_into_valid_configs():
    for name in profiles.names():
        plan = profiles.plan(name)
        assert plan.runs, name
        assert len({r.run_id for r in plan.runs}) == len(plan.runs)


def test_quick_trains_srpnet_the_ablation_rows_and_the_baselines():
    plan = profiles.plan("quick")
    assert {r.method for r in plan.runs} == {"srpnet", "srpnet-baseline", "srpnet+discriminator",
                                             "pennet", "glcic", "picnet",
                                             "telea", "navier-stokes", "biharmonic", "mean-fill"}
    assert all(r.dataset == "sample" and not plan.comparable for r in plan.runs)
    shared = {r.method: r.trained_by for r in plan.runs if r.trained_by}
    assert shared == {"srpnet-baseline": "quick-pennet-sample-64px"}  # one network, trained once
    assert all(r.config.train.validate_every for r in plan.runs)


def test_quick_gives_every_trained_method_one_budget():
    """Like for like: the same steps, batch and size, and one learning-rate rule (each method's own
    default, or one value for all); set once, in base.train (the lead tunes them there)."""
    plan = profiles.plan("quick")
    trained = [r for r in plan.runs if not registry.entry(r.method).training_free]
    assert {r.method for r in trained} == {"srpnet", "srpnet-baseline", "srpnet+discriminator", "pennet",
                                           "glcic", "picnet"}
    budgets = {(r.config.train.iterations, r.config.train.batch_size, r.config.data.size,
                r.config.method.options.get("lr")) for r in trained}
    assert len(budgets) == 1, budgets
    raw = profiles.read("quick")
    assert not [m for m, entry in raw.get("per_method", {}).items() if "train" in entry]


def test_learn_trains_srpnet_and_pennet_with_one_recipe_whose_departures_are_stated():
    """The learn profile: SRPNet and PEN-Net (srpnet-baseline trained once, in pennet's run) under
    one budget and one recipe, beside the four references; every departure its recipe makes is
    stated by the methods themselves."""
    from bench.method import MethodSpec

    plan = profiles.plan("learn")
    trained = [r for r in plan.runs if not registry.entry(r.method).training_free]
    assert {r.method for r in trained} == {"srpnet", "srpnet-baseline", "pennet"}
    assert {r.method: r.trained_by for r in trained}["srpnet-baseline"] == "learn-pennet-sample-64px"
    assert len({(r.config.train.iterations, r.config.train.batch_size, r.config.data.size,
                 r.config.data.train_zoom, tuple(sorted(r.config.method.options.items()))) for r in trained}) == 1
    assert {r.method for r in plan.runs} - {r.method for r in trained} == {"telea", "navier-stokes", "biharmonic",
                                                                          "mean-fill"}
    for run in trained:
        if run.config.method.options:
            spec = MethodSpec(image_size=run.config.data.size, options=run.config.method.options)
            stated = [line for line in registry.create(run.method, spec).departures() if "this run's recipe" in line]
            assert len(stated) == len(run.config.method.options), stated


def test_a_run_is_shared_only_with_the_same_network_under_the_same_settings(tmp_path, monkeypatch):
    alone = profiles.plan("quick", methods=["srpnet-baseline"])
    assert [r.trained_by for r in alone.runs] == [None]  # pennet not planned: trained itself
    assert not any(r.trained_by for r in profiles.plan("paper").runs)  # pennet: released weights
    monkeypatch.setattr(profiles, "CONFIG_DIR", tmp_path)
    (tmp_path / "twins.yaml").write_text("datasets: [sample]\nmethods: [srpnet-baseline, pennet]\n")
    assert [r.trained_by for r in profiles.plan("twins").runs] == ["twins-pennet-sample-256px", None]
    (tmp_path / "twins.yaml").write_text("datasets: [sample]\nmethods: [srpnet-baseline, pennet]\n"
                                         "per_method: {pennet: {train: {iterations: 7}}}\n")
    assert [r.trained_by for r in profiles.plan("twins").runs] == [None, None]


def test_paper_profile_follows_the_protocol_and_shares_runs_with_the_ablation():
    paper = profiles.plan("paper")
    ablation = profiles.plan("ablation")
    assert len(paper.runs) == 6 * 4 + 2 * 2  # every method (and 2 references) on every dataset, + Table 5's two
    for run in paper.runs:
        assert run.config.data.size == 256
        if run.config.run.recipe == "paper":  # SRPNet and its ablation rows: the paper's settings
            assert run.config.train.batch_size == 64 and run.release is None
    iterations = {r.dataset: r.config.train.iterations for r in paper.runs if r.method == "srpnet"}
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


def test_paper_profile_plan_trains_evaluates_from_weights_and_labels_each_recipe():
    paper = profiles.plan("paper")
    plan = {(r.method, r.dataset): (r.release, r.config.run.recipe) for r in paper.runs}
    for dataset in ("dtd", "facade", "celeba-hq", "places2"):
        assert plan["srpnet", dataset] == (None, "paper")  # trained, the paper's settings
        assert plan["pennet", dataset] == (f"pennet-{dataset}", "authors")  # its own release per dataset
        assert plan["picnet", dataset] == (None, "authors")  # trained with its authors' recipe
    glcic = {d: plan["glcic", d][0] for d in ("dtd", "facade", "celeba-hq", "places2")}
    assert glcic == {"dtd": "glcic-places2", "facade": "glcic-places2", "celeba-hq": "glcic-celeba",
                     "places2": "glcic-places2"}
    notes = {p.method: " ".join(p.notes) for p in paper.protocols}
    assert "places2 for DTD, Facade and Places2, celeba for CelebA-HQ" in notes["glcic"]
    said = {p.method: p.paper_says for p in paper.protocols}
    paper_text = (Path(__file__).parents[1] / "shared" / "paper" / "srpnet-paper.txt")
    paper_text = paper_text if paper_text.is_file() else Path("/work/shared/paper/srpnet-paper.txt")
    if paper_text.is_file():  # the quotes are the paper's own words
        text = " ".join(paper_text.read_text().split())
        assert all(sentence in text for sentence in said.values())
    assert said["pennet"] == "We used the officially proposed pretraining model for testing."
    released = next(r for r in paper.runs if r.release == "pennet-dtd")
    assert released.released_id == "paper-pennet-dtd-256px-released"
    assert released.released_config().run.recipe is None


def test_picnet_authors_recipe_is_their_code_defaults():
    run = next(r for r in profiles.plan("paper").runs if r.method == "picnet")
    data, train, options = run.config.data, run.config.train, run.config.method.options
    assert (data.train_masks, data.train_resize_crop, data.train_rotation) == ("pluralistic", 266, 3)
    assert not data.mask_augment and not data.color_jitter
    assert train.batch_size == 8  # options/base_options.py batchSize
    assert options["lr"] == 1e-4 and list(options["betas"]) == [0.0, 0.999]
    assert (options["lambda_kl"], options["lambda_rec"], options["gan_type"]) == (20.0, 20.0, "lsgan")
    assert (options["samples"], options["selection"]) == (50, "best-of-N")  # test.py nsampling, evaluation.py


def test_glcic_authors_recipe_and_the_uniform_profile():
    glcic = next(r for r in profiles.plan("paper").runs if r.method == "glcic")
    assert glcic.config.data.train_masks == "rectangle" and glcic.config.train.batch_size == 96
    assert glcic.config.train.iterations == 500000
    assert list(glcic.config.method.options["phase_proportions"]) == [90000, 10000, 400000]
    uniform = profiles.plan("uniform")
    assert {r.method for r in uniform.runs} == {"srpnet", "pennet", "glcic", "picnet", "telea", "mean-fill"}
    for run in uniform.runs:  # one recipe: same masks, batch and budget for every method
        assert run.release is None and run.config.run.recipe == "uniform"
        assert (run.config.data.train_masks, run.config.train.batch_size) == ("mixed", 64)
    budgets = {(r.dataset, r.config.train.iterations) for r in uniform.runs}
    assert len(budgets) == 4


def test_a_bad_recipe_label_or_a_dataset_without_release_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(profiles, "CONFIG_DIR", tmp_path)
    (tmp_path / "bad.yaml").write_text("datasets: [dtd]\nmethods: [pennet]\nrecipe: mine\n")
    with pytest.raises(profiles.ProfileError, match="recipe: bad value 'mine'"):
        profiles.plan("bad")
    (tmp_path / "gap.yaml").write_text("datasets: [dtd, facade]\nmethods: [pennet]\n"
                                       "per_method: {pennet: {release: {dtd: pennet-dtd}}}\n")
    with pytest.raises(profiles.ProfileError, match="per_method.pennet.release names no release for facade"):
        profiles.plan("gap")
