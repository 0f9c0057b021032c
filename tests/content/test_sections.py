"""Sections, ranking and the lead: what an editor would choose from a week of raw feeds."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from digest.content.sections import (
    SectionPlan,
    copy_sections,
    in_scope,
    place,
    rank_articles,
    section_plan,
    sections_of,
    split_lead,
    substance,
    whole_week,
)
from digest.models import Article, Edition, EditionArticle, Sponsor, Week

from ..conftest import make_config

T = datetime(2026, 11, 18, tzinfo=UTC)


def _plan(**limits: int) -> SectionPlan:
    return SectionPlan(
        named=(("dns", "DNS"), ("cybersecurity", "Cybersecurity"), ("new-tlds", "New TLDs")),
        aliases={"dnssec": "DNS", "security": "Cybersecurity"},
        other="More",
        sponsors={"dns": Sponsor("Acme", topic="DNS")},
        **{"max_articles": 12, "max_per_section": 3, "max_sections": 6, **limits},
    )


def test_only_configured_sections_head_a_section_and_the_rest_go_under_more(
    make_article: Callable[..., Article],
) -> None:
    articles = [
        # A raw first category, a configured second one: the configured one wins.
        make_article(title="transfer", topics=("Transfer window", "DNS")),
        make_article(title="fishing", topics=("Fishing",)),
        make_article(title="aliased", topics=("dnssec",)),
        make_article(title="security", topics=("Security", "Fishing")),
        make_article(title="no category", topics=()),
    ]
    sections = place(articles, _plan())
    layout = {s.topic: [a.title for a in s.articles] for s in sections}
    assert layout == {
        "DNS": ["transfer", "aliased"],
        "Cybersecurity": ["security"],
        "More": ["fishing", "no category"],
    }
    assert [s.topic for s in sections][-1] == "More"  # configured order, "More" last
    assert sections[0].sponsor == Sponsor("Acme", topic="DNS")


def test_limits_each_article_once_and_a_full_section_passes_to_the_next_configured(
    make_article: Callable[..., Article],
) -> None:
    articles = [
        make_article(title=f"dns {i}", topics=("DNS",), published_at=T - timedelta(hours=i))
        for i in range(3)
    ]
    articles.append(make_article(title="both", topics=("DNS", "New TLDs")))
    articles.append(make_article(title="dns only, full", topics=("DNS",)))
    articles.append(make_article(title="dns", topics=("DNS",), url=articles[0].url))
    sections = place(articles, _plan())
    layout = {s.topic: [a.title for a in s.articles] for s in sections}
    assert layout == {"DNS": ["dns 0", "dns 1", "dns 2"], "New TLDs": ["both"]}
    assert sum(len(s.articles) for s in place(articles, _plan(max_articles=2))) == 2


def test_the_section_cap_keeps_a_place_for_more(make_article: Callable[..., Article]) -> None:
    articles = [
        make_article(title="dns", topics=("DNS",)),
        make_article(title="security", topics=("Cybersecurity",)),
        make_article(title="tlds", topics=("New TLDs",)),
        make_article(title="raw", topics=("Gardening",)),
    ]
    sections = place(articles, _plan(max_sections=3))
    layout = {s.topic: [a.title for a in s.articles] for s in sections}
    assert layout == {"DNS": ["dns"], "Cybersecurity": ["security"], "More": ["tlds", "raw"]}
    assert len(place(articles, _plan(max_sections=1))) == 1


def test_a_readers_copy_has_only_their_topics_and_no_more(
    make_article: Callable[..., Article],
) -> None:
    articles = [
        make_article(title="dns", topics=("Fishing", "DNS")),
        make_article(title="raw", topics=("Fishing",)),
        make_article(title="security", topics=("Cybersecurity",)),
    ]
    sections = place(articles, _plan(), chosen={"dns"})
    assert [(s.topic, [a.title for a in s.articles]) for s in sections] == [("DNS", ["dns"])]


def test_nothing_configured_is_one_list_with_no_sections_to_choose(tmp_path: Path) -> None:
    config = make_config(tmp_path, digest={"section_order": []})
    plan = section_plan(config)
    assert plan.named == () and plan.other == "More"
    assert section_plan(make_config(tmp_path, digest={"other_section": "Also"})).other == "Also"


def test_the_ranking_weighs_substance_not_recency(make_article: Callable[..., Article]) -> None:
    plan = _plan()
    newest = make_article(title="live blog", topics=("Football",), published_at=T + timedelta(1))
    story = make_article(
        title="story", topics=("DNS",), image_url="https://x.example/a.jpg", image_width=800
    )
    avatar = make_article(
        title="avatar", topics=("DNS",), image_url="https://x.example/a.png", image_width=30
    )
    words = {newest.url: 40, story.url: 700, avatar.url: 700}
    ranked = rank_articles([newest, avatar, story], plan, words)
    assert [a.title for a in ranked] == ["story", "avatar", "live blog"]
    assert substance(story, 700, plan) > substance(avatar, 700, plan)  # an icon is no picture
    # An editor's pick, then the publication's own score, come before substance.
    pick = make_article(title="pick", featured=True)
    scored = make_article(title="scored", score=5)
    ranked = rank_articles([story, scored, pick], plan, words)
    assert [a.title for a in ranked] == ["pick", "scored", "story"]


def test_the_lead_is_the_best_of_the_copy_and_is_not_shown_twice() -> None:
    plan = _plan()
    ranked = [
        EditionArticle(f"https://x.example/{i}", f"t{i}", "", "", T, rank=i, topics=(topic,))
        for i, topic in enumerate(["Fishing", "DNS", "Cybersecurity", "DNS"])
    ]
    edition = Edition(Week("2026-W47", T, T), sections_of(plan, ranked), tuple(ranked))
    lead, rest = split_lead(edition.sections)
    assert lead is not None and lead.title == "t0"
    assert [a.title for s in rest for a in s.articles] == ["t1", "t3", "t2"]
    reader = copy_sections(plan, edition, "cybersecurity")
    assert split_lead(reader) == (None, reader)  # one article: no lead, just the list


def test_a_week_without_configured_sections_is_one_list_up_to_max_articles(
    make_article: Callable[..., Article],
) -> None:
    articles = [make_article(title=f"s{i}", topics=("Gardening",)) for i in range(20)]
    unsectioned = SectionPlan(named=(), aliases={}, other="More", max_per_section=4)
    sections = place(articles, unsectioned)
    assert [(s.topic, len(s.articles)) for s in sections] == [("More", 12)]  # not a section's 4
    # Sections configured but none of the week's articles in one: "More" is the copy.
    assert [len(s.articles) for s in place(articles, _plan())] == [12]
    # Beside a configured section, "More" has a section's room.
    mixed = [make_article(title="dns", topics=("DNS",)), *articles]
    assert [(s.topic, len(s.articles)) for s in place(mixed, _plan())] == [("DNS", 1), ("More", 3)]


def test_the_whole_week_and_what_a_copy_could_carry(make_article: Callable[..., Article]) -> None:
    plan = _plan(max_articles=4, max_per_section=2)
    ranked = [
        EditionArticle(f"https://x.example/{i}", f"t{i}", "", "", T, rank=i, topics=(topic,))
        for i, topic in enumerate(["DNS"] * 5 + ["Fishing"] * 5 + ["Cybersecurity"])
    ]
    edition = Edition(Week("2026-W47", T, T), sections_of(plan, ranked), tuple(ranked))
    assert edition.article_count == 4
    whole = whole_week(plan, edition)
    assert {s.topic: len(s.articles) for s in whole} == {"DNS": 5, "Cybersecurity": 1, "More": 5}
    assert in_scope(plan, edition, "") == 11
    assert in_scope(plan, edition, "dns") == 5
    assert in_scope(plan, edition, "cybersecurity,dns") == 6


def test_a_topic_choice_stored_with_the_old_ascii_keys_still_finds_its_section() -> None:
    plan = SectionPlan(named=(("straße", "Straße"), ("dns", "DNS")), aliases={}, other="More")
    assert plan.chosen("strae,dns") == {"straße", "dns"}
    ranked = [
        EditionArticle(f"https://x.example/{i}", f"t{i}", "", "", T, rank=i, topics=(topic,))
        for i, topic in enumerate(["Straße", "DNS", "Straße"])
    ]
    edition = Edition(Week("2026-W47", T, T), sections_of(plan, ranked), tuple(ranked))
    assert [s.topic for s in copy_sections(plan, edition, "strae")] == ["Straße"]
    assert in_scope(plan, edition, "strae") == 2
