"""One persona answers one closed question: exactly one of the options, with a probability for each.

Two ways to read the model's preference, chosen by what the provider offers:

- ``option_likelihood`` (the local llama.cpp server): an option's score is the summed
  log-probability (from the raw logits) of the tokens a greedy completion constrained to write
  exactly that option writes, i.e. the likelihood that the persona writes it; a softmax over the
  options gives the probabilities. The local server started by this service scores every option
  from one evaluation of the persona's prompt (runtime.llama_server); elsewhere, and as
  ``option_likelihood_calls``, it is one GBNF-constrained chat completion per option, which reads
  the prompt (or its cached prefix) and the whole logit matrix again for every option.
- ``label_logprobs`` (OpenAI and OpenAI-compatible servers, anything else): the options are
  listed as A, B, C...; one call writes one token, and the probabilities are the top
  log-probabilities of the option letters, renormalised. A provider that returns no
  log-probabilities still answers: the letter it wrote counts as probability 1.
- ``ssr`` (semantic similarity rating, Maier et al. 2025; any provider, chosen per request): the
  persona answers in its own words, without the options; the cosine similarity of that answer
  to each option (read as the question followed by that answer) gives a softmax at temperature
  ``SSR_TEMPERATURE``. It needs the embedding model, and is only as good as that model reads
  stance: the local MiniLM places "I strongly support it" nearer "Oppose" than "Favor".

The options are shown in ``order`` (default: as given), so callers can rotate or shuffle
them per respondent and average out the position bias small models have.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from prompts import render_prompt
from runtime.local_llm import OptionScoresUnsupported, local_option_scores
from runtime.models import local_base_url, make_chat_model, parse_model_name
from runtime.settings import Settings, get_settings

Method = Literal["auto", "option_likelihood", "option_likelihood_calls", "label_logprobs", "ssr"]
METHODS: tuple[Method, ...] = get_args(Method)
TABLE_METHOD: Method = "label_logprobs"
"""What `auto` means for the twins of a table, on every provider. Measured on the development
survey (ANES 2012, 4 held-out opinion questions, local model): cluster TVD 0.261 against 0.373
for option likelihood, which favours short options (it sums their tokens' log-probabilities).
The demo's twins keep option likelihood on the local model: their fact check and segment prior
were tuned on it, and letters lost there (in-profile accuracy 0.940 against 0.985)."""
SSR_TEMPERATURE = 0.05  # cosine differences between options are a few hundredths: this separates them
SSR_TOKENS = 80
LABELS = "ABCDEFGHIJ"
MAX_OPTIONS = len(LABELS)
TOP_LOGPROBS = 20  # the most OpenAI accepts
OPTION_TOKENS = 48  # room for the longest option under the grammar; the grammar stops it sooner


@dataclass(frozen=True)
class ClosedAnswer:
    """What one persona answered.

    ``answer`` is the most probable option (ties: the earlier option in ``options``);
    ``probabilities`` maps every option, in the caller's order, to its probability (sums to 1);
    ``method`` says how they were read (``label_text`` when the provider gave no
    log-probabilities and the written letter decided; ``uniform`` when nothing usable came back).
    """

    answer: str
    probabilities: dict[str, float]
    method: str
    order: tuple[int, ...]


def _grammar_literal(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\r", "\\r")
    return f'"{escaped}"'


def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    if top == -math.inf:
        return [1.0 / len(scores)] * len(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


def _token_logprobs(message: BaseMessage) -> list[dict[str, Any]]:
    logprobs = (getattr(message, "response_metadata", None) or {}).get("logprobs") or {}
    content = logprobs.get("content") if isinstance(logprobs, dict) else None
    return list(content or [])


def _result(options: Sequence[str], probs: Sequence[float], method: str, order: Sequence[int]) -> ClosedAnswer:
    probabilities = {option: float(p) for option, p in zip(options, probs, strict=True)}
    best = max(range(len(options)), key=lambda i: (probs[i], -i))
    return ClosedAnswer(options[best], probabilities, method, tuple(order))


def _messages(system_prompt: str, user_text: str) -> list[BaseMessage]:
    return (
        [SystemMessage(content=system_prompt), HumanMessage(content=user_text)]
        if system_prompt
        else [HumanMessage(content=user_text)]
    )


async def _by_option_likelihood(
    model: BaseChatModel, system_prompt: str, question: str, options: Sequence[str], order: Sequence[int], seed: int
) -> ClosedAnswer:
    shown = [options[i] for i in order]
    prompt = render_prompt("survey_question_options", question=question, option_list=", ".join(shown))
    messages = _messages(system_prompt, prompt)
    scores = [-math.inf] * len(options)
    for index in order:  # one after another: each call reuses the prompt llama.cpp just evaluated
        bound = model.bind(
            logprobs=True,
            top_logprobs=1,
            seed=seed,
            extra_body={"grammar": "root ::= " + _grammar_literal(options[index]), "max_tokens": OPTION_TOKENS},
        )
        reply = await bound.ainvoke(messages)
        tokens = _token_logprobs(reply)
        if tokens:
            scores[index] = sum(float(t.get("logprob", -math.inf)) for t in tokens)
    if all(s == -math.inf for s in scores):
        return _result(options, [1.0 / len(options)] * len(options), "uniform", order)
    return _result(options, _softmax(scores), "option_likelihood", order)


def _as_openai(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    roles = {"system": "system", "human": "user", "ai": "assistant"}
    return [{"role": roles[m.type], "content": str(m.content)} for m in messages]


async def _by_option_scores(
    base_url: str, system_prompt: str, question: str, options: Sequence[str], order: Sequence[int], timeout: float
) -> ClosedAnswer:
    """The option likelihoods of `_by_option_likelihood`, from one evaluation of the prompt."""
    shown = [options[i] for i in order]
    prompt = render_prompt("survey_question_options", question=question, option_list=", ".join(shown))
    reply = await local_option_scores(base_url, _as_openai(_messages(system_prompt, prompt)), options, timeout=timeout)
    return _result(options, _softmax(reply.logprobs), "option_likelihood", order)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm > 0 else 0.0


def as_statement(question: str, option: str) -> str:
    """An option as a reference statement (the question with that answer) to compare a free
    answer with; a bare "Yes" or "Own" carries too little for an embedding."""
    return f"{question} {option}."


async def _by_similarity(
    model: BaseChatModel,
    embeddings: Embeddings,
    system_prompt: str,
    question: str,
    options: Sequence[str],
    order: Sequence[int],
    seed: int,
) -> ClosedAnswer:
    prompt = render_prompt("survey_question_open", question=question)
    reply = await model.bind(seed=seed).ainvoke(_messages(system_prompt, prompt))
    text = (reply.text if isinstance(reply, AIMessage) else str(getattr(reply, "content", ""))).strip()
    if not text:
        return _result(options, [1.0 / len(options)] * len(options), "uniform", order)
    vectors = await embeddings.aembed_documents([text, *(as_statement(question, o) for o in options)])
    similarities = [cosine(vectors[0], vector) for vector in vectors[1:]]
    return _result(options, _softmax([s / SSR_TEMPERATURE for s in similarities]), "ssr", order)


_LETTER = re.compile(r"^\W*([A-J])\b")


def _letter_of(text: str) -> str | None:
    match = _LETTER.match(text.strip().upper()) if text else None
    return match.group(1) if match else None


def _letters_prompt(question: str, options: Sequence[str], order: Sequence[int]) -> str:
    lines = "\n".join(f"{LABELS[pos]}. {options[index]}" for pos, index in enumerate(order))
    return render_prompt("survey_question_letters", question=question, option_lines=lines)


async def _by_letter_scores(
    base_url: str, system_prompt: str, question: str, options: Sequence[str], order: Sequence[int], timeout: float
) -> ClosedAnswer:
    """The letter probabilities of `_by_label_logprobs`, from the local server's one scoring pass:
    each shown letter scored as the reply, the softmax over them."""
    prompt = _letters_prompt(question, options, order)
    letters = [LABELS[pos] for pos in range(len(order))]
    reply = await local_option_scores(base_url, _as_openai(_messages(system_prompt, prompt)), letters, timeout=timeout)
    shown = _softmax(reply.logprobs)
    probs = [0.0] * len(options)
    for pos, index in enumerate(order):
        probs[index] = shown[pos]
    return _result(options, probs, "label_logprobs", order)


async def _by_label_logprobs(
    model: BaseChatModel,
    system_prompt: str,
    question: str,
    options: Sequence[str],
    order: Sequence[int],
    seed: int,
    local: bool,
) -> ClosedAnswer:
    prompt = _letters_prompt(question, options, order)
    # llama.cpp reads `max_tokens` only from the body (langchain-openai sends max_completion_tokens)
    extra = {"extra_body": {"max_tokens": 1}} if local else {}
    bound = model.bind(logprobs=True, top_logprobs=TOP_LOGPROBS, seed=seed, max_tokens=1, **extra)
    reply = await bound.ainvoke(_messages(system_prompt, prompt))
    mass = [0.0] * len(options)
    tokens = _token_logprobs(reply)
    if tokens:
        for candidate in tokens[0].get("top_logprobs") or []:
            letter = str(candidate.get("token", "")).strip().upper()
            if len(letter) == 1 and letter in LABELS[: len(options)]:
                mass[order[LABELS.index(letter)]] += math.exp(float(candidate.get("logprob", -math.inf)))
    if sum(mass) > 0:
        total = sum(mass)
        return _result(options, [m / total for m in mass], "label_logprobs", order)
    text = reply.text if isinstance(reply, AIMessage) else str(getattr(reply, "content", ""))
    written = _letter_of(text)
    if written is not None and LABELS.index(written) < len(options):
        chosen = order[LABELS.index(written)]
        return _result(options, [1.0 if i == chosen else 0.0 for i in range(len(options))], "label_text", order)
    return _result(options, [1.0 / len(options)] * len(options), "uniform", order)


def resolve_method(model_name: str, method: Method = "auto") -> Method:
    """``auto``: option likelihood on the local llama.cpp server (it scores options from one
    pass over the prompt), letter log-probabilities everywhere else."""
    if method != "auto":
        return method
    return "option_likelihood" if parse_model_name(model_name).provider == "local" else "label_logprobs"


async def ask_closed_question(
    model: str | BaseChatModel,
    system_prompt: str,
    question: str,
    options: Sequence[str],
    *,
    seed: int = 0,
    order: Sequence[int] | None = None,
    method: Method = "auto",
    settings: Settings | None = None,
    embeddings: Embeddings | None = None,
) -> ClosedAnswer:
    """Ask one persona (its system prompt) a closed question; it answers with exactly one option.

    ``model`` is a ``provider:model`` name (``local:smollm2``, ``openai:gpt-4.1``) or a chat
    model already built (``auto`` then means ``label_logprobs``: name the method for a built
    local model). ``options`` must be 2 to 10 distinct
    strings; ``order`` is the order they are shown in (indices into ``options``); ``seed`` goes to
    providers that take one; ``settings`` (default: the environment's) hold the provider's keys and URL. Deterministic for a given prompt on the local model.
    """
    if not 2 <= len(options) <= MAX_OPTIONS or len(set(options)) != len(options):
        raise ValueError(f"A closed question needs 2 to {MAX_OPTIONS} distinct options.")
    settings = settings or get_settings()
    shown = list(order) if order is not None else list(range(len(options)))
    if sorted(shown) != list(range(len(options))):
        raise ValueError("order must list every option index exactly once.")
    local = isinstance(model, str) and parse_model_name(model).provider == "local"
    if isinstance(model, str):
        chosen = resolve_method(model, method)
        chat_model = make_chat_model(model, temperature=0.0, max_tokens=OPTION_TOKENS, settings=settings)
    else:
        chosen = "label_logprobs" if method == "auto" else method
        chat_model = model
    if chosen == "ssr":
        if embeddings is None:
            raise ValueError("The ssr method needs the embedding model.")
        texts = (
            make_chat_model(model, temperature=0.0, max_tokens=SSR_TOKENS, settings=settings)
            if isinstance(model, str)
            else model
        )
        return await _by_similarity(texts, embeddings, system_prompt, question, options, shown, seed)
    base_url = local_base_url() if local else None
    if chosen == "option_likelihood" and base_url is not None:
        timeout = settings.model_timeout
        try:
            return await _by_option_scores(base_url, system_prompt, question, options, shown, timeout)
        except OptionScoresUnsupported:
            pass  # a model server without the scoring route: one call per option gives the same scores
    if chosen == "label_logprobs" and base_url is not None:
        timeout = settings.model_timeout
        try:
            return await _by_letter_scores(base_url, system_prompt, question, options, shown, timeout)
        except OptionScoresUnsupported:
            pass  # a model server without the scoring route: the letters' top log-probabilities
    if chosen in ("option_likelihood", "option_likelihood_calls"):
        return await _by_option_likelihood(chat_model, system_prompt, question, options, shown, seed)
    return await _by_label_logprobs(chat_model, system_prompt, question, options, shown, seed, local)


def excluding(answer: ClosedAnswer, ruled_out: Collection[str]) -> ClosedAnswer:
    """``answer`` with the ``ruled_out`` options at probability 0 and the others renormalised
    (evenly, when the model gave them nothing); unchanged when nothing or everything is ruled out.
    ``method`` then ends in ``+facts``."""
    options = list(answer.probabilities)
    kept = [o for o in options if o not in ruled_out]
    if not kept or len(kept) == len(options):
        return answer
    mass = sum(answer.probabilities[o] for o in kept)
    probs = [(answer.probabilities[o] / mass if mass > 0 else 1.0 / len(kept)) if o in kept else 0.0 for o in options]
    return _result(options, probs, answer.method + "+facts", answer.order)


# How much the model's probabilities count against the segment's split where the record is
# silent: they are raised to this power before the split multiplies them. A small model scores an
# option by the summed log-probabilities of its tokens, so it puts 0.999 where it leans at all
# (often on whichever option stands first); at 1 that swamps any split. Chosen on the
# development twins (`twin_fidelity_dev`, 6 twins x 9 items, held-out condition): accuracy 0.704
# at 1, 0.769 at 0.5, 0.778 at 0.2, 0.769 at 0 (the split alone); 0.5 is the mildest that gains.
MODEL_WEIGHT = 0.5


def with_prior(answer: ClosedAnswer, prior: Mapping[str, float], model_weight: float = MODEL_WEIGHT) -> ClosedAnswer:
    """``answer``'s probabilities raised to ``model_weight``, times ``prior``, renormalised (the
    prior alone when they share no mass); ``method`` then ends in ``+segment``."""
    options = list(answer.probabilities)
    joint = [
        (answer.probabilities[o] ** model_weight if answer.probabilities[o] > 0 else 0.0) * prior.get(o, 0.0)
        for o in options
    ]
    total = sum(joint)
    probs = [j / total for j in joint] if total > 0 else [prior.get(o, 0.0) for o in options]
    return _result(options, probs, answer.method + "+segment", answer.order)


def shuffled_order(n_options: int, *keys: int) -> list[int]:
    """A stable random order of ``n_options`` options for one respondent: the same keys (a
    survey seed, a persona id, a sample number) always give the same order."""
    order = list(range(n_options))
    random.Random("/".join(str(k) for k in keys)).shuffle(order)
    return order


def draw_answer(answer: ClosedAnswer, *keys: int) -> str:
    """One answer drawn from the option probabilities with a generator seeded by ``keys``, so a
    survey keeps the spread of the model's answers and a fixed seed gives the same draws."""
    options = list(answer.probabilities)
    rng = random.Random("draw/" + "/".join(str(k) for k in keys))
    return rng.choices(options, weights=[answer.probabilities[o] for o in options], k=1)[0]
