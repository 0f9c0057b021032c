"""Demo data for `init --demo`: a week of articles across the topics, and a few readers.

The articles are dated inside the most recent complete week before ``now``, so that
`send` right after `init --demo` has an edition. The text is written for this demo.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlite_utils import Database

from digest import store
from digest.config import Config
from digest.gather import last_complete_week
from digest.models import Article
from digest.subscribers import save_subscriber

SITE = "https://news.example.com"

# (day of week 0-6, hour, title, topics, author, featured, score, slug, paragraphs)
_ARTICLES: list[tuple[int, int, str, tuple[str, ...], str, bool, float, str, tuple[str, ...]]] = [
    (
        0,
        9,
        "Registrars Brace for a Wave of Expiring Pandemic-Era Domains",
        ("Domain Names",),
        "Maya Lindqvist",
        True,
        91.0,
        "registrars-expiring-domains",
        (
            "Domains registered in the 2021 rush are reaching the end of their five-year terms, "
            "and registrars expect the largest renewal cycle they have seen. Analysts at three "
            "large registrars say renewal rates for that cohort are running well below the "
            "long-term average of about 75%.",
            "The lapsed names feed the drop-catch market, where investors bid on domains the "
            "moment they are released. Brokers report that short .com names with a trading "
            "history still fetch four-figure sums within minutes of deletion.",
            "For brand owners the cycle is a reminder to audit portfolios: a forgotten campaign "
            "domain that lapses can be re-registered and pointed at a phishing kit the same day.",
        ),
    ),
    (
        0,
        14,
        "DNSSEC Key Rollover at a Major TLD Passes Without Incident",
        ("DNS",),
        "Tomás Ferreira",
        False,
        64.0,
        "dnssec-rollover-tld",
        (
            "A scheduled rollover of the key-signing key for one of the larger country-code "
            "top-level domains completed on Monday with no measurable rise in validation "
            "failures, according to resolver operators who watched the change.",
            "The operator published the new key 30 days in advance and kept both keys in the "
            "DNSKEY set through the transition, following the double-signature method described "
            "in RFC 7583. Resolver logs showed fewer than 0.01% of queries returning SERVFAIL.",
            "Operators said the quiet result shows how far automation has come since earlier "
            "rollovers, when stale trust anchors in enterprise resolvers caused outages.",
        ),
    ),
    (
        1,
        10,
        "Ransomware Crews Shift to Data Theft as Payments Decline",
        ("Cybersecurity", "Threat Intelligence"),
        "Priya Raman",
        True,
        88.0,
        "ransomware-data-theft",
        (
            "Fewer victims are paying ransoms, and the groups behind the attacks are adapting. "
            "Incident responders say more intrusions now skip encryption entirely and go "
            "straight to stealing data for extortion.",
            "The change shortens attacks from weeks to days. Without the need to stage "
            "encryption across a network, intruders can copy a file share, post a sample to a "
            "leak site and open negotiations before the victim's security team has finished "
            "its first review.",
            "Defenders are responding by watching outbound traffic more closely: large, "
            "unexplained transfers to cloud storage providers are now one of the most reliable "
            "early signs of an attack in progress.",
        ),
    ),
    (
        1,
        16,
        "Transfer Prices for IPv4 Blocks Steady After Two Years of Decline",
        ("IPv4 Markets",),
        "Daniel Okafor",
        False,
        57.0,
        "ipv4-prices-steady",
        (
            "Prices paid for IPv4 address blocks have held steady this quarter after falling "
            "for most of the past two years, brokers say. Mid-sized /20 blocks traded at about "
            "$32 per address, close to the previous quarter's average.",
            "Demand from hosting companies and regional internet providers has picked up, "
            "while supply from large holders selling legacy space has slowed. Leasing, rather "
            "than buying, now accounts for a growing share of transactions.",
            "Brokers caution that IPv6 adoption continues to grow and that any sign of a large "
            "holder releasing space could push prices down again.",
        ),
    ),
    (
        2,
        8,
        "Phishing Kits Now Target Passkey Enrolment Pages",
        ("Cybersecurity",),
        "Hannah Weiss",
        False,
        73.0,
        "phishing-passkey-enrolment",
        (
            "Researchers have found phishing kits that imitate the pages where users enrol a "
            "passkey, a sign that attackers are adjusting to the spread of phishing-resistant "
            "sign-in.",
            "The kits do not break passkeys themselves. Instead they catch users during the "
            "switch, when a password is still accepted and an attacker who has it can enrol a "
            "passkey of their own on the victim's account.",
            "Security teams are advised to require a fresh, strong sign-in before any new "
            "passkey is added, and to alert users by email whenever one is.",
        ),
    ),
    (
        2,
        13,
        "ICANN Opens Comment Period on Next Round Applicant Support",
        ("New TLDs", "Domain Names"),
        "Maya Lindqvist",
        False,
        69.0,
        "icann-applicant-support",
        (
            "ICANN has opened a public comment period on the rules for its applicant support "
            "programme, which will reduce fees for some organisations applying for new generic "
            "top-level domains in the next round.",
            "The draft sets eligibility criteria for non-profits, community groups and "
            "applicants from developing economies, and proposes a fee reduction of up to 85%. "
            "Comments are open for 40 days.",
            "Community members have asked for clearer rules on how support recipients may "
            "transfer a TLD after delegation, to keep the programme from being used by "
            "speculators.",
        ),
    ),
    (
        3,
        11,
        "Threat Report: Botnet Abuses Misconfigured DNS Resolvers for Amplification",
        ("Threat Intelligence", "DNS"),
        "Priya Raman",
        False,
        76.0,
        "botnet-dns-amplification",
        (
            "A botnet first seen this spring has been sending spoofed queries to open DNS "
            "resolvers to flood targets with large responses, according to a report published "
            "on Thursday.",
            "The report counts more than 40,000 resolvers on the internet that still answer "
            "recursive queries from anyone. Most sit on small business routers whose default "
            "settings were never changed.",
            "The authors urge network operators to apply source address validation at their "
            "borders, which stops spoofed traffic from leaving their networks in the first "
            "place.",
        ),
    ),
    (
        3,
        15,
        "A Brand Owner's Guide to the Uniform Rapid Suspension Process",
        ("Domain Names",),
        "Elif Demir",
        False,
        41.0,
        "urs-guide",
        (
            "When a clearly infringing domain appears, the Uniform Rapid Suspension system can "
            "take it offline in a matter of weeks, at a fraction of the cost of a full dispute.",
            "The trade-off is a higher burden of proof: complainants must show clear and "
            "convincing evidence, and the only remedy is suspension for the rest of the "
            "registration period, not a transfer of the name.",
            "Practitioners recommend the process for obvious counterfeit and phishing sites, "
            "and the full dispute policy where the brand owner wants the domain itself.",
        ),
    ),
    (
        4,
        9,
        "Resolver Operators Report Faster Adoption of Encrypted DNS",
        ("DNS", "Cybersecurity"),
        "Tomás Ferreira",
        False,
        66.0,
        "encrypted-dns-adoption",
        (
            "Encrypted DNS now carries about a third of queries at two of the largest public "
            "resolvers, up from a fifth a year ago, their operators said at a network operators' "
            "meeting this week.",
            "Most of the growth comes from operating systems that upgrade to DNS over HTTPS or "
            "DNS over TLS automatically when the configured resolver supports it, without the "
            "user changing a setting.",
            "Enterprise network teams say the change complicates filtering based on DNS, and "
            "several vendors have announced support for discovery of designated resolvers so "
            "that managed devices keep using the company's own.",
        ),
    ),
    (
        4,
        17,
        "Three New Brand TLDs Go Live, and One Is Retired",
        ("New TLDs",),
        "Elif Demir",
        False,
        38.0,
        "brand-tlds-live",
        (
            "Three brand top-level domains were delegated to the root zone this week, while "
            "another brand asked ICANN to terminate its registry agreement.",
            "The retirements follow a familiar pattern: a brand that applied in 2012 never "
            "built a strategy around its TLD and decided the annual fees were no longer worth "
            "paying.",
            "Consultants say the brands that succeed treat the TLD as infrastructure, moving "
            "product pages and customer portals onto it so that customers learn to trust it.",
        ),
    ),
    (
        5,
        10,
        "Regional Registry Tightens Rules for IPv4 Transfers",
        ("IPv4 Markets",),
        "Daniel Okafor",
        False,
        52.0,
        "registry-transfer-rules",
        (
            "A regional internet registry has adopted a policy that bars organisations from "
            "transferring IPv4 space they received within the past 24 months, closing a route "
            "that some used to resell allocations quickly.",
            "The registry said the rule brings its policy in line with other regions and is "
            "meant to make sure addresses go to networks that use them.",
            "Brokers expect little effect on prices, since most traded space is legacy "
            "address space that the new waiting period does not cover.",
        ),
    ),
    (
        6,
        12,
        "Weekend Read: What the Latest Breach Disclosures Tell Us About Dwell Time",
        ("Threat Intelligence",),
        "Hannah Weiss",
        False,
        47.0,
        "breach-dwell-time",
        (
            "Dwell time, the gap between an intruder's first access and its discovery, has "
            "shrunk to a median of about ten days, according to breach disclosures filed "
            "this year.",
            "Part of the drop is good news: detection tools have improved and more companies "
            "monitor their networks around the clock. Part of it is less reassuring, since "
            "extortion groups now announce themselves as soon as they have stolen data.",
            "The disclosures also show that stolen credentials remain the most common way in, "
            "ahead of unpatched software and phishing.",
        ),
    ),
]

_SUBSCRIBERS: list[tuple[str, str, tuple[str, ...]]] = [
    ("ana.sousa@example.org", "Ana", ()),
    ("ben.hughes@example.org", "Ben Hughes", ()),
    ("chen.wei@example.com", "Chen Wei", ("DNS", "Cybersecurity")),
    ("dora.kim@example.com", "", ("Domain Names", "New TLDs")),
    ("emeka.obi@example.org", "Emeka", ("IPv4 Markets",)),
    ("frida.nilsen@example.com", "Frida Nilsen", ()),
]


def demo_articles(config: Config, now: datetime) -> list[Article]:
    """The demo articles, dated inside the last complete week before ``now``."""
    week = last_complete_week(now, config.tz)
    monday = week.start.date()
    articles = []
    for day, hour, title, topics, author, featured, score, slug, paragraphs in _ARTICLES:
        local = datetime.combine(monday + timedelta(days=day), time(hour), tzinfo=config.tz)
        body = "".join(f"<p>{p}</p>\n" for p in paragraphs)
        articles.append(
            Article(
                id=0,
                url=f"{SITE}/{local:%Y/%m}/{slug}",
                title=title,
                published_at=local,
                body=body,
                author=author,
                topics=topics,
                featured=featured,
                score=score,
            )
        )
    return articles


def load_demo(config: Config, db: Database, now: datetime) -> tuple[int, int]:
    """Load demo articles and subscribers; return how many of each were added."""
    added_articles = sum(
        store.upsert_article(db, a, now) == "added" for a in demo_articles(config, now)
    )
    added_subscribers = sum(
        save_subscriber(db, email, name, topics, now) == "added"
        for email, name, topics in _SUBSCRIBERS
    )
    return added_articles, added_subscribers
