"""Completion-style continuations (`fabscore.training.data.generate`): the opening is
the article's first whole sentences, the continuation is cleaned like the data files, and a
real run of the packaged gemma-3-270m writes labelled rows that `train` reads, keeps the story
group, and resumes without redoing rows."""
from __future__ import annotations

import json

import pytest
from conftest import SEED_HUMAN

from fabscore.text.normalize import normalize
from fabscore.training.data import generate as gen
from fabscore.training.data.examples import load
from fabscore.training.data.generators import generator_kind


def test_opening_is_whole_first_sentences_within_bounds(seed_texts):
    text = normalize(seed_texts["human"])
    op = gen.opening(text)
    assert op is not None and text.startswith(op)
    assert 12 <= len(op.split()) <= 60
    assert op.rstrip()[-1] in '.!?"'  # ends at a sentence end, not mid-sentence


def test_opening_of_a_too_short_text_is_none():
    assert gen.opening("Too short.") is None


def test_clean_continuation_drops_special_tokens_and_tags_and_normalizes():
    out = gen.clean_continuation("He said.", " \u201cYes,\u201d she <b>replied</b>.<start_of_image>Then  they left.\n")
    assert out == 'He said. "Yes," she replied. Then they left.'
    assert out == normalize(out)


def test_temperature_is_a_stable_choice_from_the_list():
    temps = {gen.temperature_of(f"id-{i}") for i in range(60)}
    assert temps == set(gen.TEMPERATURES)
    assert gen.temperature_of("id-7") == gen.temperature_of("id-7")


def test_gemma_counts_as_a_completion_model():
    assert generator_kind(gen.GENERATOR) == "completion model"
    assert generator_kind("gpt-4o") == "chat model"


@pytest.mark.slow
def test_real_generation_writes_labelled_rows_and_resumes(tmp_path):
    src = tmp_path / "humans.jsonl"
    rows = [{"id": f"h{i}", "text": SEED_HUMAN.read_text(encoding="utf-8") if i == 0 else
             "The city council voted on Monday to approve a new budget for the coming year, officials said. "
             "The plan adds money for schools and roads.", "label": "human"} for i in range(2)]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "gen.jsonl"
    stats = gen.generate([str(src)], out, n=2, batch=2, max_new_tokens=40, min_new_tokens=30, min_words=20, threads=2)
    assert stats["asked"] == 2 and stats["written"] + stats["too_short"] == 2 and stats["written"] >= 1
    written = [json.loads(line) for line in out.read_text().splitlines()]
    for r in written:
        human = next(x for x in rows if x["id"] == r["pair_id"])
        assert r["label"] == "machine" and r["generator"] == gen.GENERATOR
        assert r["text"].startswith(gen.opening(human["text"]))
        assert len(r["text"].split()) > len(gen.opening(human["text"]).split()) + 15  # a real continuation
    ex = load(str(out))
    assert all(e.label == 1 for e in ex)
    assert {e.group for e in ex} == {r["pair_id"] for r in written}  # one story group with its source article
    again = gen.generate([str(src)], out, n=2, batch=2, max_new_tokens=40, min_new_tokens=30, min_words=20, threads=2)
    assert again["already"] == stats["written"]
    assert len(out.read_text().splitlines()) == stats["written"] + again["written"]


def test_batches_hold_one_temperature_take_turns_and_cover_every_job():
    from types import SimpleNamespace

    todo = [(SimpleNamespace(id=f"id-{i}"), f"p{i}") for i in range(50)]
    batches = gen.batches_by_temperature(todo, 4)
    assert all(len(b) <= 4 and {gen.temperature_of(e.id) for e, _ in b} == {t} for t, b in batches)
    assert sorted(e.id for _, b in batches for e, _ in b) == sorted(e.id for e, _ in todo)
    assert [t for t, _ in batches[:3]] == list(gen.TEMPERATURES)  # turns, not one temperature after another
