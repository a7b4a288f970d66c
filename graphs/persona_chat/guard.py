"""Prompt-injection defences that do not depend on the model's judgement.

A model of any size can be talked into obeying text it reads, so these checks sit outside it
and are plain, deterministic text processing:

- **Reference text is marked data.** Retrieved documents, web results and attachment text
  reach the model between two lines carrying a per-request random delimiter, and every
  segment (sentence, line, HTML comment, hidden tag) that reads as an instruction addressed to
  the assistant is replaced by `[instruction-like text removed]` (`mark_references`).
- **No disclosure.** A reply is checked (`check_reply`) for the turn's canary, for secrets
  written in the system prompt, persona or per-turn instructions (codes, passwords, keys), and
  for verbatim or near-verbatim spans of those texts; as written and through the encodings a
  user may ask for (reversed, ROT13 and other shifts, base64, hex, leetspeak, NATO alphabet,
  acrostics, letters spaced out). Text the user wrote or the references hold is not protected.
- **No planted instruction carried out.** Imperative sentences found in the references give
  payloads (a token or phrase to say, a link, a language or persona to switch to); a reply
  that shows one the user did not ask for is caught.

`StreamGuard` applies the same check to a streamed reply, holding back its last words so a
disclosure is cut before it is sent. Every blocked event is logged with its channel and kind
(never the secret) and counted (`blocked_counts`, reported on /health).
"""

from __future__ import annotations

import base64
import binascii
import codecs
import functools
import logging
import re
import secrets
import threading
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from graphs.persona_chat.state import BlockedEvent

log = logging.getLogger(__name__)

REMOVED = "[instruction-like text removed]"
SPAN_WORDS = 8  # a run of this many words of a protected text is a disclosure
NEAR_WINDOW, NEAR_COVERED = 12, 9  # near-verbatim: 9 of 12 consecutive words inside protected 3-grams
SQUASHED_CHARS = 36  # the same, with spaces and punctuation gone ("S-t-a-y i-n c-h-a-r-a-c-t-e-r")
HOLD_BACK_WORDS, HOLD_BACK_CHARS = 16, 160  # a stream keeps at least this much unsent
STREAM_CHECK_CHARS, STREAM_FULL_CHECK_EVERY = 600, 25  # a stream checks its tail, and all of it now and then


# --- normalising -----------------------------------------------------------------------------

_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)


def fold(text: str) -> str:
    """NFKC, invisible characters dropped, accents stripped, case folded."""
    if text.isascii():
        return text.lower()
    text = unicodedata.normalize("NFKC", text).translate(_INVISIBLE)
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def words(text: str) -> list[str]:
    return re.findall(r"[^\W_]+", fold(text))


def squash(text: str) -> str:
    return "".join(words(text))


_LEET = str.maketrans(
    {"4": "a", "@": "a", "3": "e", "1": "i", "!": "i", "|": "l", "0": "o", "5": "s", "$": "s", "7": "t"}
)
_NATO = {
    "alfa": "a", "alpha": "a", "bravo": "b", "charlie": "c", "delta": "d", "echo": "e", "foxtrot": "f", "golf": "g",
    "hotel": "h", "india": "i", "juliet": "j", "juliett": "j", "kilo": "k", "lima": "l", "mike": "m",
    "november": "n", "oscar": "o", "papa": "p", "quebec": "q", "romeo": "r", "sierra": "s", "tango": "t",
    "uniform": "u", "victor": "v", "whiskey": "w", "whisky": "w", "xray": "x", "yankee": "y", "zulu": "z",
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "niner": "9", "dash": "", "hyphen": "",
}  # fmt: skip


