"""Text preparation on real articles: boilerplate trimming, chunks, normalization,
and the English check that makes the detector abstain on other languages."""
from __future__ import annotations

import unicodedata

import pytest

from fabscore.text.language import english_reason
from fabscore.text.normalize import normalize
from fabscore.text.sentences import chunks, head, prepare

SEED_000_LAST_SENTENCE_END = "which indicated that they were continuing the training program."
HEADLINES = ("Rafah Border Crossing", "Zelenskiy Awaits", "Kevin Warsh", "Harassing Top Diplomat",
             "Kennedy Center")


# ---------------------------------------------------------------- boilerplate trimming
def test_seed_000_trailing_headline_list_is_cut(seed_texts):
    text = seed_texts["human"]
    art = prepare(text)
    assert art.body_end < len(text)
    assert text[: art.body_end].endswith(SEED_000_LAST_SENTENCE_END)
    # what was cut is the headline list, nothing else
    assert "Rafah Border Crossing to Reopen" in text[art.body_end:]
    assert text[art.body_end:].lstrip().startswith("Rafah Border Crossing")
    for s in art.sentences:
        assert s.end <= art.body_end
        assert not any(h in s.text for h in HEADLINES), s.text
    assert art.sentences[-1].text.endswith("continuing the training program.")
    # without trimming, the headlines are sentences: the cut is what removed them
    untrimmed = prepare(text, trim_boilerplate=False)
    assert any("Rafah Border Crossing" in s.text for s in untrimmed.sentences)


def test_seed_002_is_untouched(seed_texts):
    text = seed_texts["machine"]
    art = prepare(text)
    assert art.body_end == len(text)
    assert [(s.start, s.end) for s in art.sentences] == \
        [(s.start, s.end) for s in prepare(text, trim_boilerplate=False).sentences]
    # every non-space character of the article lies in some sentence
    covered = sum(len("".join(s.text.split())) for s in art.sentences)
    assert covered == len("".join(text.split()))


def test_body_text_is_not_trimmed_when_the_article_ends_with_a_short_line():
    text = ("The council met on Tuesday to discuss the budget. Members agreed to postpone the vote.\n"
            "Reporting by Jane Doe\n")
    art = prepare(text)
    assert art.body_end == len(text)
    assert art.sentences[-1].text == "Reporting by Jane Doe"


# ---------------------------------------------------------------- chunks
@pytest.mark.parametrize("max_words", [30, 80, 200])
@pytest.mark.parametrize("which", ["human", "machine"])
def test_chunks_partition_sentences_in_order_and_first_is_head(seed_texts, which, max_words):
    art = prepare(seed_texts[which])
    pieces = chunks(art, max_words)
    assert pieces[0] == head(art, max_words)
    flat = [s for p in pieces for s in p.sentences]
    assert flat == list(art.sentences)  # in order, no sentence lost or repeated
    for p in pieces:
        assert p.sentences, "no empty chunk"
        assert p.text == art.text and p.body_end == art.body_end
        # a chunk exceeds max_words only when it is a single long sentence
        assert p.n_words <= max_words or len(p.sentences) == 1
    if art.n_words > max_words:
        assert len(pieces) > 1
    # a chunk stops only when the next sentence would not fit
    for p, nxt in zip(pieces, pieces[1:]):
        assert p.n_words + len(nxt.sentences[0].norm.split()) > max_words


def test_chunks_of_empty_article_is_empty():
    assert chunks(prepare(""), 200) == []


# ---------------------------------------------------------------- normalize
def test_nfkc():
    assert normalize("\ufb01nance \uff21\uff22\uff23 \u2460 x\u00b2") == "finance ABC 1 x2"
    composed = normalize("cafe\u0301")
    assert composed == "caf\u00e9" and unicodedata.is_normalized("NFC", composed)


def test_quotes_and_dashes_become_ascii():
    text = "\u201cHe said \u2018no\u2019\u201d \u2014 twice \u2013 in 2019\u20132020\u2026 \u00abok\u00bb \u2212 3"
    assert normalize(text) == "\"He said 'no'\" - twice - in 2019-2020... \"ok\" - 3"


def test_zero_width_characters_are_removed():
    text = "fa\u200bbri\u200dcat\ufeffed ne\u2060ws\u00ad"
    assert normalize(text) == "fabricated news"


def test_whitespace_is_collapsed():
    assert normalize("  The\u00a0minister\t\tsaid,\n\n  \r\n\"no\".  \u2003 ") == "The minister said, \"no\"."


