"""The attack suite: seeded and deterministic, each attack changes real
text, the ones normalization undoes are undone (and only those), nothing breaks on
empty or tiny input, and `fabscore evaluate --attacks` reports on a small real sample."""
from __future__ import annotations

import json

import pytest
from conftest import SHARED_DATA, small_sample

from fabscore.cli.commands import main as fabscore_main
from fabscore.text.normalize import normalize
from fabscore.training.data.attacks import ATTACKS, FAMILIES, degenerate, rewrite_sentences, select, synonyms

FAST_ATTACKS = [a for a in ATTACKS.values() if not a.slow]


@pytest.mark.parametrize("attack", FAST_ATTACKS, ids=lambda a: a.name)
def test_attack_is_deterministic_for_a_seed_and_changes_the_text(attack, seed_texts):
    text = seed_texts["machine"]
    once = attack(text, seed=3)
    assert once == attack(text, seed=3)
    assert once != text
    assert attack(text, seed=4) != once  # the seed matters


@pytest.mark.parametrize("attack", FAST_ATTACKS, ids=lambda a: a.name)
def test_undone_by_normalize_flag_is_true_exactly_when_normalize_undoes_it(attack, seed_texts):
    for text in seed_texts.values():
        for seed in (0, 1, 2):
            undone = normalize(attack(text, seed)) == normalize(text)
            assert undone == attack.undone_by_normalize, (attack.name, seed)


@pytest.mark.parametrize("name", ["homoglyphs", "invisible"])
def test_undone_attacks_leave_sentence_boundaries_alone(name, seed_texts):
    """Sentences are split on the original text, so normalize() alone was not enough:
    Cyrillic letters in 'gov.' or 'e.g.' moved pysbd's boundaries in 10 of 100 llmfake articles."""
    from fabscore.text.sentences import prepare

    texts = list(seed_texts.values()) + [r["text"] for r in small_sample(SHARED_DATA / "llmfake.clean.jsonl", 15)]
    texts.append("Cases rose in Maryland, Gov. Larry Hogan said on Sunday. Tests, e.g. antibody tests, lag behind.")
    for text in texts:
        for seed in (0, 1):
            attacked = ATTACKS[name](text, seed)
            assert [s.norm for s in prepare(attacked).sentences] == [s.norm for s in prepare(text).sentences]
            assert all(attacked[s.start:s.end] == s.text for s in prepare(attacked).sentences)


def test_the_undone_attacks_are_the_surface_ones():
    assert {a.name for a in ATTACKS.values() if a.undone_by_normalize} == {"homoglyphs", "invisible"}


@pytest.mark.parametrize("attack", FAST_ATTACKS, ids=lambda a: a.name)
@pytest.mark.parametrize("text", ["", " ", "Hi.", "Word", "One two. Three four!", "\n\n", "12345 678."])
def test_attack_survives_empty_and_tiny_text(attack, text):
    out = attack(text, seed=0)
    assert isinstance(out, str)
    if not text.strip():
        assert not out.strip()


def test_sentence_attacks_keep_every_kept_sentence_whole(seed_texts):
    text = " ".join(seed_texts["machine"].split())
    reordered = ATTACKS["sentence_reorder"](text, 0)
    assert sorted(reordered.split()) == sorted(text.split())  # same words, other order
    dropped = ATTACKS["sentence_drop"](text, 0)
    assert len(dropped) < len(text) and all(w in text.split() for w in dropped.split())


def test_synonyms_come_from_the_installed_thesaurus():
    assert "administration" in synonyms("government")
    assert synonyms("qzxvbnonword") == ()


def test_select_names_attacks_and_families():
    assert [a.name for a in select("char")] == ["char_typos", "char_spacing"]
    assert {a.name for a in select("fast")} == {a.name for a in FAST_ATTACKS}
    assert len(select("all")) == len(ATTACKS) and set(FAMILIES) >= {"char", "word", "sentence", "rewrite"}
    with pytest.raises(ValueError, match="unknown attack 'bogus'"):
        select("char,bogus")


