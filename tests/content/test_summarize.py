import json
import re
from pathlib import Path

import pytest

from digest.content.boilerplate import is_boilerplate
from digest.content.summarize import (
    ELLIPSIS,
    describe_file,
    fit_text,
    html_to_text,
    make_excerpt,
    split_sentences,
    summarize,
)

from ..conftest import TESTDATA, needs_testdata


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
@needs_testdata
def test_real_pages_never_exceed_the_budget_or_cut_mid_word(page: Path) -> None:
    result = describe_file(page.read_bytes(), 300)
    excerpt = result["excerpt"]
    assert result["method"] in ("trafilatura", "cleanup")
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


@needs_testdata
def test_real_pages_exist() -> None:
    assert len(_real_pages()) >= 20


SCRAPED_TEXT = """Home / News / Technology
NordVPN Promotion
Registrars Brace for a Wave of Expiring Domains
By Maya Lindqvist and Tom Ferreira
Updated 10:32 AM ET, Wed November 18, 2026
Filed Under
(Photo: Jane Doe/Getty Images)
LONDON (Reuters) - Domains registered in the 2021 rush are reaching the end of their
five-year terms, and registrars expect the largest renewal cycle they have seen.
Analysts say renewal rates are running below the long-term average.
Sign up for our daily newsletter to get stories like this in your inbox.
Comments
"""


def test_text_boilerplate_is_dropped_by_shape() -> None:
    result = summarize(SCRAPED_TEXT, 300, title="Registrars Brace for a Wave of Expiring Domains")
    assert result.method == "text"
    assert result.text == (
        "Domains registered in the 2021 rush are reaching the end of their five-year terms, "
        "and registrars expect the largest renewal cycle they have seen. Analysts say renewal "
        "rates are running below the long-term average."
    )


@pytest.mark.parametrize(
    ("line", "boilerplate"),
    [
        ("Home › World › Europe", True),
        ("Sponsored by Example Hosting", True),
        ("Advertisement", True),
        ("Share this article", True),
        ("By Ann Author, Staff Writer", True),
        ("Posted on March 3, 2025 at 9:00", True),
        ("Image credit: NASA/JPL", True),
        ("Follow us on social media for the latest updates.", True),
        ("The registry said the rule brings its policy in line with other regions.", False),
        ("By the end of the year, prices had doubled across the region.", False),
    ],
)
def test_line_shapes(line: str, boilerplate: bool) -> None:
    assert is_boilerplate(line) is boilerplate


@needs_testdata
def test_full_page_goes_through_the_extractor_and_fragments_keep_their_paragraphs() -> None:
    fragment = "<p>Home / News</p><p>The first real sentence is here.</p>"
    assert summarize(fragment, 300).text == "The first real sentence is here."  # a label
    assert summarize(fragment, 300).method == "fragment"
    page = _real_pages()[0].read_text(errors="replace")
    assert summarize(page, 300).method == "trafilatura"


def test_bad_input_gives_an_empty_excerpt_with_a_reason_never_an_exception() -> None:
    only_junk = "Home / News\nAdvertisement\nComments\nSign up for our newsletter"
    result = summarize(only_junk, 300)
    assert (result.text, result.reason) == ("", "no article text found in the body")
    assert summarize("", 300).reason == "empty body"
    binary = bytes(range(256)).decode("latin-1") * 50
    assert isinstance(summarize(binary, 300).text, str)
    paragraph = "<p>" + "Word after word in a paragraph that goes on. " * 60 + "</p>"
    huge = "<html><body>" + paragraph * 2_000
    assert len(huge) > 5_000_000
    assert summarize(huge, 300).text.startswith("Word after word")
    unclosed = "<html><body><div><p>Unclosed <b>tags <i>everywhere. Still readable."
    assert "Unclosed tags everywhere." in summarize(unclosed, 300).text
    german = (
        "<p>Die Registrierungsstellen erwarten in diesem Jahr eine Welle auslaufender "
        "Domains. Die Preise bleiben stabil.</p>"
    )
    assert summarize(german, 300).text.startswith("Die Registrierungsstellen erwarten")


COUNCIL = "The city council voted on Tuesday to expand the bike lane network downtown."
MORE = (
    "Supporters said the change would make the busiest streets safer for everyone. "
    "Shop owners along the route asked for loading zones, and the council agreed to add "
    "them before the first lanes open next spring"
)


@pytest.mark.parametrize(
    "body",
    [
        # a whole article on one line whose last sentence lacks its full stop
        f"{COUNCIL} {MORE}",
        # a call to action inside the line condemned the rest
        f"Sign up for our newsletter to get the latest. {COUNCIL} {MORE}.",
        f"{COUNCIL} Click here to subscribe to our newsletter. {MORE}.",
        # a caption with its credit before the text on the same line
        f"A cyclist rides downtown (Photo: City of Example) {COUNCIL} {MORE}.",
        # an author hover card glued before the text, on its line or the same one
        f"Jane DoeJane Ann Doe\n\n{COUNCIL} {MORE}.",
        f"Jane DoeJane Ann Doe {COUNCIL} {MORE}.",
    ],
    ids=["no-final-stop", "cta-first", "cta-inside", "caption", "hover-card", "hover-inline"],
)
def test_single_line_articles_keep_their_prose(body: str) -> None:
    excerpt = make_excerpt(body, 300, title="Council expands bike lanes")
    assert excerpt.startswith(COUNCIL)
    assert "newsletter" not in excerpt and "Jane" not in excerpt and "Photo" not in excerpt


