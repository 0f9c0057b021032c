import json
import re
from pathlib import Path

import pytest

from digest.summarize import (
    ELLIPSIS,
    describe_file,
    fit_text,
    html_to_text,
    make_excerpt,
    split_sentences,
)

from .conftest import TESTDATA


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "The U.N. met Dr. Smith today. He said no.",
            ["The U.N. met Dr. Smith today.", "He said no."],
        ),
        ("Rates rose 2.5 percent. Markets fell.", ["Rates rose 2.5 percent.", "Markets fell."]),
        (
            "J. R. R. Tolkien wrote it. Then he slept.",
            ["J. R. R. Tolkien wrote it.", "Then he slept."],
        ),
        ("Use tools, e.g. Ruff, daily. It helps.", ["Use tools, e.g. Ruff, daily.", "It helps."]),
        ("It was No. 5 on the list. Fine.", ["It was No. 5 on the list.", "Fine."]),
        ('"We are done." Then silence.', ['"We are done."', "Then silence."]),
        ("He left (for good.) She stayed!", ["He left (for good.)", "She stayed!"]),
        ("Is it? Yes. it is lower", ["Is it?", "Yes. it is lower"]),
        ("No end punctuation", ["No end punctuation"]),
    ],
)
def test_split_sentences(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_html_is_stripped_and_entities_decoded() -> None:
    html = (
        "<nav>Home / News</nav><script>var x = '<p>';</script>"
        "<p>Caf&eacute; &amp; bar&nbsp;opened.</p><p>Second <b>para</b>.</p>"
    )
    assert html_to_text(html) == "Café & bar opened.\n\nSecond para."


def test_whole_sentences_within_the_budget() -> None:
    body = "<p>First sentence is here. Second one is here too. Third will not fit at all.</p>"
    assert make_excerpt(body, 50) == "First sentence is here. Second one is here too."


def test_long_first_sentence_is_cut_at_a_word_with_an_ellipsis() -> None:
    body = "Alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu."
    excerpt = make_excerpt(body, 30)
    assert excerpt == "Alpha beta gamma delta…"
    assert len(excerpt) <= 30


def test_cut_never_leaves_a_dangling_quote_or_bracket() -> None:
    assert fit_text('He said "alpha beta gamma delta epsilon" loudly', 24) == "He said…"
    assert fit_text("Results (from the second quarter report) came", 30) == "Results…"


def test_editor_excerpt_wins() -> None:
    assert make_excerpt("<p>Body text.</p>", 300, editor_excerpt="  Editor's  words. ") == (
        "Editor's words."
    )


def test_first_sentence_repeating_the_headline_is_left_out() -> None:
    body = "<h1>Big News Today</h1><p>The real story starts here.</p>"
    assert make_excerpt(body, 300, title="Big news today") == "The real story starts here."


@pytest.mark.parametrize("body", ["", "   ", "<div></div>", "<script>x()</script>", "\x00\x01"])
def test_empty_bodies_give_an_empty_excerpt(body: str) -> None:
    assert make_excerpt(body, 300) == ""


def test_unclosed_tags_and_binary_junk_do_not_raise() -> None:
    assert make_excerpt("<p>Open <b>bold <i>text. More", 300) == "Open bold text. More"
    assert isinstance(make_excerpt(bytes(range(256)).decode("latin-1"), 100), str)


def _real_pages() -> list[Path]:
    return sorted((TESTDATA / "extraction").glob("*.html"))


@pytest.mark.parametrize("page", _real_pages(), ids=lambda p: p.stem)
def test_real_pages_never_exceed_the_budget_or_cut_mid_word(page: Path) -> None:
    result = describe_file(page.read_bytes(), 300)
    excerpt = result["excerpt"]
    assert result["method"] == "html"
    assert len(excerpt) <= 300
    truth = json.loads(page.with_suffix(".json").read_text())
    text = re.sub(r"\s+", " ", html_to_text(page.read_text(errors="replace")))
    if excerpt.endswith(ELLIPSIS):
        stem = excerpt[: -len(ELLIPSIS)]
        # The cut follows a whole word of the source text.
        position = text.find(stem)
        assert position >= 0
        follower = text[position + len(stem) : position + len(stem) + 1]
        assert not follower.isalnum()
    assert truth["title"]  # the data set names its page


def test_real_pages_exist() -> None:
    assert len(_real_pages()) >= 20