def test_cyrillic_lookalikes_are_folded_in_latin_text():
    # a/e/o/p/c replaced by Cyrillic \u0430 \u0435 \u043e \u0440 \u0441
    spoofed = "The \u0440r\u0435sid\u0435nt \u0441\u0430ll\u0435d f\u043er \u0430 \u0441\u0435\u0430s\u0435fir\u0435 \u043en M\u043end\u0430y."  # noqa: E501 - a sentence in another script, kept whole on one line
    assert any("\u0400" <= ch <= "\u04ff" for ch in spoofed)
    assert normalize(spoofed) == "The president called for a ceasefire on Monday."


def test_russian_sentence_stays_cyrillic():
    russian = "\u041f\u0440\u0435\u0437\u0438\u0434\u0435\u043d\u0442 \u043f\u0440\u0438\u0437\u0432\u0430\u043b \u043a \u043f\u0440\u0435\u043a\u0440\u0430\u0449\u0435\u043d\u0438\u044e \u043e\u0433\u043d\u044f \u0432 \u043f\u043e\u043d\u0435\u0434\u0435\u043b\u044c\u043d\u0438\u043a."  # noqa: E501 - a sentence in another script, kept whole on one line
    assert normalize(russian) == russian
    assert normalize("  " + russian + "\n") == russian


def test_normalize_of_seed_texts_is_idempotent_ascii_spaced(seed_texts):
    for text in seed_texts.values():
        out = normalize(text)
        assert normalize(out) == out
        assert "  " not in out and "\n" not in out
        assert not any(ch in out for ch in "\u201c\u201d\u2018\u2019\u2013\u2014")


# ---------------------------------------------------------------- language
ENGLISH = ("The minister said on Tuesday that the government would not change its plans for the new budget, "
           "and that the vote in parliament was expected to take place after the summer.")
GERMAN = ("Der Minister sagte am Dienstag, die Regierung werde ihre Pl\u00e4ne f\u00fcr den neuen Haushalt nicht "
          "\u00e4ndern, und die Abstimmung im Parlament werde nach dem Sommer erwartet.")
CHINESE = "\u90e8\u957f\u5468\u4e8c\u8868\u793a\uff0c\u653f\u5e9c\u4e0d\u4f1a\u6539\u53d8\u65b0\u9884\u7b97\u7684\u8ba1\u5212\uff0c\u8bae\u4f1a\u6295\u7968\u9884\u8ba1\u5c06\u5728\u590f\u5929\u4e4b\u540e\u8fdb\u884c\u3002"  # noqa: E501 - a sentence in another script, kept whole on one line
ARABIC = ("\u0642\u0627\u0644 \u0627\u0644\u0648\u0632\u064a\u0631 \u064a\u0648\u0645 \u0627\u0644\u062b\u0644\u0627\u062b\u0627\u0621 "  # noqa: E501 - a sentence in another script, kept whole on one line
          "\u0625\u0646 \u0627\u0644\u062d\u0643\u0648\u0645\u0629 \u0644\u0646 \u062a\u063a\u064a\u0631 \u062e\u0637\u0637\u0647\u0627 "  # noqa: E501 - a sentence in another script, kept whole on one line
          "\u0644\u0644\u0645\u064a\u0632\u0627\u0646\u064a\u0629 \u0627\u0644\u062c\u062f\u064a\u062f\u0629.")


def test_english_is_english(seed_texts):
    assert english_reason(ENGLISH) is None
    for text in seed_texts.values():
        assert english_reason(prepare(text).norm) is None


def test_german_is_not_english_by_common_words():
    reason = english_reason(GERMAN)
    assert reason is not None and "common English words" in reason


@pytest.mark.parametrize("text", [CHINESE, ARABIC], ids=["chinese", "arabic"])
def test_other_scripts_are_not_english_by_script(text):
    reason = english_reason(text)
    assert reason is not None and "Latin script" in reason


def test_no_letters_is_not_english():
    assert "no letters" in english_reason("12 34, 56 -- 78!")


# ---------------------------------------------------------------- whitespace does not change the sentences
def test_sentence_split_ignores_whitespace_runs(seed_texts):
    """pysbd alone keeps '"no way."  The man left.' as one sentence (two spaces
    after a closing quote) but splits it with one space; split_sentences must
    not depend on such spacing."""
    one = prepare('He said "no way." The man left.')
    two = prepare('He said "no way."  \t The man left.')
    assert [s.norm for s in one.sentences] == [s.norm for s in two.sentences] == ['He said "no way."', "The man left."]
    assert [s.text for s in two.sentences] == ['He said "no way."', "The man left."]
    text = seed_texts["machine"]
    spaced = text.replace(" ", "  ").replace(". ", ".\t ")
    assert [s.norm for s in prepare(spaced).sentences] == [s.norm for s in prepare(text).sentences]
    for s in prepare(spaced).sentences:
        assert spaced[s.start:s.end] == s.text and s.text == s.text.strip()