def test_a_short_first_line_stays_unless_it_is_the_headline() -> None:
    assert make_excerpt(f"Rain again.\n\n{COUNCIL}", 300).startswith("Rain again.")
    headline = make_excerpt(
        f"Council expands bike lanes\n\n{COUNCIL}", 300, title="Council expands bike lanes"
    )
    assert headline == COUNCIL


@pytest.mark.parametrize(
    ("body", "excerpt"),
    [
        # A standfirst without its full stop never runs into the next paragraph.
        (
            "<p>The museum will reopen in spring, a statement said</p>"
            "<p>The director of the museum said the works were safe.</p>",
            "The museum will reopen in spring, a statement said",
        ),
        # A heading (a styled line, a run-in bold head) ends the opening prose.
        (
            "<div>All releases will need Java 7.<br/><br/><font size=4>Why this change"
            "</font><br/>The reasons are these.</div>",
            "All releases will need Java 7.",
        ),
        (
            "<p><strong>Support groups</strong> The Pain Connection, Rockville. Free.</p>",
            "The Pain Connection, Rockville. Free.",
        ),
        # A list is not taken into the prose before it; its lead-in goes with it.
        (
            "<p>Prices rose again.</p><p>The reasons are:</p><ul><li>demand</li></ul>",
            "Prices rose again.",
        ),
        # A lead-in to a quotation is no lede: what it quotes comes with it.
        (
            "<p>Jane Doe, writing for The Atlantic:</p><blockquote><p>The city's bike "
            "lanes cut crash deaths by a third.</p></blockquote>",
            "Jane Doe, writing for The Atlantic: The city's bike lanes cut crash deaths "
            "by a third.",
        ),
        (
            "<p>Gruber:</p><blockquote><p>Rates fell for a third month.</p></blockquote>",
            "Gruber: Rates fell for a third month.",
        ),
        ("<p>The reasons are:</p><ul><li>demand</li><li>supply</li></ul>", "demand; supply"),
        (
            "<p>My first homelab, with the following specs:</p><ul><li>64GB</li></ul>"
            "<p>The BIOS is up to date.</p>",
            "The BIOS is up to date.",
        ),
        # A feed's own cut ends on a whole word with one proper ellipsis.
        (
            "<p>The council voted on Tuesday to expand the bike la...</p>",
            "The council voted on Tuesday to expand the bike…",
        ),
        (
            "<p>Radiant floor heating throughou [...]</p>",
            "Radiant floor heating…",
        ),
        ("<p>The council voted. It met on Tuesday [&#8230;]</p>", "The council voted. It met on…"),
        ("<p>The council voted. [...]</p>", "The council voted."),
        ("<p>He paused… Then he spoke.</p>", "He paused… Then he spoke."),
        # Feed furniture: a teaser link, a forum's byline and counts, a share row.
        (
            "<p>The vote was close.</p><p><a href='/x'>Continue reading...</a></p>",
            "The vote was close.",
        ),
        (
            "<div><p>Any reason to keep 1G links to my servers?</p></div> submitted by "
            "<a href='/u/a'> /u/someone </a><br/><a href='/c'>[link]</a> "
            "<a href='/c'>[275 comments]</a>",
            "Any reason to keep 1G links to my servers?",
        ),
        (
            "<p>Share on <a href='/f'>Facebook</a> <a href='/t'>Twitter</a></p>"
            "<p>Rates fell for a third month.</p>",
            "Rates fell for a third month.",
        ),
        (
            "<p>Subscribe now to read the full story.</p><p>Rates fell again.</p>",
            "Rates fell again.",
        ),
        # A live blog's run of timestamps is not its text.
        (
            "<p>10.32am GMT 10.45am GMT 11.02am GMT 11.15am GMT</p>"
            "<p>Arsenal took the lead after ten minutes.</p>",
            "Arsenal took the lead after ten minutes.",
        ),
    ],
)
def test_feed_furniture_and_paragraph_boundaries(body: str, excerpt: str) -> None:
    assert make_excerpt(body, 300) == excerpt


def test_a_lead_in_and_its_quotation_that_do_not_fit_together_give_the_quotation() -> None:
    body = (
        "<p>Jane Doe, writing at length for The Atlantic this week:</p><blockquote><p>"
        "The city's bike lanes cut crash deaths by a third.</p></blockquote>"
    )
    assert make_excerpt(body, 60) == "The city's bike lanes cut crash deaths by a third."


@pytest.mark.parametrize(
    "body",
    [
        "...",
        "<p><a href='/x'><img src='/ad.gif' alt=''></a></p>",
        "<table><tr><td>submitted by <a href='/u/x'>someone</a> to <a href='/r/y'>funny"
        "</a><br/><a href='/i'>[link]</a> <a href='/c'>[87 comments]</a></td></tr></table>",
        "<p><a href='/more'>Read more »</a></p>",
    ],
)
def test_an_entry_with_no_prose_gets_no_excerpt(body: str) -> None:
    result = summarize(body, 300)
    assert result.text == "" and result.words == 0
