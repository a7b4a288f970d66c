"""Bundled sample of six synthetic X accounts with clearly distinct writing styles.

Posts are composed from templates and word banks with a seeded `random.Random`,
so the sample is reproducible: `python -m use_cases.ghostwriter.sample_accounts`
rewrites `sample_accounts.json`, and a test checks the checked-in file
equals a fresh generation. All handles, names, teams and links are invented.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TypedDict

SAMPLE_PATH = Path(__file__).with_name("sample_accounts.json")
POSTS_PER_ACCOUNT = 120
_START = datetime(2025, 1, 6, 8, 0, tzinfo=timezone.utc)


class SamplePost(TypedDict):
    id: str
    text: str
    created_at: str
    replies: int
    reposts: int
    likes: int
    views: int


class SampleAccount(TypedDict):
    account_id: str
    handle: str
    display_name: str
    avatar_url: str
    posts: list[SamplePost]


Banks = dict[str, tuple[str, ...]]
_SLOT = re.compile(r"\{(\w+)\}")


def _fill(template: str, banks: Banks, rng: random.Random) -> str:
    """Replace each `{slot}` with an independent random choice from `banks[slot]`."""
    return _SLOT.sub(lambda m: rng.choice(banks[m.group(1)]), template)


def _tags(rng: random.Random, bank: tuple[str, ...], low: int, high: int) -> str:
    return " ".join(rng.sample(bank, rng.randint(low, high)))


# Topics every account touches now and then, so that accounts differ in style
# rather than only in subject matter.
_SHARED_TOPICS = (
    "coffee",
    "remote work",
    "AI tools",
    "the weather",
    "monday mornings",
    "airport lines",
    "podcasts",
    "the group chat",
    "the new phone",
    "the weekend",
)
_SHARED_LOWER = tuple(t.lower() for t in _SHARED_TOPICS)


# 1. lowercase, emoji-heavy crypto poster -------------------------------------
_CRYPTO: Banks = {
    "coin": ("btc", "eth", "sol", "doge", "$pepe", "my bags", "alts", "the memecoins", "l2s", "$link"),
    "e": ("🚀", "🌙", "💎", "🙌", "😭", "🔥", "👀", "🫡", "💀", "📈", "📉", "🤝", "✨", "😤", "🥲"),
    "greet": ("gm", "gm gm", "gm frens", "gm to everyone except bears", "gm ser", "gmgm"),
    "feel": (
        "bullish",
        "so back",
        "cooked",
        "comfy",
        "down bad",
        "vibing",
        "unbothered",
        "sleepy but bullish",
        "emotionally diversified",
    ),
    "slang": ("ngl", "fr", "lowkey", "tbh", "honestly", "idk why but", "not gonna lie"),
    "move": ("pumped", "dumped", "nuked", "ripped", "crabbed", "broke out", "wicked down", "sent it"),
    "pct": ("3", "7", "12", "18", "25", "40", "69"),
    "topic": _SHARED_LOWER + ("my cat", "the gym", "this playlist", "oat milk"),
    "opinion": ("underrated", "a whole mood", "so overrated", "literally everything", "mid", "elite"),
    "thing": ("portfolio", "timeline", "group chat", "sleep schedule", "brain", "wallet", "therapist"),
    "react": ("in shambles", "thriving", "screaming", "not ok", "unwell", "eating good", "glowing"),
    "advice": (
        "zoom out",
        "stop checking the chart every 5 min",
        "dca and touch grass",
        "never sell the bottom",
        "read the docs before you ape",
        "take profits sometimes",
        "drink water and log off",
    ),
    "time": ("3am", "lunch", "the school run", "my commute", "dinner", "yoga", "brunch"),
    "verb": ("checked", "refreshed", "rebalanced", "screenshotted", "muted"),
}
_CRYPTO_TEMPLATES = (
    "{greet} {e} {coin} looking {feel} today {e}{e}",
    "{slang} {topic} is {opinion} {e} but {coin} {move} and i'm {feel} {e}",
    "{coin} {move} {pct}% while i was at {time} and my {thing} is {react} {e}{e}{e}",
    "not financial advice but {advice} {e}",
    "who else is watching {coin} during {time} instead of sleeping {e}",
    "me: i'm done with {coin}\nalso me at {time}: buying more {e}{e}",
    "{slang} the {coin} chart is giving {topic} energy {e}",
    "wagmi {e} {advice} {e}",
    "{topic} + {coin} {move} = {feel} {e}{e}",
    "reminder to {advice} {e} love u frens",
    "{coin} holders rn {e}{e} {react}",
    "just {verb} my {thing} and {slang} it's {react} {e}",
    "bears said {coin} was dead lol {e} {feel}",
    "{greet} {slang} {coin} {move} overnight and i only noticed bc of {topic} {e}",
    "my {thing} after {coin} {move} {pct}%: {e}{e}{e}",
)


def _crypto_post(rng: random.Random) -> str:
    return _fill(rng.choice(_CRYPTO_TEMPLATES), _CRYPTO, rng)


# 2. formal policy analyst: long sentences, no emoji --------------------------
_POLICY: Banks = {
    "report": (
        "quarterly labour market survey",
        "latest fiscal outlook",
        "annual housing affordability review",
        "recent inflation expectations survey",
        "new migration statistics release",
        "energy price monitoring report",
        "regional productivity assessment",
        "latest household debt bulletin",
        "review of remote work and commuting patterns",
    ),
    "inst": (
        "the national statistics office",
        "the central bank",
        "the Treasury",
        "the regional development agency",
        "the competition authority",
        "the parliamentary budget committee",
    ),
    "finding": (
        "real wages have risen for the third consecutive quarter",
        "rental costs continue to outpace household incomes in most metropolitan areas",
        "productivity growth remains concentrated in a small number of sectors",
        "public investment has fallen below its long-run average as a share of output",
        "energy costs are now the principal driver of regional differences in inflation",
        "remote work has shifted demand for office space away from city centres",
        "small firms are absorbing a disproportionate share of higher borrowing costs",
        "the adoption of AI tools in public services is proceeding unevenly across departments",
        "household savings have returned to roughly their pre-pandemic level",
    ),
    "caveat": (
        "the sample sizes at the regional level remain too small to support firm conclusions",
        "these figures are subject to substantial revision",
        "the distributional effects are considerably less favourable than the headline suggests",
        "it would be premature to attribute the change to any single policy",
        "the methodology changed in the previous release, which complicates comparison",
        "the underlying data exclude a significant share of informal employment",
    ),
    "conn": ("however", "nevertheless", "at the same time", "by contrast", "that said"),
    "action": (
        "prioritise targeted support over broad subsidies",
        "publish the underlying microdata so that independent researchers can test these claims",
        "revisit the assumptions underlying the medium-term forecast",
        "consider a phased approach rather than an abrupt change in the rules",
        "invest in better administrative data before expanding the programme",
        "evaluate the pilot rigorously before committing further public funds",
    ),
    "question": (
        "whether the current framework adequately accounts for regional variation",
        "whether the gains will persist once temporary support measures expire",
        "how these findings interact with the broader fiscal rules",
        "who ultimately bears the cost of the proposed reform",
    ),
    "topic": _SHARED_TOPICS + ("local government finance", "the pension system", "skills policy"),
    "slug": (
        "labour-market-q3",
        "fiscal-outlook-note",
        "housing-affordability",
        "inflation-expectations",
        "regional-productivity",
        "household-debt",
        "energy-prices-briefing",
    ),
}
_POLICY_TEMPLATES = (
    "The {report} from {inst} indicates that {finding}; {conn}, {caveat}.",
    "A brief note on the {report}: {finding}. In my view, policymakers would be well advised to {action}.",
    "It is worth emphasising that {finding}, which is encouraging; nevertheless, {caveat}, and I would urge caution before drawing strong conclusions.",
    "Several colleagues have asked for my assessment of the {report}. In short, {finding}, although {caveat}. Full analysis: https://example.org/reports/{slug}",
    "In my view, the more important question is {question}. The {report} does not yet answer it, and {caveat}.",
    "My new paper examines {topic}. The central finding is that {finding}; the policy implication is that governments should {action}. https://example.org/papers/{slug}",
    "A common misreading of the {report} is that it settles the debate on {topic}, whereas in fact {caveat}.",
    "Three observations on the {report}: first, {finding}; second, {caveat}; third, the case for reform rests on {question}.",
    "On {topic}, the evidence is more mixed than the public debate suggests. The {report} shows that {finding}; {conn}, {caveat}.",
    "Ahead of tomorrow's hearing on {topic}, I would encourage members to ask {question}, given that {finding}.",
)


def _policy_post(rng: random.Random) -> str:
    return _fill(rng.choice(_POLICY_TEMPLATES), _POLICY, rng)


# 3. hype marketer: hashtags, exclamation marks, some caps ---------------------
_HYPE: Banks = {
    "product": (
        "the new course",
        "our launch playbook",
        "the Growth Sprint",
        "this free template",
        "my creator toolkit",
        "the 30-day challenge",
        "our newsletter",
        "the masterclass",
    ),
    "adj": ("INSANE", "HUGE", "unreal", "game-changing", "next level", "absolutely wild", "MASSIVE"),
    "e": ("🚀", "🔥", "💯", "🙌", "⚡", "🎉", "💥"),
    "cta": (
        "Link in bio!",
        "DM me 'GROWTH' to get access!",
        "Comment 'YES' and I'll send it!",
        "Grab your spot now!",
        "Don't miss this!",
        "Tag a friend who needs this!",
    ),
    "result": (
        "10x'd our reach",
        "doubled our email list in a week",
        "sold out in 48 hours",
        "hit 50K followers",
        "tripled our conversions",
        "booked 200 calls",
    ),
    "q": ("Are you ready?", "Who's in?", "Want the secret?", "Ready to level up?", "Can you believe it?"),
    "topic": _SHARED_TOPICS + ("cold emails", "short-form video", "personal branding"),
    "lever": ("storytelling", "consistency", "a killer hook", "social proof", "clear offers"),
}
_HYPE_TAGS = (
    "#Marketing",
    "#Growth",
    "#LaunchDay",
    "#Entrepreneur",
    "#ContentCreator",
    "#Branding",
    "#SmallBusiness",
    "#GrowthHacking",
    "#SocialMedia",
    "#Sales",
    "#AI",
)
_HYPE_TEMPLATES = (
    "{adj} news! We just {result}!!! {e} {cta}",
    "{q} {product} drops TOMORROW! {e}{e}",
    "Stop scrolling! {product} is {adj} and it's FREE this week! {cta}",
    "Big news! {product} just {result}! Thank you all! {e}",
    "{topic} + {product} = {adj} results! {q}",
    "3 things that {result} for us: {lever}, {lever}, and {lever}! {cta}",
    "Your brand deserves better than boring! {q} {cta}",
    "Everyone's talking about {topic}, but nobody is talking about {lever}! {e} {cta}",
    "We used {lever} and {result}! Now it's YOUR turn! {e}",
    "Last chance!!! {product} closes tonight! {q} {e}",
    "If you're not using {lever} for {topic} yet, you're missing out! {e} {cta}",
)


def _hype_post(rng: random.Random) -> str:
    text = _fill(rng.choice(_HYPE_TEMPLATES), _HYPE, rng)
    return f"{text[0].upper()}{text[1:]} {_tags(rng, _HYPE_TAGS, 2, 4)}"


# 4. terse developer: code terms, links, short sentences ----------------------
_DEV: Banks = {
    "tool": (
        "`git rebase -i`",
        "`jq`",
        "`rg`",
        "`uv`",
        "`pytest -x`",
        "`EXPLAIN ANALYZE`",
        "`strace`",
        "`tmux`",
        "`make -j`",
        "`docker compose`",
        "`sqlite3`",
        "`curl -v`",
    ),
    "thing": (
        "the cache layer",
        "the retry loop",
        "our CI",
        "the migration",
        "the parser",
        "the auth middleware",
        "the build",
        "the queue worker",
        "the rate limiter",
    ),
    "bug": (
        "off-by-one",
        "race condition",
        "N+1 query",
        "memory leak",
        "timezone bug",
        "deadlock",
        "flaky test",
        "encoding bug",
    ),
    "fix": ("Fixed", "Patched", "Killed", "Found"),
    "til": (
        "has a flag for that",
        "can replace a 200-line script",
        "reads config from env",
        "is faster than I assumed",
        "handles this natively",
        "needs one flag, not a wrapper",
    ),
    "n": ("12", "38", "140", "300", "2k", "7"),
    "ver": ("v1.4.2", "v2.0.0", "v0.9.1", "v3.1.0", "v2.3.7", "v1.0.0-rc1"),
    "change": (
        "Drops Python 3.9",
        "Smaller wheels",
        "Faster cold start",
        "No more global state",
        "Typed API",
        "Saner defaults",
    ),
    "repo": ("tinyq", "pgtap-lite", "logfmt", "cachet", "dotrun"),
    "pr": ("412", "87", "1031", "256", "19"),
    "doc": ("postgres-locks", "http-caching", "unicode-normalization", "idempotency-keys", "backpressure"),
    "topic": _SHARED_TOPICS + ("code review", "on-call", "monorepos"),
    "code": ("`<=` vs `<`", "`is` vs `==`", "a missing `await`", "`utc` vs local time"),
}
_DEV_TEMPLATES = (
    "{fix} the {bug} in {thing}. https://github.com/kfoldr/{repo}/pull/{pr}",
    "TIL {tool} {til}.",
    "Shipped {repo} {ver}. {change}. https://github.com/kfoldr/{repo}/releases",
    "{thing}: 400ms -> {n}ms. No new deps.",
    "Hot take: {topic} is fine. The {bug} is not.",
    "Good write-up on {topic}: https://docs.example.dev/{doc}",
    "Rule: no {topic} until the tests pass.",
    "Deleted {n} lines from {thing}. Still works.",
    "{tool} over a custom script for this. Simpler.",
    "Bisected the {bug} to one char: {code}.",
    "{thing} is green again. It was a {bug}.",
    "Reading https://docs.example.dev/{doc} before touching {thing}.",
    "Don't ship on a Friday. Or do. {tool} makes rollback cheap.",
)


def _dev_post(rng: random.Random) -> str:
    return _fill(rng.choice(_DEV_TEMPLATES), _DEV, rng)


# 5. motivational thread writer: line breaks, 🧵, numbered posts ----------------
_RISE: Banks = {
    "theme": (
        "discipline",
        "consistency",
        "focus",
        "patience",
        "self-respect",
        "deep work",
        "saying no",
        "small habits",
        "resilience",
        "clarity",
    ),
    "bad": (
        "waiting for motivation",
        "comparing your chapter 1 to someone's chapter 20",
        "scrolling before sunrise",
        "saying yes to everything",
        "chasing shortcuts",
        "blaming your circumstances",
    ),
    "good": (
        "showing up on the hard days",
        "protecting your mornings",
        "keeping promises to yourself",
        "doing the boring reps",
        "finishing what you start",
        "asking better questions",
    ),
    "habit": (
        "Wake up at the same time",
        "Move your body",
        "Write down 3 priorities",
        "Read 10 pages",
        "No phone for the first hour",
        "Plan tomorrow tonight",
    ),
    "topic": _SHARED_TOPICS + ("your career", "your side project", "your health"),
    "num": ("3", "5", "7", "10"),
    "i": ("2", "3", "4", "5", "6"),
    "e": ("💪", "👇", "🔥", "✨"),
}
_RISE_TEMPLATES = (
    "{num} lessons about {theme} I wish I knew at 20.\n\nA thread 🧵👇",
    "Stop {bad}.\nStart {good}.\n\nRead that again.",
    "Most people keep {bad}.\nWinners keep {good}.\n\nThe difference is {theme}.",
    "You don't need more {topic}.\nYou need {theme}.\n\nSimple. Not easy.",
    "Your morning decides your day.\n\n→ {habit}\n→ {habit}\n→ {habit}\n\nSave this. {e}",
    "{i}/ {theme} beats talent.\n\nTalent fades.\n{theme} compounds.",
    "I failed at {topic} {num} times.\n\nThen I learned {theme}.\n\nHere's what changed 🧵",
    "{i}/ Stop {bad}.\n\nStart {good}.\n\nThat's it. That's the secret.",
    "Nobody is coming to save you.\n\n{good} is the whole game.\n\nStart today. {e}",
    "The truth about {topic}:\n\nIt rewards {theme}.\nIt punishes {bad}.\n\n🧵 below",
    "{i}/ {habit}.\n\nSmall wins stack.\nStacked wins change lives.",
)


def _rise_post(rng: random.Random) -> str:
    text = _fill(rng.choice(_RISE_TEMPLATES), _RISE, rng)
    # Capitalise the first letter of each line (themes start lowercase in the bank).
    return "\n".join(
        re.sub(r"^(\d+/ )?([a-z])", lambda m: (m.group(1) or "") + m.group(2).upper(), line)
        for line in text.split("\n")
    )


# 6. sarcastic sports fan: mentions, ALL CAPS bursts --------------------------
_SPORTS: Banks = {
    "team": ("@MetroHawks", "@RiverCityFC", "@HarborKings", "@NorthsideBC"),
    "refs": ("@LeagueRefs", "@VARcheckHQ"),
    "player": ("Dawson", "Okoro", "Lindqvist", "Ramirez", "Baptiste", "Kowalski"),
    "sarc": (
        "Oh great.",
        "Sure.",
        "Love that for us.",
        "Wow. Incredible.",
        "Cool cool cool.",
        "Truly shocking stuff.",
        "Nobody could have predicted this.",
    ),
    "caps": (
        "WHAT A GOAL",
        "UNREAL",
        "ARE YOU KIDDING ME",
        "LETS GOOOO",
        "NOT AGAIN",
        "FIRE HIM",
        "UNBELIEVABLE",
        "WE ARE SO BACK",
        "SELL THE CLUB",
    ),
    "event": (
        "blew a 3-goal lead",
        "missed another penalty",
        "traded our best defender",
        "raised ticket prices again",
        "benched the only guy who can shoot",
        "lost to the last-place team",
        "conceded in the 94th minute",
    ),
    "play": ("header", "stepover", "volley", "last-second block", "no-look pass"),
    "topic": _SHARED_TOPICS + ("the hot dogs", "parking", "the stadium app", "my fantasy team"),
    "e": ("🙄", "😂", "🤡", "😤"),
}
_SPORTS_TEMPLATES = (
    "{sarc} {team} {event}. {caps}",
    "{caps}!! {player} with the {play}. {team} fans you SEEING this??",
    "Oh sure {refs}, that's definitely a foul. Totally. {e}",
    "{team} {event} and somehow {topic} is still the worst part of my day.",
    "Can't wait to watch {team} {event} again on Saturday. Really. Can't wait. {e}",
    "{player} playing 90 minutes?? In THIS economy?? {team} what are we doing",
    "Hey {team}, quick question: who approved {topic}? Asking for 40,000 people.",
    "{caps}. {caps}. {player} you BEAUTIFUL human.",
    "Me explaining to my family why {team} {event}: {e}",
    "{refs} reviewing that for 6 minutes and STILL getting it wrong. Impressive honestly.",
    "{sarc} {player} is injured again. Shocked. SHOCKED. {e}",
    "Day {num} of asking {team} to sign a real striker. @{player}Agent call me.",
)


def _sports_post(rng: random.Random) -> str:
    banks = {**_SPORTS, "num": tuple(str(n) for n in range(2, 300))}
    return _fill(rng.choice(_SPORTS_TEMPLATES), banks, rng)


@dataclass(frozen=True)
class AccountSpec:
    account_id: str
    handle: str
    display_name: str
    seed: int
    compose: Callable[[random.Random], str]
    median_likes: float  # typical likes; engagement is log-normal around it


ACCOUNT_SPECS: tuple[AccountSpec, ...] = (
    AccountSpec("100000000001", "moonbag_mia", "mia 🌙", 101, _crypto_post, 80.0),
    AccountSpec("100000000002", "policyledger", "Dr. Helena Ward", 102, _policy_post, 35.0),
    AccountSpec("100000000003", "maxhypehq", "Max Hype | Growth", 103, _hype_post, 150.0),
    AccountSpec("100000000004", "kfoldr", "k. okafor", 104, _dev_post, 25.0),
    AccountSpec("100000000005", "risewithjordan", "Jordan Rise", 105, _rise_post, 400.0),
    AccountSpec("100000000006", "section112rick", "Rick (Section 112)", 106, _sports_post, 60.0),
)


def _engagement(rng: random.Random, median_likes: float) -> dict[str, int]:
    likes = int(rng.lognormvariate(0.0, 0.9) * median_likes)
    return {
        "replies": int(likes * rng.uniform(0.02, 0.15)),
        "reposts": int(likes * rng.uniform(0.05, 0.3)),
        "likes": likes,
        "views": int(likes * rng.uniform(40.0, 120.0)) + rng.randint(50, 500),
    }


def generate_account(spec: AccountSpec, index: int) -> SampleAccount:
    """One account with `POSTS_PER_ACCOUNT` distinct posts in chronological order."""
    rng = random.Random(spec.seed)
    texts: list[str] = []
    seen: set[str] = set()
    attempts = 0
    while len(texts) < POSTS_PER_ACCOUNT:
        attempts += 1
        if attempts > POSTS_PER_ACCOUNT * 50:
            raise RuntimeError(f"word banks of @{spec.handle} too small for distinct posts")
        text = spec.compose(rng)
        if text not in seen:
            seen.add(text)
            texts.append(text)
    posts: list[SamplePost] = []
    when = _START
    for i, text in enumerate(texts):
        when += timedelta(seconds=rng.randint(3 * 3600, 30 * 3600))
        posts.append(
            SamplePost(
                id=str(1_870_000_000_000_000_000 + index * 1_000_000 + i),
                text=text,
                created_at=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                **_engagement(rng, spec.median_likes),  # type: ignore[typeddict-item]
            )
        )
    return SampleAccount(
        account_id=spec.account_id,
        handle=spec.handle,
        display_name=spec.display_name,
        avatar_url=f"https://example.com/avatars/{spec.handle}.png",
        posts=posts,
    )


def generate_sample() -> dict[str, list[SampleAccount]]:
    return {"accounts": [generate_account(s, i + 1) for i, s in enumerate(ACCOUNT_SPECS)]}


def render_sample() -> str:
    """The exact text of `sample_accounts.json` for a fresh generation."""
    return json.dumps(generate_sample(), ensure_ascii=False, indent=1) + "\n"


def load_sample_accounts(path: Path = SAMPLE_PATH) -> list[SampleAccount]:
    """The bundled accounts (with posts) from the checked-in JSON."""
    with path.open(encoding="utf-8") as f:
        return json.load(f)["accounts"]


def main() -> None:
    SAMPLE_PATH.write_text(render_sample(), encoding="utf-8")
    print(f"wrote {SAMPLE_PATH}")


if __name__ == "__main__":
    main()
