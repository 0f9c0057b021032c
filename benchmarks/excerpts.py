"""Excerpt quality and speed, against baselines, on real pages and human summaries.

    python benchmarks/excerpts.py [--chars 300]

On ../shared/testdata/extraction (real news pages with their true article bodies) it
prints, per method: the share of excerpts drawn whole from the true body (every
sentence of the excerpt, ellipsis removed, found in the body with whitespace and quote
styles folded), mid-word cuts, excerpts over budget, and mean length. On
../shared/testdata/summaries (articles with journalist-written summaries) it prints
ROUGE-1 and ROUGE-2 F1 against the summaries. Baselines, in the same run: the first N
characters of the stripped page, lead-3 sentences cut to the same budget, and TextRank
(a small graph-ranking summariser written here: word-overlap similarity, PageRank).
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digest.content.blocks import html_to_text  # noqa: E402
from digest.content.summarize import (  # noqa: E402
    ELLIPSIS,
    fit_text,
    split_sentences,
    summarize,
)

DATA = REPO.parent / "shared" / "testdata"
Method = Callable[[str, str, int], str]  # (body, title, chars) -> excerpt


def fold(text: str) -> str:
    """Whitespace and quote styles folded, for 'is this text in the body' checks."""
    text = text.replace("’", "'").replace("‘", "'").replace("“", '"').replace("”", '"')
    return re.sub(r"\s+", " ", text).strip()


def digest_method(body: str, title: str, chars: int) -> str:
    return summarize(body, chars, title=title).text


def first_chars(body: str, title: str, chars: int) -> str:
    return fit_text(re.sub(r"\s+", " ", html_to_text(body)), chars)


def _sentences(body: str) -> list[str]:
    return [s for p in html_to_text(body).split("\n\n") for s in split_sentences(p)]


def lead3(body: str, title: str, chars: int) -> str:
    """The first three sentences, as many as fit; else the first, cut."""
    sentences = _sentences(body)[:3]
    taken: list[str] = []
    for sentence in sentences:
        if len(" ".join([*taken, sentence])) > chars:
            break
        taken.append(sentence)
    return " ".join(taken) or (fit_text(sentences[0], chars) if sentences else "")


def textrank(body: str, title: str, chars: int) -> str:
    sentences = _sentences(body)[:80]
    words = [set(re.findall(r"\w+", s.lower())) for s in sentences]
    n = len(sentences)
    if n == 0:
        return ""

    def similarity(i: int, j: int) -> float:
        if len(words[i]) < 2 or len(words[j]) < 2:
            return 0.0
        return len(words[i] & words[j]) / (math.log(len(words[i])) + math.log(len(words[j])))

    weights = [[similarity(i, j) if i != j else 0.0 for j in range(n)] for i in range(n)]
    totals = [sum(row) or 1.0 for row in weights]
    rank = [1.0] * n
    for _ in range(30):
        rank = [
            0.15 + 0.85 * sum(weights[j][i] * rank[j] / totals[j] for j in range(n))
            for i in range(n)
        ]
    best = sorted(range(n), key=lambda i: -rank[i])
    chosen: list[int] = []
    for i in best:
        if len(" ".join(sentences[k] for k in sorted([*chosen, i]))) <= chars:
            chosen.append(i)
    return " ".join(sentences[k] for k in sorted(chosen)) or fit_text(sentences[best[0]], chars)


METHODS: dict[str, Method] = {
    "digest": digest_method,
    "first N chars": first_chars,
    "lead-3": lead3,
    "TextRank": textrank,
}


def drawn_whole(excerpt: str, truth: str) -> bool:
    body = fold(truth)
    stem = excerpt[: -len(ELLIPSIS)] if excerpt.endswith(ELLIPSIS) else excerpt
    parts = split_sentences(fold(stem))
    return bool(parts) and all(p in body for p in parts)


def mid_word(excerpt: str, source: str) -> bool:
    if not excerpt.endswith(ELLIPSIS):
        return False
    stem = fold(excerpt[: -len(ELLIPSIS)])
    text = fold(source)
    at = text.find(stem)
    return at >= 0 and text[at + len(stem) : at + len(stem) + 1].isalnum()


def rouge(candidate: str, reference: str, n: int) -> float:
    def grams(text: str) -> Counter[tuple[str, ...]]:
        tokens = re.findall(r"[a-z0-9]+", text.lower())
        return Counter(tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1))

    c, r = grams(candidate), grams(reference)
    overlap = sum((c & r).values())
    if not overlap:
        return 0.0
    precision, recall = overlap / sum(c.values()), overlap / sum(r.values())
    return 2 * precision * recall / (precision + recall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chars", type=int, default=300)
    chars = parser.parse_args().chars
    pages = [
        (p.read_text(errors="replace"), json.loads(p.with_suffix(".json").read_text()))
        for p in sorted((DATA / "extraction").glob("*.html"))
    ]
    summaries = [json.loads(p.read_text()) for p in sorted((DATA / "summaries").glob("*.json"))]
    print(f"{len(pages)} news pages, {len(summaries)} human summaries, budget {chars} chars\n")
    print(
        f"{'method':<14} {'drawn whole':>11} {'mid-word':>9} {'over':>5} {'mean len':>9} "
        f"{'ROUGE-1':>8} {'ROUGE-2':>8}"
    )
    for name, method in METHODS.items():
        outs = [(method(html, truth["title"], chars), html, truth) for html, truth in pages]
        whole = sum(drawn_whole(e, t["body"]) for e, _, t in outs) / len(outs)
        cuts = sum(mid_word(e, html_to_text(h)) for e, h, _ in outs)
        over = sum(len(e) > chars for e, _, _ in outs)
        mean = statistics.mean(len(e) for e, _, _ in outs)
        r1 = statistics.mean(
            rouge(method(s["text"], s["title"], chars), s["reference"], 1) for s in summaries
        )
        r2 = statistics.mean(
            rouge(method(s["text"], s["title"], chars), s["reference"], 2) for s in summaries
        )
        print(f"{name:<14} {whole:>10.0%} {cuts:>9} {over:>5} {mean:>9.0f} {r1:>8.3f} {r2:>8.3f}")
    _speed(pages, chars)


def _speed(pages: list[tuple[str, dict]], chars: int) -> None:
    clean = [
        "".join(f"<p>{p}</p>" for p in t["body"].split("\n") if p.strip()) for _, t in pages
    ] * 20
    start = time.perf_counter()
    for body in clean:
        summarize(body, chars)
    fragments = len(clean) / (time.perf_counter() - start)
    start = time.perf_counter()
    for html, truth in pages:
        summarize(html, chars, title=truth["title"])
    full = len(pages) / (time.perf_counter() - start)
    print(f"\nspeed: {fragments:,.0f} clean article bodies/s, {full:,.0f} full pages/s")


if __name__ == "__main__":
    main()