def test_degenerate_rewrites_are_named():
    assert degenerate("The mayor spoke on Tuesday.", "") == "empty"
    assert degenerate("The mayor spoke on Tuesday.", "Sure! Here is the sentence:") == "refusal or preamble"
    assert degenerate("The R", "The R-R-S-S-S-S-S-S-S-S-S-S") == "repetition"
    for meta in ('The sentence is rephrased to: "The mayor spoke', "Rephrasing the sentence for a news article:"):
        assert degenerate("The mayor spoke on Tuesday about the city budget.", meta) == "refusal or preamble"
    assert degenerate("The mayor spoke on Tuesday.", "On Tuesday, the mayor gave a speech.") is None
    assert degenerate("Turnout was 1000000 voters.", "There were 1000000 voters.") is None


@pytest.mark.slow
def test_smollm2_rewrites_are_deterministic_and_one_per_sentence():
    sents = ["The city council approved a new budget for public schools on Tuesday.", "Parents asked for buses."]
    first = rewrite_sentences(sents, "paraphrase")
    assert len(first) == 2 and all(isinstance(s, str) for s in first)
    assert first == rewrite_sentences(sents, "paraphrase")


@pytest.mark.slow
def test_cli_evaluate_attacks_on_a_small_real_sample(tmp_path, feature_cache, capsys):
    """The shipped default model on 4 human and 4 machine llmfake articles (first 80 words)."""
    data = tmp_path / "small.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in small_sample(SHARED_DATA / "llmfake.clean.jsonl", 4, "atk")))
    out = tmp_path / "eval"
    code = fabscore_main(["evaluate", "--data", str(data), "--out", str(out), "--cache", str(feature_cache.root),
                     "--workers", "1", "--max-words", "80", "--attacks", "char_typos,homoglyphs,sentence_drop"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "attacks (attacked machine vs unattacked human" in captured.out  # with the other tables, on stdout
    rep = json.loads((out / "metrics.json").read_text())["attacks"]
    assert list(rep) == ["char_typos", "homoglyphs", "sentence_drop"]
    for name, e in rep.items():
        assert e["n_machine"] == 4 and e["n_failed"] == 0, name
        assert e["attacked"]["n_machine"] + e["n_machine_abstained"] == 4, name
        assert e["attacked"]["n_human"] == 4  # every human scored unattacked
        assert 0.0 <= e["attacked"]["auroc"] <= 1.0
        assert ("human" in e) == ATTACKS[name].keeps_human
    # normalization undoes homoglyphs: the model sees the same text
    assert abs(rep["homoglyphs"]["machine_mean_score_shift"]) < 1e-6
    assert rep["homoglyphs"]["human"]["mean_score_shift"] == pytest.approx(0.0, abs=1e-6)
    assert rep["char_typos"]["machine_mean_score_shift"] != 0.0


def test_cli_evaluate_unknown_attack_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        fabscore_main(["evaluate", "--data", "x.jsonl", "--attacks", "bogus"])
    assert exc.value.code == 2 and "unknown attack 'bogus'" in capsys.readouterr().err


# ---------------------------------------------------------------- leave one generator family out
def test_generator_kinds_of_the_shared_data():
    from fabscore.training.data.generators import generator_kind

    chat = ["gpt-3.5-turbo", "gpt-3.5-turbo (ChatGPT)", "gpt-3.5-turbo-0613", "llama-2-70b-chat", "vicuna-13b-v1.3",
            "gpt-4o", "claude-3-haiku-20240307", "mistral-7b-instruct-v0.2"]
    assert {generator_kind(g) for g in chat} == {"chat model"}
    assert {generator_kind(g) for g in ("text-davinci-003", "flan-t5-xxl")} == {"completion model"}
    assert generator_kind("palm-2") == "unknown"  # a kind no mapping names is said to be unknown, never guessed
    assert generator_kind("palm-2", {"palm-2": {"kind": "chat model"}}) == "chat model"  # the user's mapping


def test_generator_families_keep_2024_models_apart():
    from fabscore.training.data.generators import generator_family, generator_kind, read_mapping

    assert generator_family("llama-3-70b") == "llama-3" != generator_family("llama-2-70b-chat") == "llama-2-chat"
    assert generator_family("llama-2-7b-chat") == generator_family("llama-2-13b-chat")  # sizes are one family
    assert len({generator_family(g) for g in ("gpt-4", "gpt-4o", "gpt-3.5-turbo-0613", "gemini-1.5-pro")}) == 4
    assert generator_family("claude-3-opus-20240229") == "claude-3-opus"
    assert {generator_kind(g) for g in ("gemini-1.5-pro", "gpt-4", "llama-3-70b", "claude-3-sonnet-20240229")} \
        == {"chat model"}
    assert generator_family("x-1", {"x-1": "my-family"}) == "my-family"
    with pytest.raises(ValueError, match="generator mapping"):
        read_mapping(__file__)  # not JSON


def test_leave_one_family_out_holds_out_each_family():
    import numpy as np

    from fabscore.training.eval.loo import leave_one_out

    rng = np.random.default_rng(0)
    n = 240
    y = np.r_[np.zeros(80), np.ones(160)].astype(int)
    fam = np.array(["human"] * 80 + ["chat model"] * 80 + ["completion model"] * 80)
    X = rng.normal(size=(n, 3))
    X[fam == "chat model", 0] += 3.0  # chat text differs from human on feature 0 only
    X[fam == "completion model", 1] += 3.0  # completion text on feature 1 only
    groups = np.array([f"g{i // 2}" for i in range(n)])
    res = leave_one_out(X, y, groups, fam, C=1.0, seed=0, machine_only=True)
    assert set(res) == {"held out chat model", "held out completion model"}
    # a family whose cue training never saw is not detected: the protocol does measure generalization
    assert res["held out completion model"]["auroc"] < 0.75 and res["held out chat model"]["auroc"] < 0.75


def test_leave_one_out_also_compares_with_the_humans_of_the_held_out_rows_data_sets():
    """Genre confound: held-out machine essays against news and essay humans together read
    essays against news. The within-data-set row compares them with essay humans only."""
    import numpy as np

    from fabscore.training.eval.loo import leave_one_out

    rng = np.random.default_rng(1)
    ds = np.array(["news"] * 100 + ["essays"] * 100 + ["news"] * 100 + ["essays"] * 100)
    y = np.r_[np.zeros(200), np.ones(200)].astype(int)
    gen = np.array(["human"] * 200 + ["chat"] * 100 + ["completion"] * 100)
    X = rng.normal(size=(400, 2))
    X[ds == "essays", 0] -= 3.0  # genre moves feature 0 the opposite way from machine text ...
    X[y == 1, 0] += 1.5  # ... which every generator raises
    groups = np.array([f"g{i}" for i in range(400)])
    res = leave_one_out(X, y, groups, gen, C=1.0, seed=0, machine_only=True, datasets=ds)
    mixed, own = res["held out completion"], res["held out completion vs its data sets' humans"]
    assert own["n_human"] < mixed["n_human"]  # only the essay humans
    assert own["auroc"] > 0.8 > mixed["auroc"]  # detected within its genre, hidden by the genre gap across


# ---------------------------------------------------------------- training on attacked copies
def _examples(n_each: int = 30):
    return [load_row(r) for r in small_sample(SHARED_DATA / "llmfake.clean.jsonl", n_each, "aug")]


def load_row(r: dict):
    from fabscore.training.data.examples import Example

    label = int(r["label"] == "machine")
    return Example(id=r["id"], text=r["text"], label=label, group=(r.get("pair_id") or r["id"]) if label else r["id"],
                   generator=r.get("generator") or "")


def test_attacked_copies_keep_label_and_story_and_spare_humans_the_spinner():
    from fabscore.training.data.augment import DEFAULT_AUGMENT, attacked_copies, attacks_for

    if not (SHARED_DATA / "llmfake.clean.jsonl").is_file():
        pytest.skip("../shared/data/llmfake.clean.jsonl not found")
    exs = _examples()
    attacks = attacks_for("default")
    assert [a.name for a in attacks] == list(DEFAULT_AUGMENT)
    copies = attacked_copies(exs, attacks, share=0.5, seed=0)
    assert copies == attacked_copies(exs, attacks, share=0.5, seed=0)  # hash-chosen: stable
    assert 0.3 * len(exs) < len(copies) < 0.7 * len(exs)
    used = set()
    for i, c in copies:
        orig = exs[i]
        name = c.meta["attack"]
        used.add(name)
        assert c.id == f"{orig.id}~{name}" and c.label == orig.label and c.group == orig.group
        assert c.text != orig.text and c.text == ATTACKS[name](orig.text, 0)
        if orig.label == 0:
            assert ATTACKS[name].keeps_human, f"a human article got {name}, which does not keep it human-written"
    assert used == set(DEFAULT_AUGMENT)


def test_augment_refuses_rewrites_and_drops_attacks_normalization_undoes():
    from fabscore.training.data.augment import attacks_for

    with pytest.raises(ValueError, match="too slow"):
        attacks_for("paraphrase")
    assert [a.name for a in attacks_for("char,surface")] == ["char_typos", "char_spacing"]
    assert attacks_for(()) == ()


def test_head_fits_on_attacked_copies_but_calibrates_and_thresholds_on_real_rows():
    import numpy as np

    from fabscore.training.fit.heads import fit_head

    rng = np.random.default_rng(0)
    n = 400
    y = np.r_[np.zeros(n // 2), np.ones(n // 2)].astype(int)
    X = rng.normal(size=(n, 2)) + y[:, None] * 2.0
    groups = np.array([f"g{i % 100}" for i in range(n)])
    aug = np.zeros(n, bool)
    aug[::4] = True
    X[aug & (y == 1)] -= 2.0  # the attack makes machine copies look human
    fit = fit_head(X, y, groups, augmented=aug)
    assert np.array_equal(fit.held, ~aug)
    assert fit.thresholds[0]["n_human"] == int(((y == 0) & ~aug).sum())
    assert np.isfinite(fit.oof[aug]).all()  # copies are scored out of fold too, for the card's attack table
    plain = fit_head(X[~aug], y[~aug], groups[~aug])
    assert fit.head.n_features_in_ == plain.head.n_features_in_
    assert not np.allclose(fit.head.calibration_, plain.head.calibration_)  # the copies did change the fit


def test_train_with_augmentation_reports_attacked_copies_apart(tmp_path):
    """style features only (no backbone pass), real llmfake rows: the card lists the copies,
    the headline metrics count only real articles, and an attack table is written."""
    from fabscore.training.fit.feature_cache import FeatureCache
    from fabscore.training.train import train

    if not (SHARED_DATA / "llmfake.clean.jsonl").is_file():
        pytest.skip("../shared/data/llmfake.clean.jsonl not found")
    data = tmp_path / "rows.jsonl"
    rows = small_sample(SHARED_DATA / "llmfake.clean.jsonl", 40, "aug-train")
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = train([str(data)], tmp_path / "m", cache=FeatureCache(tmp_path / "c"), log=lambda m: None,
                kinds=("style",), sentence_head=False, augment=("default",), augment_share=0.5, loo=("attack",))
    config = json.loads((out / "config.json").read_text())
    td = config["training_data"]
    assert td["n"] == 80 and td["n_human"] == 40 and td["n_machine"] == 40
    copies = td["augmented"]["copies"]
    assert set(copies) <= set(ATTACKS) and sum(c["human"] + c["machine"] for c in copies.values()) > 20
    assert config["thresholds"]["article"][0]["n_human"] == 40
    assert config["metrics"]["oof"]["n"] == 80
    assert set(config["metrics"]["attacked_copies"]) == set(copies)
    loo = config["metrics"]["leave_one_out"]
    assert loo and all(k.startswith("attack: held out ") for k in loo)
    card = (out / "README.md").read_text()
    assert "### Attacked copies (out of fold)" in card and "attacked copies added to training" in card
