"""Text preparation for the constraint parser: normalising, number words, spelling,
negation and past-tense scopes, and who a query is about (people under 18,
businesses, places outside the data).

Everything here is general English handling, independent of any data set:

- number words become digits ("twenty-five" -> 25, "sixty thousand" -> 60000, "half a
  million" -> 500000), so ranges in words and in digits are parsed alike;
- a word that is not a known English word and is one or two typing errors away from a
  word of the parser's vocabulary is corrected to it ("credt" -> "credit"); known words
  are never changed (a real word is not a typo we can tell apart);
- a negation cue ("not", "n't", "no", "never", "without", "except", "excluding", "other
  than", "apart from", "rather than", "anyone but", "non-") opens a scope that runs to
  the end of its clause (punctuation, or "and", "but", "with", "who", "that"...);
  "or"/"nor" keep it open; constraints inside it get negative polarity;
- a past cue ("used to", "formerly", "previously", "once had", "no longer", "ex-")
  opens the same kind of scope: what someone was is not what they are, so it counts
  against a cluster like a negation ("used to be subprime, now prime").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from graphs.cluster_router.lexicon import LEXICON_WORDS

# ---------------------------------------------------------------- normalising


def normalise(query: str) -> str:
    text = query.lower().replace("\u2019", "'").replace("\u2018", "'")
    text = re.sub(r"[\u2010-\u2015\u2212]", "-", text)
    return re.sub(r"\s+", " ", text).strip()


# ---------------------------------------------------------------- number words

_UNITS = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD = "|".join([*_UNITS, *TENS, *_SCALES, "one", "a", "half"])
_NUMBER_RUN = re.compile(rf"\b(?:(?:{_NUMBER_WORD})(?:[- ]|\b)(?:(?<=hundred )and )?)+")


def _words_to_number(words: list[str]) -> int | None:
    total = current = 0
    seen = False
    for w in words:
        if w in ("and",):
            continue
        if w in _UNITS:
            current += _UNITS[w]
        elif w in TENS:
            current += TENS[w]
        elif w in ("one", "a"):
            current += 1
        elif w == "hundred":
            current = max(current, 1) * 100
        elif w in ("thousand", "million"):
            total += max(current, 1) * _SCALES[w]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _replace_number_run(m: re.Match[str]) -> str:
    text = m.group(0)
    trailing = text[len(text.rstrip(" -")) :]
    words = [w for w in re.split(r"[- ]", text.strip(" -")) if w]
    # "half a million" / "a half million"
    if "half" in words:
        if words[-1] in ("million", "thousand") and set(words[:-1]) <= {"half", "a"}:
            return f"{_SCALES[words[-1]] // 2}{trailing}"
        return text
    # lone "a"/"one"/"a thousand"-less words stay words ("a", "one-person", "one income")
    numeric = [w for w in words if w not in ("a", "and")]
    if numeric in (["thousand"], ["million"], ["hundred"]) and words[0] != "a":  # "250 thousand" stays
        return text
    if not numeric or numeric == ["one"] or (words[0] == "a" and words[-1] not in _SCALES):
        return text
    while words and words[0] == "a" and len(words) > 1 and words[1] not in _SCALES:
        words = words[1:]
    while len(words) > 1 and words[-1] in ("a", "and"):  # "forty thousand a year": "a" is not a number
        trailing = f" {words.pop()}{trailing}"
    value = _words_to_number(words)
    if value is None:
        return text
    prefix = "a " if text.startswith("a ") and words[0] != "a" else ""
    return f"{prefix}{value}{trailing}"


def number_words_to_digits(text: str) -> str:
    """ "twenty-five to thirty-four" -> "25 to 34"; "sixty thousand" -> "60000"."""
    return _NUMBER_RUN.sub(_replace_number_run, text)


# ---------------------------------------------------------------- spelling

# The words the parser keys on. A typo is corrected only towards these.
DOMAIN_WORDS = (
    frozenset(
        """
    millennial millennials boomer boomers baby retiree retirees retired retirement senior seniors
    elderly pensioner pensioners generation zoomer zoomers teens teenagers students student college
    university young younger youth middle aged midlife career professional professionals executives
    widow widows widowed single singles married couple couples family families parent parents
    mother mothers father fathers moms dads kids children raising alone living unmarried spouse
    credit score scores prime subprime superprime nearprime excellent exceptional stellar perfect
    outstanding pristine great good decent fair average okay middling mediocre poor damaged bruised
    weak impaired subpar challenged strong solid creditworthy usage users heavy frequent active
    moderate light minimal infrequent rarely revolvers revolving maxed thin files file starters
    auto vehicle vehicles truck trucks loans loan payments payment balances balance financing
    finance financed debt debts owe income incomes earning earners earner salary salaries salaried
    affluent wealthy wealth rich millionaires investors investor savings assets portfolio portfolios
    equity homeowner homeowners homeownership mortgage mortgages renters renter renting rent tenants
    apartment apartments dwellers property owners graduate graduates degree degrees educated
    borrowers borrower lenders masters bachelor bachelors doctorate doctorates advanced school donors donor donate donates
    donating donation donations political politics campaign campaigns candidates causes contributions
    spenders spending spend splurge luxury lavish discretionary frugal thrifty budget bargain
    savers cautious women woman female females ladies men male males hispanic latino latina
    african american americans asian black white caucasian northeast midwest midwestern south
    southern west western struggling paycheck modest fixed stretched strapped wealthiest
    income executive consumers households household retirees elderly thousand million
    between approximately around roughly about nearly almost older than under over above below
    """.split()
    )
    | LEXICON_WORDS
)

# Real words a typo-looking token may be: never "corrected".
_KEEP = frozenset(
    """
    there their three these those where were here have hare more most mode made many mine
    long lone line lane loan load lead leaf lean mean meat seat sent rent runt rest best test
    with what when then than that this them they such much must just past post part port sort
    some same come came home hole hold told cold colder bold gold golf good food fool foot
    fast last list lost cost case care core cars card cart cash cats dogs days ways says
    wine wife wide ride rich rice nice mice race rare area ages aged ages once over ever even
    open only into onto unto upon your yours four hour pour poor pool book look took cook
    school schools spend spent spell sell fell feel free tree three trees
    marred marries martyred credits creditor edited married earned learned yearning
    senior seniority junior prim prince primer primed prima primes pride bride
    minor manor major mayor singer sing sang song loner loaner lower power tower mower
    renter enter inter winter writer writers white while whale whole
    debtor debut dent sent bent went want wants wanted wanting
    """.split()
)


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein (optimal string alignment) distance, or limit + 1 when larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
            best = min(best, cur[j])
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Known English words (`english_words.txt`, from the BERT uncased vocabulary)."""
    text = resources.files("graphs.cluster_router").joinpath("english_words.txt").read_text(encoding="utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def _is_known(word: str) -> bool:
    """A known word, or a regular inflection of one (plural, -ing, -ed, -er)."""
    known = english_words()
    if word in known or word in _KEEP:
        return True
    suffixes = {
        "s": [""],
        "es": [""],
        "ies": ["y"],
        "ing": ["", "e"],
        "ed": ["", "e"],
        "er": ["", "e"],
        "ers": ["", "e"],
    }
    for suffix, endings in suffixes.items():
        if word.endswith(suffix):
            stem = word[: -len(suffix)]
            if len(stem) >= 3 and any(stem + e in known for e in endings):
                return True
    return False


@lru_cache(maxsize=4096)
def correct_word(word: str) -> str:
    """The vocabulary word `word` is a typo of, or `word` itself."""
    if len(word) < 4 or word in DOMAIN_WORDS or not word.isalpha() or _is_known(word):
        return word
    limit = 1 if len(word) <= 5 else 2
    best: list[str] = []
    best_d = limit + 1
    for cand in DOMAIN_WORDS:
        if cand[0] != word[0] and cand[:2] != word[1::-1]:
            continue
        d = _edit_distance(word, cand, limit)
        if d < best_d:
            best, best_d = [cand], d
        elif d == best_d:
            best.append(cand)
    if best_d <= limit and len(best) > 1:  # "degres": "degrees" over "degree" (same last letter)
        best = [c for c in best if c[-1] == word[-1]] or best
    if best_d <= limit and len(best) == 1:
        return best[0]
    # a run-together pair of vocabulary words ("babyboomers")
    for i in range(4, len(word) - 3):
        if word[:i] in DOMAIN_WORDS and word[i:] in DOMAIN_WORDS:
            return f"{word[:i]} {word[i:]}"
    return word


def correct_spelling(text: str) -> str:
    return re.sub(r"[a-z]+", lambda m: correct_word(m.group(0)), text)


# ---------------------------------------------------------------- scopes

_NEGATION_CUES = re.compile(
    r"\b(?:not|never|without|except(?: for)?|excluding|exclude|other than|apart from|aside from|rather than"
    r"|instead of|minus|neither|nor|no|none of|(?:anyone|anybody|everyone|everybody|all) but)\b"
    r"|n't\b|\bnon[- ](?=[a-z])"
)
_PAST_CUES = re.compile(
    r"\b(?:used to(?: be| have| own| rent| live)?|formerly|previously|in the past|no longer|once (?=had|was|were|"
    r"been|owned|rented|lived|a |an )|ex-(?=[a-z]))"
)
# Words that close a scope: a new clause or a new positive description starts.
_SCOPE_END = re.compile(
    r"[,;:.!?()]|\b(?:and|but|with|who|whom|whose|that|which|while|though|although|yet|so|because|now|"
    r"currently|today|these days|instead|are|is)\b"
)
MAX_SCOPE_CHARS = 60


@dataclass(frozen=True)
class Scope:
    start: int
    end: int
    kind: str  # "negation" | "past"


def find_scopes(text: str) -> list[Scope]:
    """Negation and past scopes (character spans after their cue)."""
    scopes: list[Scope] = []
    for kind, cues in (("negation", _NEGATION_CUES), ("past", _PAST_CUES)):
        for m in cues.finditer(text):
            start = m.end()
            compound = text.startswith("-", start)
            if m.group(0).startswith("non") or compound:
                # "non-smokers", "never-married", "no-frills": the cue negates its own compound word only
                start += compound
                word = re.match(r"[a-z]+(?:-[a-z]+)?", text[start:])
                end = start + (word.end() if word else 0)
            else:
                end = min(len(text), start + MAX_SCOPE_CHARS)
                # "n't" / "not" is followed by its verb ("don't have", "aren't"): skip one word.
                stop = _SCOPE_END.search(text, start + 1, end)
                end = stop.start() if stop else end
            if end > start:
                scopes.append(Scope(start, end, kind))
    return scopes


def polarity_at(scopes: list[Scope], start: int, end: int) -> str:
    """ "negation", "past" or "" for a phrase at [start, end)."""
    for s in scopes:
        if s.start <= start < s.end:
            return s.kind
    return ""


# ---------------------------------------------------------------- who the query is about

MINOR_WORDS = (
    r"children|child|kids|kid|toddlers?|babies|baby(?![- ]?boomers?)|infants?|minors?|tweens?|pre-?teens?|teens?|teenagers?"
    r"|adolescents?|high[- ]schoolers?|middle[- ]schoolers?|schoolchildren|schoolkids|juveniles?|underage"
    r"|preschoolers?|kindergartners?|grade[- ]schoolers?|gen(?:eration)?[- ]alpha"
)
MINOR_RE = re.compile(rf"\b(?:{MINOR_WORDS})\b|\bhigh[- ]school students?\b|\bunder[- ]?age\b")
# A minor named as someone's child, or "college kids": the people asked about are adults.
PARENTAL_RE = re.compile(
    r"\b(?:parents?|moms?|mothers?|dads?|fathers?|famil(?:y|ies)|households?|homes?|raising|have|has|having|with"
    r"|their|of|caring for|grand ?parents?|guardians?|single|college|university|grown)\b[^,;.]{0,25}$"
)
BUSINESS_RE = re.compile(
    r"\b(?:b2b|businesses|business (?:owners?|buyers?|customers?|clients?|accounts?)|companies|company|corporations?"
    r"|corporate (?:buyers?|clients?|accounts?)|enterprises?|smbs?|smes?|startups?|start-ups?|firms"
    r"|organi[sz]ations|non-?profits?|charities|agencies|municipalities|school districts|hospitals|clinics"
    r"|procurement|purchasing (?:managers?|departments?|teams?|agents?)|(?:it|business|technology|tech|b2b)"
    r" (?:decision[- ]makers?|buyers?|leaders?)|vendors|suppliers|wholesalers|distributors|manufacturers"
    r"|franchise (?:owners?|operators?)|franchisees|fleet (?:managers?|operators?|buyers?|vehicles))\b"
)

# Places outside the USA: countries, their people, continents and large cities. US states
# that share a name with somewhere else (Georgia, New Mexico) and US ethnicities ("Asian
# American", "Mexican-American", "African American") are not foreign.
_COUNTRIES = (
    "canada, mexico, brazil, argentina, chile, colombia, peru, venezuela, cuba, jamaica, haiti, guatemala, "
    "honduras, uk, united kingdom, great britain, britain, england, scotland, wales, ireland, france, germany, "
    "spain, portugal, italy, netherlands, holland, belgium, switzerland, austria, sweden, norway, denmark, "
    "finland, iceland, poland, ukraine, russia, greece, turkey, hungary, czechia, romania, israel, egypt, "
    "morocco, nigeria, kenya, ghana, ethiopia, south africa, saudi arabia, iran, iraq, uae, emirates, qatar, "
    "india, pakistan, bangladesh, china, japan, korea, taiwan, vietnam, thailand, philippines, indonesia, "
    "malaysia, singapore, australia, new zealand, monaco, luxembourg, europe, asia, africa, latin america, "
    "south america, middle east, scandinavia, oceania, toronto, vancouver, montreal, london, manchester, paris, "
    "berlin, munich, madrid, barcelona, rome, milan, amsterdam, brussels, vienna, zurich, geneva, stockholm, "
    "oslo, copenhagen, dublin, lisbon, athens, istanbul, moscow, warsaw, prague, budapest, cairo, lagos, "
    "nairobi, johannesburg, mumbai, delhi, bangalore, beijing, shanghai, hong kong, tokyo, osaka, seoul, "
    "taipei, bangkok, manila, jakarta, sydney, melbourne, auckland, sao paulo, rio de janeiro, buenos aires, "
    "mexico city, lima, bogota, tel aviv, riyadh, doha, abu dhabi, dubai"
)
_DEMONYMS = (
    "canadian, canadians, mexican, mexicans, brazilian, brazilians, argentinian, argentinians, colombian, "
    "colombians, british, brits, scottish, irish, french, german, germans, spanish, spaniards, portuguese, "
    "italian, italians, dutch, belgian, swiss, austrian, swedish, swedes, norwegian, norwegians, danish, danes, "
    "finnish, polish, ukrainian, ukrainians, russian, russians, greek, greeks, turkish, israeli, israelis, "
    "egyptian, egyptians, nigerian, nigerians, kenyan, kenyans, saudi, saudis, iranian, iranians, chinese, "
    "japanese, korean, koreans, taiwanese, vietnamese, thai, filipino, filipinos, indonesian, indonesians, "
    "malaysian, singaporean, australian, australians, aussies, kiwis, european, europeans"
)


def _phrase_alternation(names: str) -> str:
    words = {n.strip() for n in names.split(",") if n.strip()}
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


_FOREIGN_PLACE = re.compile(rf"\b(?:{_phrase_alternation(_COUNTRIES)})\b")
_FOREIGN_PEOPLE = re.compile(rf"\b(?:{_phrase_alternation(_DEMONYMS)})\b(?![- ]?americans?\b)")
_NOT_FOREIGN = re.compile(r"\bnew mexico\b|\bnew england\b|\bnew jersey\b|\bpuerto ric\w+")
_ABROAD = re.compile(
    r"\b(?:abroad|overseas|expats?|expatriates|outside (?:the )?(?:us|usa|u\.s\.|united states|america)|non-us|foreign)\b"
)


def foreign_places(text: str) -> list[str]:
    """Places (or peoples) outside the USA that the query names."""
    cleaned = _NOT_FOREIGN.sub(" ", text)
    found = [m.group(0) for m in _FOREIGN_PLACE.finditer(cleaned)]
    found += [m.group(0) for m in _FOREIGN_PEOPLE.finditer(cleaned)]
    found += [m.group(0) for m in _ABROAD.finditer(cleaned)]
    return found


# "Our company wants to reach...": the business is who asks, not who is asked about.
_SPEAKER = re.compile(r"\b(?:our|my|we(?:'re| are)?(?: an?)?|i(?:'m| am)?(?: an?)?|as an?)\s+(?:[a-z&-]+\s+){0,2}$")


_ORGANISATION = frozenset("company corporation startup start-up nonprofit non-profit".split())


def business_mentions(text: str) -> list[tuple[int, int]]:
    """(start, end) of each word naming businesses as the people asked about (not the asker's own)."""
    return [
        (m.start(), m.end())
        for m in BUSINESS_RE.finditer(text)
        if m.group(0) not in _ORGANISATION or not _SPEAKER.search(text[max(0, m.start() - 30) : m.start()])
    ]


def minor_mentions(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, as_someone's_child) for each word naming people under 18."""
    out = []
    for m in MINOR_RE.finditer(text):
        before = text[max(0, m.start() - 40) : m.start()]
        out.append((m.start(), m.end(), bool(PARENTAL_RE.search(before))))
    return out