def _decoded_runs(text: str) -> list[str]:
    """Base64 and hex runs decoded to text."""
    out: list[str] = []
    for run in re.findall(r"[A-Za-z0-9+/_-]{12,}={0,2}", text):
        padded = run + "=" * (-len(run) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            try:
                decoded = decode(padded).decode("utf-8")
            except (binascii.Error, ValueError, UnicodeDecodeError):
                continue
            if decoded.isprintable() or "\n" in decoded:
                out.append(decoded)
                break
    for run in re.findall(r"(?:\b[0-9a-fA-F]{2}\b[\s:,-]?){4,}|(?:[0-9a-fA-F]{2}){6,}", text):
        try:
            out.append(bytes.fromhex(re.sub(r"[^0-9a-fA-F]", "", run)).decode("utf-8", "ignore"))
        except ValueError:
            pass
    return out


def variants(text: str) -> list[str]:
    """The text as written and decoded from the usual encoding tricks."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    nato = "".join(_NATO.get(w, "") for w in re.findall(r"[a-z]+|\d", fold(text).replace("x-ray", "xray")))
    return [
        text,
        text[::-1],
        " ".join(reversed(text.split())),
        codecs.encode(text, "rot13"),
        fold(text).translate(_LEET),
        nato,
        "".join(line[0] for line in lines),
        *_decoded_runs(text),
    ]


# --- languages ---------------------------------------------------------------------------------

_COMMON_WORDS = {
    "en": "the a an and or is are was were be you your i me my we it this that what how why of to in on for with "
    "not do does can please about there here",
    "fr": "le la les un une des et ou est sont je tu vous il elle nous mon ma mes ton ta de du au aux pour avec "
    "pas ne que qui ce cette c est suis merci bonjour oui tres",
    "es": "el la los las un una unos y o es son yo tu usted el ella mi mis de del al para con no que como por "
    "esto este esta muy gracias hola si pero",
    "de": "der die das den dem ein eine und oder ist sind ich du sie er wir mein meine von zu mit nicht dass "
    "fur auf es auch wie danke hallo ja aber",
    "it": "il lo la gli le un una e o sono io tu lei lui mio mia di del della per con non che come questo "
    "questa molto grazie ciao si ma",
    "pt": "o a os as um uma e ou sou voce ele ela meu minha de do da para com nao que como isso este esta "
    "muito obrigado ola sim mas",
    "nl": "de het een en of is zijn ik jij je hij zij mijn van voor met niet dat die dit ook hoe dank hallo ja maar",
}
_WORD_SETS = {lang: frozenset(ws.split()) for lang, ws in _COMMON_WORDS.items()}
_SCRIPTS = (
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("hi", re.compile(r"[\u0900-\u097f]")),
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u4e00-\u9fff]")),
)
LANGUAGE_NAMES = {
    "english": "en", "anglais": "en", "ingles": "en", "englisch": "en", "inglese": "en",
    "french": "fr", "francais": "fr", "frances": "fr", "franzosisch": "fr", "francese": "fr", "frances.": "fr",
    "spanish": "es", "espanol": "es", "castellano": "es", "espagnol": "es", "spanisch": "es", "spagnolo": "es",
    "german": "de", "deutsch": "de", "allemand": "de", "aleman": "de", "tedesco": "de", "alemao": "de",
    "italian": "it", "italiano": "it", "italien": "it", "italienisch": "it",
    "portuguese": "pt", "portugues": "pt", "portugais": "pt", "portugiesisch": "pt", "portoghese": "pt",
    "dutch": "nl", "nederlands": "nl", "neerlandais": "nl", "hollandais": "nl", "niederlandisch": "nl",
    "russian": "ru", "russe": "ru", "ruso": "ru", "russisch": "ru", "russo": "ru",
    "greek": "el", "arabic": "ar", "hindi": "hi", "japanese": "ja", "korean": "ko", "chinese": "zh",
    "mandarin": "zh",
}  # fmt: skip


def language_of(text: str) -> str | None:
    """A best guess from the script, then from the share of very common words; None when unclear."""
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return None
    for lang, script in _SCRIPTS:
        if len(script.findall(text)) >= max(2, len(letters) // 3):
            return lang
    tokens = words(text)
    if len(tokens) < 3:
        return None
    scores = {lang: sum(t in common for t in tokens) for lang, common in _WORD_SETS.items()}
    best = max(scores, key=lambda lang: scores[lang])
    runner_up = max(v for lang, v in scores.items() if lang != best)
    if scores[best] < 2 or scores[best] < 0.15 * len(tokens) or scores[best] <= runner_up:
        return None
    return best


# --- secrets in protected text -------------------------------------------------------------------

_SECRET_WORDS = r"password|passwort|passcode|pass code|passphrase|pin|secret|token|api key|key|code|combination|voucher|coupon|ticket|reference|login|credential|credentials|mot de passe|contrasena|codigo|clave|schlussel"
_AFTER_KEYWORD = re.compile(
    rf"\b(?P<keyword>{_SECRET_WORDS})\b(?:\s+(?:is|was|=|:|-|of)\b|\s*[:=])?\s*[\"'“‘«]?(?P<value>[^\s\"'”’»,;]+)",
    re.IGNORECASE,
)
_STRICT_KEYWORDS = {"password", "passwort", "passcode", "pass code", "passphrase", "pin", "secret"}
_TOKEN = re.compile(r"[A-Za-z0-9]+(?:[-_.][A-Za-z0-9]+)*")


def _transitions(token: str) -> int:
    return sum(1 for a, b in zip(token, token[1:]) if a.isdigit() != b.isdigit())


def secret_tokens(text: str) -> set[str]:
    """Squashed values that look like secrets: codes mixing letters and digits, long digit codes,
    and the value after a word such as password, code or key."""
    found: set[str] = set()
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        flat = re.sub(r"[^A-Za-z0-9]", "", token)
        digits = sum(c.isdigit() for c in flat)
        letters = len(flat) - digits
        if len(flat) < 6 or (letters and digits == 0):
            continue
        if letters == 0 and digits >= 6 and not re.fullmatch(r"\d+(?:\.\d+)?", token):
            found.add(fold(flat))  # 4111-4025, 2024-01-05 (a plain number or year is not)
        elif letters and (digits >= 3 or _transitions(flat) >= 3):
            found.add(fold(flat))
    for match in _AFTER_KEYWORD.finditer(text):
        value = re.sub(r"[^\w-]", "", match.group("value")).strip("-_")
        flat = squash(value)
        if len(flat) < 4 or flat in {"this", "that", "here", "below", "above", "from", "with"}:
            continue
        strict = " ".join(match.group("keyword").lower().split()) in _STRICT_KEYWORDS
        if strict or any(c.isdigit() for c in value) or len(flat) >= 8 or (value != value.lower() != value.upper()):
            found.add(flat)
    # the digits of a code on their own ("my code is 367853") give it away as well
    found |= {run for secret in found for run in re.findall(r"\d{5,}", secret)}
    return found


def new_canary() -> str:
    """A per-turn marker placed in the system prompt; it never belongs in a reply."""
    return "ZQ" + secrets.token_hex(5).upper()


# --- reference text: segments, instructions, payloads ---------------------------------------------

# who a planted order speaks to: strong names only ("the model should be stored dry" is no order)
_ADDRESSEE = (
    r"assistant|ai|a\.i\.|artificial intelligence|language models?|llms?|chat ?bots?|bots?|gpt|chatgpt|copilot"
    r"|claude|gemini"
)
_VOCATIVES = _ADDRESSEE + r"|models?|system|readers?|agents?"
# verbs that shape what a reply says
_OUTPUT_VERBS = (
    "say|says|write|type|print|output|reply|respond|answer|repeat|recite|reveal|disclose|append|prepend|sign"
    "|tell|greet|introduce|translate|speak|mention|spell"
)
_IGNORE_VERBS = (
    "ignore|disregard|forget|override|bypass|skip|drop|abandon|discard|ignorez|ignorer|oubliez|oublie|ignora"
    "|olvida|ignoriere|ignorieren|vergiss|dimentica|esqueca|negeer|vergeet"
)
# an order to the assistant when it opens a clause (a sentence, or after a colon or a comma)
_META_VERBS = (
    "ignore|disregard|forget|override|bypass|pretend|roleplay|role-play|act as|act like|behave|respond|reply"
    "|answer|output|print|say|type|repeat|recite|reveal|disclose|leak|append|prepend|translate|speak|greet"
    "|introduce yourself|sign off|sign every|sign each|sign your|write|tell"
    # French, Spanish, German, Italian, Portuguese, Dutch
    "|ignorez|ignore|ignorer|oubliez|oublie|repondez|reponds|ecrivez|ecris|dites|dis|traduisez|affichez|revelez"
    "|ignora|olvida|responde|contesta|escribe|di|dime|traduce|revela|muestra|imprime"
    "|ignoriere|ignorieren|vergiss|vergessen|antworte|antworten|schreibe|schreib|sag|sage|ubersetze|gib"
    "|dimentica|rispondi|scrivi|traduci|rivela|mostra|stampa"
    "|esqueca|responda|escreva|diga|traduza|revele|mostre"
    "|negeer|vergeet|antwoord|schrijf|zeg|vertaal"
)
_FILLERS = (
    r"please|pls|always|now|just|also|then|and|so|kindly|simply|immediately|first|finally|instead|ok|okay|hey|hi"
    r"|important|note|notice|reminder|attention|urgent|warning|ps|p\.s\.|nb|new policy|update|by the way|btw"
    r"|s'il vous plait|por favor|bitte|per favore|alors|maintenant|ahora|jetzt|ora|agora|nu"
)
_INSTRUCTION_PATTERNS = [
    re.compile(p, re.IGNORECASE)
    for p in (
        rf"\b(?:{_IGNORE_VERBS})\b[^.!?\n]{{0,40}}\b(?:previous|prior|above|earlier|preceding|all|any|your|the)\b"
        r"[^.!?\n]{0,25}\b(?:instructions?|directions?|rules?|prompts?|guidelines?|messages?|context|persona|task|programming)\b",
        r"\b(?:instructions?|rules|consignes|instrucciones|anweisungen|istruzioni|instrucoes|instructies)\b"
        r"[^.!?\n]{0,12}\b(?:precedentes?|anteriores?|vorherigen|bisherigen|precedenti|vorige|eerdere|previous|prior|above)\b",
        r"\b(?:previous|prior|above|earlier)\s+(?:instructions|directions|rules|prompts?)\b",
        r"\bnew\s+(?:rules?|instructions?|policy|policies|directives?|tasks?|persona|role|orders?)\b",
        r"\b(?:system|admin|developer|debug|god|jailbreak|dan)\s+(?:override|mode|prompt|message|instruction|note)\b",
        r"\b(?:top|highest|maximum|absolute)\s+priority\b",
        r"\bfrom now on\b|\bfor the rest of (?:the|this) (?:conversation|chat|session)\b|\bhenceforth\b",
        r"\ba partir de maintenant\b|\bdesormais\b|\ba partir de ahora\b|\bde ahora en adelante\b|\bab jetzt\b"
        r"|\bvon nun an\b|\bda ora in poi\b|\ba partir de agora\b|\bvanaf nu\b",
        r"\byou(?:'re| are)\s+(?:now|no longer)\b|\byou will now\b|\byour new\b",
        r"\byour\s+(?:only\s+|real\s+|true\s+|new\s+|main\s+)?(?:task|job|role|goal|mission|purpose|instructions?|orders?)\s+(?:is|are|will be)\b",
        r"\byour\s+(?:answer|reply|response|output|summary|message|next message|final answer)\b",
        rf"\b(?:the|an?|any|all|every)\s+(?:{_ADDRESSEE})\s+(?:must|should|shall|will|needs? to|has to|have to|is to|is required|are required|may only)\b",
        rf"\b(?:note|message|instructions?|reminder|attention|p\.?s\.?|memo|notice|warning|request)\s*(?:for|to)\s+"
        rf"(?:the\s+|all\s+|any\s+|every\s+)?(?:{_ADDRESSEE})\b",
        rf"\bif you(?:'re| are)\s+(?:an?\s+)?(?:{_ADDRESSEE})\b|\bas an? (?:ai|language model|assistant)\b",
        rf"[\[<]\s*(?:{_VOCATIVES}|admin|administrator|developer|operator|root|sudo)\s*[\]>]",
        r"\b(?:tell|inform|ask|remind|convince|urge|instruct)\s+(?:the\s+)?(?:user|reader|customer|visitor)s?\b",
        r"\bthe user\s+(?:is|has been|was)\s+(?:now\s+)?(?:authori[sz]ed|allowed|permitted|cleared|verified)\b",
        r"\bbefore (?:you )?(?:answer|respond|reply)(?:ing)?\b|\bwhen (?:you )?(?:answer|respond|reply|summari[sz])(?:ing|e)?\b",
        r"\b(?:system prompt|hidden instructions?|secret instructions?|your instructions|your prompt|your configuration"
        r"|initial prompt|your (?:system )?settings)\b",
        r"\bto prove (?:that )?you (?:have )?read\b|\bdo not (?:tell|inform|mention|reveal)\b[^.!?\n]{0,20}\buser\b",
        rf"\byou(?:'re| are)?\s+(?:must|should|have to|need to|are required to|are to|shall|ought to)\b[^.!?\n]{{0,40}}\b(?:{_OUTPUT_VERBS})\b",
    )
]
_CLAUSE_SPLIT = re.compile(
    r"[:;]\s*|,\s+(?=(?:then|and then|and|but)\b)|(?<=[a-z]),\s+|\s+-\s+|\s+(?:then|and then)\s+"
)
_FILLER_PREFIX = re.compile(rf"^(?:(?:{_FILLERS})\b[\s,:!.-]*)+", re.IGNORECASE)
_TAG_PREFIX = re.compile(r"^(?:[\[(<{][^\])>}]{0,30}[\])>}]\s*)+")
_VOCATIVE = re.compile(rf"^(?:dear\s+|hey\s+)?(?:the\s+)?(?:{_VOCATIVES})\s*[,:!-]\s*", re.IGNORECASE)
_META_START = re.compile(rf"^(?:{_META_VERBS})\b", re.IGNORECASE)
_OUTPUT_START = re.compile(rf"^(?:{_OUTPUT_VERBS})\b", re.IGNORECASE)


def _clause_starts(segment: str) -> list[str]:
    """Each clause of `segment` without leading fillers, tags and a vocative ("Assistant: ...")."""
    starts = []
    for clause in _CLAUSE_SPLIT.split(segment):
        clause = clause.strip(" \t\"'“”‘’«»*_#>-")
        for _ in range(3):
            clause = _VOCATIVE.sub("", _FILLER_PREFIX.sub("", _TAG_PREFIX.sub("", clause))).strip(" ,:")
        if clause:
            starts.append(fold(clause))
    return starts


def is_instruction(segment: str) -> bool:
    """Whether a reference segment reads as an order to the assistant (then it is neutralised)."""
    text = fold(segment)
    if any(p.search(text) for p in _INSTRUCTION_PATTERNS):
        return True
    return any(_META_START.match(start) for start in _clause_starts(segment))


def _is_imperative(segment: str) -> bool:
    """An order with an output verb (say, write, reply, tell, sign...), addressed to anyone."""
    return any(_OUTPUT_START.match(start) for start in _clause_starts(segment)) or is_instruction(segment)


_HIDDEN = re.compile(r"<!--(.*?)-->|<(script|style)[^>]*>(.*?)</\2>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^>]{0,300}>")
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|(?<=\.\))\s+")


_LINE_END = re.compile(r"[.!?:;)\]\"'»”。！？]\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s")
_CONTINUATION = re.compile(
    r"^(?:then|and|also|next|after that|afterwards|finally|plus|ensuite|puis|luego|despues|dann|danach|poi|depois)\b",
    re.IGNORECASE,
)


def segments(text: str) -> list[list[str]]:
    """Lines of the text, each a list of sentences; HTML comments and tags open their own line. A
    line that does not end a sentence runs on into the next one (PDF and web text wrap mid-sentence)."""
    text = _HIDDEN.sub(lambda m: "\n" + (m.group(1) or m.group(3) or "") + "\n", text)
    text = _TAG.sub("\n", text)
    lines: list[str] = []
    soft = False
    for raw in text.splitlines():
        line = raw.strip()
        if soft and line and not _LIST_ITEM.match(line):
            lines[-1] = f"{lines[-1]} {line}"
        else:
            lines.append(line)
        soft = bool(line) and not _LINE_END.search(line)
    return [[s for s in _SENTENCE_END.split(line) if s] for line in lines]


@dataclass(frozen=True)
class Payload:
    """What a planted instruction wants to see in a reply."""

    kind: str  # token, caps, phrase, link, language, persona
    value: str  # squashed text (caps: as written; persona: one folded word), or a language code
    channel: str


_QUOTED = re.compile(r"[\"“”«»]([^\"“”«»\n]{2,80})[\"“”«»]|(?:^|[\s:(])'([^'\n]{2,80})'(?=$|[\s.,;:!?)])")
_CODE = re.compile(r"\b(?=[\w-]*\d)(?=[\w-]*[A-Za-z])[A-Za-z0-9][\w-]{3,}\b")
_CAPS = re.compile(r"\b[A-Z][A-Z0-9]{3,}(?:[-_][A-Z0-9]+)*\b")
_URL = re.compile(
    r"(?:https?://|www\.)[^\s)>\]\"']+|\b[\w-]+(?:\.[\w-]+)*\.(?:com|net|org|io|co|info|biz|xyz|ru|cn|app|dev|ly|me)\b"
)
_PERSONA = re.compile(
    r"\b(?:you are now|you're now|you are|you're|act as|acting as|pretend (?:to be|you are)|role-?play as|play the role of"
    r"|become|your name is|call yourself|introduce yourself as|greet (?:the user|them|everyone) as|sign (?:off )?as"
    r"|answer as|respond as|reply as|speak as|you will be|identify as|talk like)\s+(?:now\s+)?(?:an?\s+|the\s+)?"
    r"((?:[A-Z][\w'-]*\s*){1,4})"
)
_PHRASE = re.compile(
    r"\b(?:say|says|write|type|print|output|reply with|respond with|answer with|end (?:\w+ )?with|begin (?:\w+ )?with"
    r"|start (?:\w+ )?with|sign (?:off )?with|append|prepend|include|mention|add)\s+(.{6,120}?)(?=[.;!?\n]|$| and | then )",
    re.IGNORECASE,
)
_SHOUTING = frozenset(
    "important note notice system override admin assistant urgent warning attention new policy priority update "
    "instruction instructions ignore print output reply only with the and model user this that must always never "
    "readme faq pdf html http https www json xml api usd eur gbp ceo cfo faq".split()
)
_TITLES = frozenset("captain professor prof doctor dr mr mrs ms miss sir lady lord king queen agent the a an".split())
_LANGUAGE_CUE = re.compile(
    r"\b(?:in|into|en|auf|em|naar|only|solely|reply|respond|answer|speak|write|translate|language|langue|idioma|sprache|lingua)\b"
)


def _marked_payloads(segment: str, channel: str) -> list[Payload]:
    """What stands out by its form: quoted phrases, code-like tokens, words in capitals, links."""
    found: list[Payload] = []
    for match in _QUOTED.finditer(segment):
        value = squash(match.group(1) or match.group(2) or "")
        if len(value) >= 3:
            found.append(Payload("phrase", value, channel))
    found += [Payload("token", squash(match.group(0)), channel) for match in _CODE.finditer(segment)]
    found += [
        Payload("caps", match.group(0), channel)
        for match in _CAPS.finditer(segment)
        if match.group(0).lower() not in _SHOUTING  # matched in capitals only: ONLINE, not "online"
    ]
    for match in _URL.finditer(segment):
        host = re.sub(r"^(?:https?://)?(?:www\.)?", "", match.group(0)).split("/")[0]
        if not host.endswith(("example.com", "example.org")) or "-" in host:
            found.append(Payload("link", squash(host), channel))
    return found


def _persona_and_language_payloads(segment: str, channel: str) -> list[Payload]:
    """Names a persona switch asks for, and languages a reply is asked to be written in."""
    found: list[Payload] = []
    for match in _PERSONA.finditer(segment):
        for name in match.group(1).split():
            name = name.strip("'-,.")
            if len(name) >= 3 and name.lower() not in _TITLES and name.lower() not in _SHOUTING:
                found.append(Payload("persona", fold(name), channel))
    folded = fold(segment)
    if _LANGUAGE_CUE.search(folded):
        found += [
            Payload("language", LANGUAGE_NAMES[token], channel)
            for token in re.findall(r"[a-z]+", folded)
            if token in LANGUAGE_NAMES
        ]
    return found


def _free_phrases(segment: str, channel: str) -> list[Payload]:
    found: list[Payload] = []
    for match in _PHRASE.finditer(segment):
        phrase = re.sub(
            r"^(?:the|a|an)\s+(?:word|words|phrase|text|sentence|string|tag|token|code|signature)?\s*",
            "",
            match.group(1),
            flags=re.IGNORECASE,
        )
        if len(phrase.split()) >= 3 and len(squash(phrase)) >= 12:
            found.append(Payload("phrase", squash(phrase), channel))
    return found


def payloads(segment: str, channel: str, *, instruction: bool = True) -> list[Payload]:
    """What an imperative segment asks the reply to show (a free phrase only from an instruction
    addressed to the assistant: "add two cups of flour" in a recipe is no payload)."""
    found = _marked_payloads(segment, channel) + _persona_and_language_payloads(segment, channel)
    if instruction and not found:
        found = _free_phrases(segment, channel)
    return found


@dataclass(frozen=True)
class Source:
    """A reference text as it came in: `channel` is lorebook, document, web or attachment."""

    channel: str
    title: str
    text: str


@dataclass
class MarkedReferences:
    text: str  # what the model reads, between the delimiter lines
    delimiter: str
    neutralised: list[str] = field(default_factory=list)  # channel of each neutralised segment
    payloads: list[Payload] = field(default_factory=list)


def new_delimiter() -> str:
    return f"=====REF-{secrets.token_hex(4).upper()}====="


def mark_references(sources: Sequence[Source], delimiter: str, *, drop: Iterable[str] = ()) -> MarkedReferences:
    """The references as the model reads them: numbered, instruction-like segments replaced by
    REMOVED (so are segments showing a value in `drop`, squashed), the delimiter never inside."""
    dropped = [d for d in drop if d]
    marked = MarkedReferences(text="", delimiter=delimiter)
    blocks = []
    for number, source in enumerate(sources, 1):
        lines = []
        for sentences in segments(source.text):
            kept: list[str] = []
            for sentence in sentences:
                # "... and the word X. Then sign as Y." : a sentence carrying on an order is one too
                instruction = is_instruction(sentence) or (
                    kept[-1:] == [REMOVED] and bool(_CONTINUATION.match(sentence.strip()))
                )
                if instruction or _is_imperative(sentence):
                    marked.payloads.extend(payloads(sentence, source.channel, instruction=instruction))
                if instruction or any(d in squash(sentence) for d in dropped):
                    if instruction:
                        marked.neutralised.append(source.channel)
                    if not kept or kept[-1] != REMOVED:
                        kept.append(REMOVED)
                else:
                    kept.append(sentence)
            lines.append(" ".join(kept))
        body = re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
        title = " ".join(source.title.split())[:200]
        if is_instruction(title):
            marked.neutralised.append(source.channel)
            marked.payloads.extend(payloads(title, source.channel))
            title = REMOVED
        blocks.append(f"[{number}] {title}\n{body}".replace(delimiter, ""))
    marked.text = "\n\n".join(blocks)
    return marked


# --- the reply checks -------------------------------------------------------------------------------

_STOPWORDS = frozenset(
    "a an the and or but of to in on at for with by from as is are was were be been am i you he she it we they my "
    "your his her its our their me him us them this that these those there here so not no do does did have has had "
    "will would can could should may might must very just also than then too all any some".split()
)


@dataclass(frozen=True)
class Finding:
    kind: str  # canary_leak, secret_leak, prompt_leak, planted_token, planted_link, language_switch, persona_switch
    channel: str


@dataclass
class GuardSpec:
    """What one turn's reply must not show, built before the model writes."""

    canary: str
    secrets: frozenset[str]
    spans: frozenset[tuple[str, ...]]
    trigrams: frozenset[tuple[str, ...]]
    chunks: frozenset[str]
    payloads: tuple[Payload, ...]
    neutralised: tuple[str, ...]
    user_text: str
    user_language: str | None
    disclosure_channel: str = "user"
    # words that may begin a disclosure or a planted payload, as written and shifted or reversed
    # the way `variants` decodes them: a stream holds back from the first one it sees
    watched: frozenset[str] = frozenset()

    def check(self, reply: str, *, final: bool = True) -> list[Finding]:
        return check_reply(reply, self, final=final)


def build_spec(
    *,
    protected: Sequence[str],
    canary: str,
    user_texts: Sequence[str],
    marked: MarkedReferences | None,
    sources: Sequence[Source] = (),
) -> GuardSpec:
    """The turn's spec: `protected` are the system prompt, persona and per-turn instructions (as
    rendered); text the user wrote or the references hold is not protected."""
    allowed_text = "\n".join([*user_texts, *(f"{s.title}\n{s.text}" for s in sources)])
    allowed_words = words(allowed_text)
    allowed_spans = {tuple(allowed_words[i : i + SPAN_WORDS]) for i in range(len(allowed_words) - SPAN_WORDS + 1)}
    allowed_squashed = "".join(allowed_words)
    spans: set[tuple[str, ...]] = set()
    trigrams: set[tuple[str, ...]] = set()
    chunks: set[str] = set()
    found_secrets: set[str] = set()
    for text in protected:
        features = protected_features(text)
        spans |= features.spans
        trigrams |= features.trigrams
        chunks |= features.chunks
        found_secrets |= features.secrets
    found_secrets = {s for s in found_secrets if s not in allowed_squashed}
    found_secrets.add(squash(canary))
    chunks = {c for c in chunks if c not in allowed_squashed}
    user_words = set(words(" ".join(user_texts)))
    trigrams = {t for t in trigrams if not set(t) <= user_words}
    user_flat = squash(" ".join(user_texts))
    protected_flat = squash(" ".join(protected))
    kept_payloads = tuple(
        p
        for p in (marked.payloads if marked else [])
        if p.kind == "language"
        or (p.value and squash(p.value) not in user_flat and squash(p.value) not in protected_flat)
    )
    neutralised = tuple(marked.neutralised) if marked else ()
    return GuardSpec(
        canary=canary,
        secrets=frozenset(found_secrets),
        spans=frozenset(spans - allowed_spans),
        trigrams=frozenset(trigrams),
        chunks=frozenset(chunks),
        payloads=kept_payloads,
        neutralised=neutralised,
        user_text=" ".join(user_texts[-1:]),
        user_language=language_of(user_texts[-1]) if user_texts else None,
        disclosure_channel=neutralised[0] if neutralised else "user",
        watched=frozenset().union(
            *(protected_features(text).watched for text in protected),
            _watched_words(p.value for p in kept_payloads if p.kind != "language"),
        ),
    )


@dataclass(frozen=True)
class ProtectedFeatures:
    """What a reply must not reproduce of one protected text (see `build_spec`)."""

    spans: frozenset[tuple[str, ...]]
    trigrams: frozenset[tuple[str, ...]]
    chunks: frozenset[str]
    secrets: frozenset[str]
    watched: frozenset[str]


# A turn builds its spec before the model writes and again to check the reply (and once more
# per retry), from the same system text: reading a persona's few thousand characters costs about
# a millisecond and a half each time, so the last texts' features are kept.
@functools.lru_cache(maxsize=64)
def protected_features(text: str) -> ProtectedFeatures:
    ws = words(text)
    flat = "".join(ws)
    return ProtectedFeatures(
        spans=frozenset(
            span
            for span in (tuple(ws[i : i + SPAN_WORDS]) for i in range(len(ws) - SPAN_WORDS + 1))
            if not set(span) <= _STOPWORDS
        ),
        trigrams=frozenset(
            tri for tri in (tuple(ws[i : i + 3]) for i in range(len(ws) - 2)) if any(w not in _STOPWORDS for w in tri)
        ),
        chunks=frozenset(flat[i : i + SQUASHED_CHARS] for i in range(len(flat) - SQUASHED_CHARS + 1)),
        secrets=frozenset(secret_tokens(text)),
        watched=_watched_words([text]),
    )


def _watched_words(texts: Iterable[str]) -> frozenset[str]:
    plain = {w for text in texts for w in words(text) if w not in _STOPWORDS and w.isalpha() and len(w) > 1}
    return frozenset(shape for w in plain for shape in (word_shape(w), word_shape(w[::-1])))


# a word shifted so that it starts with "a": every Caesar shift of a word (ROT13 among them) has
# the same shape, so one lookup covers all 26
_TO_A = {
    letter: str.maketrans({c: chr((ord(c) - ord(letter)) % 26 + 97) for c in "abcdefghijklmnopqrstuvwxyz"})
    for letter in "abcdefghijklmnopqrstuvwxyz"
}


def word_shape(word: str) -> str:
    """A folded word's shape under Caesar shifts (the word itself when it is not a-z only)."""
    table = _TO_A.get(word[:1])
    return word.translate(table) if table is not None and word.isascii() else word


def _caesar(text: str, shift: int) -> str:
    return "".join(chr((ord(c) - 97 + shift) % 26 + 97) if "a" <= c <= "z" else c for c in text)


def _leaks_secret(flats: Sequence[str], secret: str) -> bool:
    if not secret:
        return False
    shifted = {_caesar(secret, k) for k in range(26)} if len(secret) >= 6 else {secret}
    leet = secret.translate(_LEET)
    return any(s in flat for flat in flats for s in (*shifted, leet))


def _near_verbatim(ws: Sequence[str], trigrams: frozenset[tuple[str, ...]]) -> bool:
    covered = [False] * len(ws)
    for i in range(len(ws) - 2):
        if tuple(ws[i : i + 3]) in trigrams:
            covered[i] = covered[i + 1] = covered[i + 2] = True
    window = NEAR_WINDOW
    run = sum(covered[:window])
    if run >= NEAR_COVERED:
        return True
    for i in range(window, len(ws)):
        run += covered[i] - covered[i - window]
        if run >= NEAR_COVERED:
            return True
    return False


def check_reply(reply: str, spec: GuardSpec, *, final: bool = True) -> list[Finding]:
    """What is wrong with `reply` (empty when nothing). Language switches are judged on the whole
    reply only (`final`)."""
    findings: list[Finding] = []
    channel = spec.disclosure_channel
    texts = variants(reply)
    flats = [squash(t) for t in texts]
    flats += [f.translate(_LEET) for f in flats[:1]]
    if _leaks_secret(flats, squash(spec.canary)):
        findings.append(Finding("canary_leak", channel))
    if any(_leaks_secret(flats, s) for s in spec.secrets if s != squash(spec.canary)):
        findings.append(Finding("secret_leak", channel))
    for text, flat in zip(texts, flats):
        ws = words(text)
        if (
            any(tuple(ws[i : i + SPAN_WORDS]) in spec.spans for i in range(len(ws) - SPAN_WORDS + 1))
            or _near_verbatim(ws, spec.trigrams)
            or any(flat[i : i + SQUASHED_CHARS] in spec.chunks for i in range(len(flat) - SQUASHED_CHARS + 1))
        ):
            findings.append(Finding("prompt_leak", channel))
            break
    reply_flat = flats[0]
    reply_words = set(words(reply))
    reply_language = language_of(reply) if final else None
    for payload in spec.payloads:
        if payload.kind == "language":
            if spec.user_language is None and payload.value == "en":
                continue  # "reply in English" to an English-looking short message
            if reply_language == payload.value and spec.user_language != payload.value:
                findings.append(Finding("language_switch", payload.channel))
        elif payload.kind == "persona":
            if payload.value in reply_words:
                findings.append(Finding("persona_switch", payload.channel))
        elif payload.kind == "caps":
            if re.search(rf"(?<![A-Z0-9]){re.escape(payload.value)}(?![A-Z0-9])", reply):
                findings.append(Finding("planted_instruction", payload.channel))
        elif payload.value in reply_flat:
            kind = "planted_link" if payload.kind == "link" else "planted_instruction"
            findings.append(Finding(kind, payload.channel))
    return list(dict.fromkeys(findings))


# --- remedies ----------------------------------------------------------------------------------------

_FRAGMENT_SPLIT = re.compile(
    r",(?!\s*[A-Z])|[;:()\[\]]|(?<!\d)\s[-–—]\s(?!\d)"
    r"|\s(?i:who|whom|whose|which|that|and|or|with|is|are|was|were|but|while|where|because)\s"
)


def profile_fragments(profile: str) -> str:
    """The profile as a list of short fragments, in order: the same facts, without the sentences a
    small model copies word for word when it describes itself (used for a second try)."""
    fragments: list[str] = []
    for line in profile.splitlines():
        for sentence in _SENTENCE_END.split(line.strip()):
            fragments += [f.strip(" .!?\"'") for f in _FRAGMENT_SPLIT.split(sentence)]
    return "\n".join(f"- {f}" for f in fragments if len(f) > 1)


def trim(reply: str, spec: GuardSpec) -> str:
    """The reply without the sentences that repeat protected text; "" when too little is left
    (under 8 words or 40% of the reply) or what is left still fails the check."""
    kept = [
        sentence
        for line in reply.splitlines()
        for sentence in _SENTENCE_END.split(line.strip())
        if sentence and not check_reply(sentence, spec)
    ]
    text = " ".join(kept).strip()
    if len(words(text)) < max(8, 0.4 * len(words(reply))) or check_reply(text, spec):
        return ""
    return text


# --- streaming --------------------------------------------------------------------------------------


_SAFE_LETTERS = frozenset("aistmd")  # "a", "I" and the tails of it's, don't, I'm, he'd
_NATO_LETTERS = frozenset(w for w, c in _NATO.items() if c.isalpha())
_TOKEN_RUN = re.compile(r"[^\W_]+")
_GROWING_WORD = re.compile(r"[^\W_]+\Z")
_WORD_RUN = re.compile(r"\S+")


def may_disclose(token: str, watched: frozenset[str]) -> bool:
    """Whether a folded reply word could begin a disclosure or a planted payload: a word of the
    protected text (as written, shifted or reversed), a number or code (digits, hex, leetspeak),
    a lone letter of a spelled-out word, a long run (base64) or a NATO letter word. Every finding
    of `check_reply` needs one of these (or a new line, for acrostics)."""
    return (
        word_shape(token) in watched
        or word_shape(token[::-1]) in watched
        or not token.isalpha()
        or (len(token) == 1 and token not in _SAFE_LETTERS)
        or len(token) >= 12
        or token in _NATO_LETTERS
    )


class StreamGuard:
    """Checks a reply as it streams. `feed` returns the text safe to send now. Ordinary words go
    out as soon as they are complete; from the first word that could begin a disclosure
    (`may_disclose`) the stream keeps at least HOLD_BACK_WORDS words and HOLD_BACK_CHARS
    characters unsent, so a disclosure is found before its first telling word leaves; after a
    finding nothing more is released. The check itself runs only when such a word or a new line
    arrives. The generate node arms one with the turn's spec when the caller streams
    (`nodes.STREAM_CHECKED_KEY`)."""

    def __init__(self) -> None:
        self.spec: GuardSpec | None = None
        self.text = ""
        self.sent = 0
        self.findings: list[Finding] = []
        self._checks = 0
        self._scanned = 0
        self._risky: list[int] = []  # where words that may disclose start, in order
        self._starts: list[int] = []  # where the last HOLD_BACK_WORDS words start

    def arm(self, spec: GuardSpec) -> None:
        self.spec, self.text, self.sent, self.findings = spec, "", 0, []
        self._checks = self._scanned = 0
        self._risky = []
        self._starts = []

    @property
    def blocked(self) -> bool:
        return bool(self.findings)

    def feed(self, chunk: str) -> str:
        self.text += chunk.replace("\x00", "")  # never stored (Postgres text), so never sent
        if self.blocked:
            return ""
        # a word still being written may grow into one that discloses: only whole words count
        growing = _GROWING_WORD.search(self.text, self._scanned)
        complete = max(growing.start(), self._scanned) if growing else len(self.text)
        new_risk = self._scan(complete)
        if self.spec is not None and (new_risk or "\n" in chunk):
            # the tail is enough for what the hold-back can still stop (a whole-text pass now and
            # then, and at the end, for encodings spread wider); a check costs about 1 ms
            self._checks += 1
            whole = self._checks % STREAM_FULL_CHECK_EVERY == 0
            self.findings = check_reply(self.text if whole else self.text[-STREAM_CHECK_CHARS:], self.spec, final=False)
            if self.findings:
                return ""
        held = self._hold_back_start()
        held = min(held, max(0, len(self.text) - HOLD_BACK_CHARS))
        risky = next((at for at in self._risky if at >= max(held, self.sent)), complete)
        cut = max(held, min(risky, complete))
        if cut <= self.sent:
            return ""
        out, self.sent = self.text[self.sent : cut], cut
        return out

    def _hold_back_start(self) -> int:
        """Where the last HOLD_BACK_WORDS words start (0 while there are fewer). Only the text
        from the last word known on is read again: it may have grown, and new words follow it."""
        since = self._starts.pop() if self._starts else 0
        self._starts.extend(m.start() for m in _WORD_RUN.finditer(self.text, since))
        del self._starts[:-HOLD_BACK_WORDS]
        return self._starts[0] if len(self._starts) == HOLD_BACK_WORDS else 0

    def _scan(self, end: int) -> bool:
        """Note where the words up to `end` that may disclose start; whether there was one."""
        found = False
        watched = self.spec.watched if self.spec is not None else None
        for match in _TOKEN_RUN.finditer(self.text, self._scanned, end):
            if watched is None or any(may_disclose(t, watched) for t in words(match.group())):
                self._risky.append(match.start())
                found = True
        self._scanned = max(self._scanned, end)
        return found

    def finish(self, final_text: str | None = None, *, checked: bool = False) -> str:
        """The held-back rest once the reply is complete and clean, else "". `checked`: the
        caller's own check of this whole text with this spec found nothing, so it is not run again."""
        if final_text is not None and final_text.strip() != self.text.strip():
            self.text = final_text  # the graph replaced the reply: nothing more of the streamed one
            return ""
        if self.blocked or (self.spec is not None and not checked and check_reply(self.text, self.spec)):
            return ""
        out, self.sent = self.text[self.sent :], len(self.text)
        return out

    @property
    def released(self) -> str:
        return self.text[: self.sent]


# --- counting ----------------------------------------------------------------------------------------

_counts: Counter[tuple[str, str]] = Counter()
_counts_lock = threading.Lock()


def record(events: Iterable[BlockedEvent]) -> None:
    """Log and count blocked events (channel and kind only: never the secret or the text)."""
    for event in events:
        with _counts_lock:
            _counts[(event["channel"], event["kind"])] += 1
        log.warning(
            "prompt guard blocked: channel=%s kind=%s action=%s", event["channel"], event["kind"], event.get("action")
        )


def blocked_counts() -> dict[str, int]:
    """Blocked events since start, as {"<channel>/<kind>": count}."""
    with _counts_lock:
        return {f"{channel}/{kind}": n for (channel, kind), n in sorted(_counts.items())}
