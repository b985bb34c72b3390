"""Per-mention sentiment: what a post says about each product it mentions, not the post's overall mood.

"Why is Mozilla Firefox so bad at crashes? ... Still better than Chrome though." is negative about
Firefox *and* about Chrome (a browser that loses to a bad one), though a post-level score would
count its whole -0.9 against Chrome as well. For each mention this module judges:

1. **Comparative rules** on the sentence around each occurrence of the product (lowercased):
   ``A is better/faster/... than B`` and ``more/less ADJ than`` (A gets the comparative's sign, B the
   opposite; a negator right before flips it: "isn't better than"), ``superior/inferior to``,
   ``switched/moved/migrated from B to A``, ``switched to A``, ``ditched/dropped/uninstalled B (for A)``,
   ``replaced B with A``, ``A beats/outperforms B`` (and "doesn't beat", "loses to"), ``prefer A over B``,
   ``instead of / rather than B`` (B negative), and ``unlike / compared to / as opposed to B, ...`` (B gets
   the opposite of what the rest of the sentence says). A rule's reading has score +-``RULE_SCORE`` and
   confidence ``RULE_CONFIDENCE``; rules need no knowledge of the other side (it need not be a
   tracked product). A comparative with no subject in its clause ("Still better than Chrome")
   counts for its object only.
2. Otherwise **the sentence carrying the product**; when that sentence names another product too,
   **its own region**: the clause carrying it plus the clauses naming no other product (clauses:
   the sentence cut at , ; : dashes and but / though / although / however / whereas / while / yet /
   except; a clause naming two products is cut at "and" too, and widened back to the clause when
   that piece has no opinion). If that has no opinion, the sentence, when the other products in it
   hold no opinion of their own there ("The bruschetta and the panini are so yummy!") or all hold
   the sentence's ("The staff makes you feel at home, the food is great and the atmosphere is
   WONDERFUL!"); never across sentences ("I tried Safari today. Chrome crashes, awful." leaves
   Safari neutral). The scorer reads each span with every alias that is a VADER sentiment word
   replaced by "it" (so "Brave" the product is not the word "brave"); other names stay (masking
   every name as "it" cost the trained model 2-7 points of macro-F1 on the target-level sets).
3. A mention whose text carries no opinion anywhere falls back to **the post**: the post's own
   label when it names only this product (re-scored with the aliases masked when masking changed
   it); else the sentences naming no product (the "rest"), scored as one text; else neutral.

A post whose label is ``unscored`` (a language the scorer does not cover) gets unscored mentions.

In another language (``judge_batch(..., language="de")``, as classify calls it for posts scored by
their language's own model) the clause cuts also use that language's contrast words and "and", and its
comparatives ("besser als", "meilleur que", "mejor que", "migliore di", "melhor que", "lepszy niż")
with its negators ("nicht", "pas", "no", "non", "não", "nie") right before them, and its "switched from B
to A" (a switching verb anywhere in the clause: "Ich bin von Brewix zu Kaffeo gewechselt", "je suis passé
de B à A", "me cambié de B a A", "sono passato da B a A", "mudei do B para o A", "przeszedłem z B na A"),
"instead of B" ("statt", "au lieu de", "en lugar de", "invece di", "em vez de", "zamiast") and "unlike B"
("im Gegensatz zu", "contrairement à", "a diferencia de", "a differenza di", "ao contrário de", "w
przeciwieństwie do"); the English rules above still apply.

A mention's readings (one per occurrence) that have an opinion are averaged: the score is their
mean, the label its sign (one reading: the scorer's own label), the confidence their mean. The
span is the text judged (readings joined by " … "), ``basis`` says which step decided.

``judge_batch`` scores every span of many posts in at most three scorer calls (the trained model's
cost is mostly per call); ``judge_mentions`` is the one-post form. Pure: text, mentions, a scorer.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass
from typing import Sequence

from models.products import Mention
from models.sentiment import NEGATIVE, NEUTRAL, POSITIVE, UNSCORED, Scorer, Sentiment

RULE_SCORE = 0.6        # the score a comparative rule gives (its sign: which side of the comparison)
RULE_CONFIDENCE = 0.7   # and its confidence
SEPARATOR = " … "

# basis: which step decided a mention's label
RULE, CLAUSE, SENTENCE, POST, REST, NONE = "comparative", "clause", "sentence", "post", "rest", "none"


@dataclass(frozen=True)
class MentionSentiment:
    """The sentiment of one (post, product) mention."""
    product: str
    alias: str
    label: str                 # positive | neutral | negative | unscored
    score: float | None        # polarity in [-1, 1]; None when unscored
    confidence: float | None
    span: str                  # the text judged (several readings joined by " … ")
    basis: str                 # comparative | clause | sentence | post | rest | none | unscored


# --- text structure ----------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")
_CLAUSE_CUT = re.compile(r"\s*[,;:]\s+|\s*[,;]\s*$|\s+[-–—]+\s+|\s*\(\s*|\s*\)\s*|"
                         r"\s+(?=(?:but|though|although|however|whereas|while|yet|except|unlike)\b)",
                         re.IGNORECASE)
_AND_CUT = re.compile(r"\s+(?:and|&)\s+", re.IGNORECASE)

# The same cuts in the other languages listener scores with their own models (models.multilingual):
# each language's contrast words and "and" (a word list per language: Polish "ma" is "has", not "but").
_CONTRAST_WORDS = {
    "de": r"aber|jedoch|doch|obwohl|allerdings|sondern|während|außer",
    "fr": r"mais|cependant|pourtant|toutefois|bien\s+que|alors\s+que|tandis\s+que|sauf",
    "es": r"pero|aunque|sin\s+embargo|sino|mientras|excepto|salvo",
    "it": r"ma|però|tuttavia|anche\s+se|mentre|tranne|eccetto",
    "pt": r"mas|porém|embora|contudo|todavia|enquanto|exceto",
    "pl": r"ale|lecz|jednak|chociaż|choć|natomiast|oprócz|mimo\s+że",
    "ar": r"لكن|ولكن|بينما|رغم",
    "hi": r"लेकिन|पर|मगर|किंतु|हालांकि",
}
_AND_WORDS = {"de": "und", "fr": "et", "es": "y|e", "it": "e|ed", "pt": "e", "pl": "i|oraz", "ar": "و", "hi": "और"}
_CLAUSE_CUTS = {lang: re.compile(_CLAUSE_CUT.pattern.replace("(?:but|", f"(?:{words}|but|"), re.IGNORECASE)
                for lang, words in _CONTRAST_WORDS.items()}
_AND_CUTS = {lang: re.compile(rf"\s+(?:{words}|and|&)\s+", re.IGNORECASE) for lang, words in _AND_WORDS.items()}


def _cut(text: str, start: int, end: int, pattern: re.Pattern) -> list[tuple[int, int]]:
    """The pieces of ``text[start:end]`` between the matches of ``pattern``, as absolute spans."""
    out, pos = [], start
    for m in pattern.finditer(text, start, end):
        if m.start() > pos:
            out.append((pos, m.start()))
        pos = max(pos, m.end())
    if end > pos:
        out.append((pos, end))
    return out or [(start, end)]


def sentences(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence: cut after . ! ? … followed by space, and at line ends."""
    return _cut(text, 0, len(text), _SENTENCE_END)


def _find(spans: Sequence[tuple[int, int]], pos: int) -> tuple[int, int]:
    for a, b in spans:
        if a <= pos < b:
            return a, b
    return spans[-1]


def occurrences(text: str, mention: Mention) -> tuple[tuple[int, int], ...]:
    """Where the mention's product is named: ``Mention.spans``, else each whole-word match of its alias."""
    if mention.spans:
        return mention.spans
    words = r"\s+".join(re.escape(w) for w in mention.alias.split())
    found = tuple(m.span() for m in re.finditer(rf"(?<!\w){words}(?!\w)", text, re.IGNORECASE))
    return found or ((0, 0),)


def masked(text: str, spans: Sequence[tuple[int, int]]) -> str:
    """``text`` with each span that holds a sentiment word ("Brave") replaced by "it", padded to the
    same length (offsets hold). Other names stay: the trained model reads them as it was trained."""
    from models.vader import analyzer

    lexicon = analyzer().lexicon
    chars = list(text)
    for a, b in spans:
        if b - a >= 2 and any(w.lower() in lexicon for w in text[a:b].split()):
            chars[a:b] = "it" + " " * (b - a - 2)
    return "".join(chars)


# --- comparative rules -------------------------------------------------------------------------

_COMPARATIVES = {
    **dict.fromkeys("better faster cheaper easier smoother nicer safer lighter quicker snappier cleaner simpler "
                    "stabler sleeker slicker leaner prettier smarter stronger happier friendlier".split(), 1),
    **dict.fromkeys("worse slower pricier costlier harder heavier buggier uglier clunkier laggier weaker "
                    "dumber crappier shittier sadder".split(), -1),
}
_ADJECTIVES = {
    **dict.fromkeys("stable reliable secure private responsive intuitive polished usable useful powerful "
                    "efficient customizable accurate consistent enjoyable convenient capable fun "
                    "impressive elegant robust".split(), 1),
    **dict.fromkeys("expensive bloated annoying buggy confusing complicated invasive unstable sluggish painful "
                    "frustrating intrusive broken unreliable cluttered clunky laggy".split(), -1),
}
_NEGATED = re.compile(r"(?:\bnot|n't|n’t|\bnever|\bno|\bhardly|\bnothing)\s+(?:\w+\s+){0,1}$")
_THAN = re.compile(r"\b(?:(?P<more>more|less)\s+(?P<adj>[\w-]+)|(?P<cmp>[a-z]+er|worse))\s+than\b"
                   r"|\b(?P<rel>superior|inferior|preferable)\s+to\b")
_SAME_CLAUSE = re.compile(r"[,;:.!?]|\b(?:but|though|although|however|whereas|while|yet)\b")
_GAP = r"(?:[\w'’.-]+\s+){0,3}?"      # up to three words between a cue and the product ("the new")

_RULES_BEFORE: tuple[tuple[re.Pattern, int], ...] = tuple((re.compile(p + r"$"), s) for p, s in (
    # what precedes the product in its clause -> the product's sign (the first pattern that matches decides)
    (r"\b(?:switch\w*|mov\w*|migrat\w*|went|jump\w*|convert\w*|came|transition\w*)\s+.{0,60}?\bfrom\s+.{1,60}?"
     r"\s+(?:to|for)\s+" + _GAP, 1),
    (r"\b(?:switch\w*|mov\w*|migrat\w*|went|go(?:ing)?|jump\w*|convert\w*|came|transition\w*|port\w*)\s+"
     r"(?:\w+\s+){0,2}?(?:away\s+)?from\s+" + _GAP, -1),
    (r"\bswitch\w*\s+(?:over\s+|back\s+)?to\s+" + _GAP, 1),
    (r"\b(?:ditch\w*|dump\w*|dropp?\w*|abandon\w*|uninstall\w*)\s+.{1,60}?\s+for\s+" + _GAP, 1),
    (r"\breplac\w*\s+.{1,60}?\s+with\s+" + _GAP, 1),
    (r"\b(?:ditch\w*|dump\w*|dropp?\w*|abandon\w*|uninstall\w*|replac\w*|gave\s+up\s+on|giving\s+up\s+on)\s+" + _GAP,
     -1),
    (r"\b(?:instead\s+of|rather\s+than)\s+" + _GAP, -1),
    (r"\b(?:beats?|beating|outperform\w*|outclass\w*|trumps?)\s+" + _GAP, -1),
    (r"\b(?:loses?|lost|losing)\s+to\s+" + _GAP, 1),
    (r"\bprefer\w*\s+.{1,60}?\s+(?:over|to|than)\s+(?:using\s+)?" + _GAP, -1),
    (r"\bprefer\w*\s+(?:using\s+)?" + _GAP, 1),
))
_RULES_AFTER: tuple[tuple[re.Pattern, int], ...] = tuple((re.compile(r"^\s*" + p), s) for p, s in (
    # what follows the product -> the product's sign
    (r"(?:\w+\s+){0,2}?(?:does\s*n[o'’]?t|did\s*n[o'’]?t|doesn't|didn't|can'?t|cannot|never|won'?t)\s+"
     r"(?:even\s+)?(?:beat|outperform|outclass|compete)", -1),
    (r"(?:\w+\s+){0,2}?(?:beats?|beat|outperform\w*|outclass\w*|trumps?|wins\s+(?:over|against))\b", 1),
    (r"(?:\w+\s+){0,2}?(?:loses?|lost)\s+to\b", -1),
))
# Comparatives in the other languages: the comparative (sign), the word before the compared product,
# and the negators that flip it right before the comparative ("ist nicht besser als", "n'est pas meilleur que").
_COMPARATIVES_BY = {
    "de": ({**dict.fromkeys("besser schneller billiger günstiger einfacher stabiler schöner leichter".split(), 1),
            **dict.fromkeys("schlechter langsamer teurer schwerer komplizierter".split(), -1)},
           r"als", r"nicht|kein\w*|nie|niemals"),
    "fr": ({**dict.fromkeys("meilleur meilleure meilleurs meilleures mieux".split(), 1),
            **dict.fromkeys("pire pires".split(), -1)}, r"que|qu'", r"pas|jamais|plus"),
    "es": ({**dict.fromkeys("mejor mejores".split(), 1), **dict.fromkeys("peor peores".split(), -1)},
           r"que", r"no|nunca"),
    "it": ({**dict.fromkeys("migliore migliori meglio".split(), 1),
            **dict.fromkeys("peggiore peggiori peggio".split(), -1)},
           r"di|del|della|dello|dei|degli|delle|che", r"non|mai"),
    "pt": ({**dict.fromkeys("melhor melhores".split(), 1), **dict.fromkeys("pior piores".split(), -1)},
           r"que|do\s+que|da\s+que", r"não|nunca"),
    "pl": ({**dict.fromkeys("lepszy lepsza lepsze lepiej szybszy szybsza szybsze tańszy tańsza tańsze".split(), 1),
            **dict.fromkeys("gorszy gorsza gorsze gorzej wolniejszy wolniejsza wolniejsze droższy droższa droższe"
                            .split(), -1)}, r"niż|od", r"nie|nigdy"),
}
_THAN_BY = {lang: (re.compile(rf"(?<!\w)(?P<cmp>{'|'.join(sorted(words, key=len, reverse=True))})\s+(?:{than})(?!\w)"),
                   words, re.compile(rf"(?<!\w)(?:{neg})\s+(?:\w+\s+){{0,1}}$"))
            for lang, (words, than, neg) in _COMPARATIVES_BY.items()}

_CONTRAST = re.compile(r"\b(?:unlike|compared\s+(?:to|with)|in\s+contrast\s+to|as\s+opposed\s+to)\s+" + _GAP + "$")

# "switched from B to A", "instead of B" and "unlike B" in the other languages: the switching verbs,
# "from", "to", "instead of" and "unlike / compared with" of each. A switch needs one of its verbs in
# the product's clause, before or after it (German puts the verb last: "von Brewix zu Kaffeo gewechselt").
_SWITCH_WORDS = {
    "de": (r"wechsel\w*|gewechselt|umgestiegen|umsteig\w*|steige\w*\s+.{0,40}?\bum|umgezogen|migriert\w*",
           r"von|vom", r"zu|zum|zur|auf", r"statt|anstatt|anstelle\s+von|anstelle",
           r"im\s+gegensatz\s+zu[mr]?|anders\s+als|verglichen\s+mit|im\s+vergleich\s+zu[mr]?"),
    "fr": (r"pass[éeé]\w*|passe\w*|chang\w*|migr\w*|bascul\w*", r"de|du|des|d['’]", r"à|au|aux|pour|vers",
           r"au\s+lieu\s+d[eu]|au\s+lieu\s+d['’]|plutôt\s+que",
           r"contrairement\s+(?:à|au|aux)|à\s+la\s+différence\s+d[eu]|comparée?s?\s+(?:à|au)|par\s+rapport\s+(?:à|au)"),
    "es": (r"cambi\w*|pas[éeó]\w*|pasa\w*|migr\w*|mud[éeó]\w*", r"de|del", r"a|al|por",
           r"en\s+lugar\s+de[l]?|en\s+vez\s+de[l]?",
           r"a\s+diferencia\s+de[l]?|comparad[oa]s?\s+con|en\s+comparación\s+con|frente\s+a[l]?"),
    "it": (r"passat\w*|pass[oaò]\b|cambiat\w*|migrat\w*|ho\s+cambiato", r"da|dal|dalla|dallo|dai|dagli",
           r"a|ad|al|alla|allo|ai|agli|per",
           r"invece\s+d[i']|invece\s+del(?:la|lo)?|anziché|piuttosto\s+che",
           r"a\s+differenza\s+d(?:i|el|ella|ello)|rispetto\s+(?:a|al|alla|allo)|in\s+confronto\s+(?:a|al|alla)"),
    "pt": (r"mud\w*|troqu\w*|troc\w*|pass\w*|migr\w*", r"de|do|da", r"para|pra|pro|pelo|pela|por",
           r"em\s+vez\s+d[eoa]|ao\s+invés\s+d[eoa]|no\s+lugar\s+d[eoa]",
           r"ao\s+contrário\s+d[eoa]|diferente(?:mente)?\s+d[eoa]|comparad[oa]\s+(?:a|ao|à|com)|em\s+comparação\s+com"),
    "pl": (r"przesz\w*|przeszł\w*|przesiad\w*|przesiąd\w*|zmieni\w*|przeni\w*|migr\w*", r"z|ze", r"na|do",
           r"zamiast", r"w\s+przeciwieństwie\s+do|w\s+porównaniu\s+(?:z|ze|do)|inaczej\s+niż"),
}
_AFTER_WORD = r"(?:\s+|(?<=['’]))"   # "d'Android": an elided word runs into the next
# At most one word (an article) between "from", "instead of", "unlike" and the product: these languages
# put the subject after the verb ("Statt Brewix nehme ich Kaffeo"), so three words would reach the other side.
_GAP1 = r"(?:[\w'’.-]+\s+)?"


def _switch_rules(verbs: str, frm: str, to: str, instead: str, unlike: str) -> tuple:
    """One language's (switch verb, [(pattern before the product, sign, needs the verb)], "unlike" pattern)."""
    def word(words: str) -> str:
        return rf"(?<!\w)(?:{words}){_AFTER_WORD}"

    return (re.compile(rf"(?<!\w)(?:{verbs})"),
            [(re.compile(rf"{word(frm)}.{{1,60}}?\s{word(to)}{_GAP}$"), 1, True),    # from B to A: A
             (re.compile(rf"{word(frm)}{_GAP1}$"), -1, True),                            # from B: B
             (re.compile(rf"{word(to)}{_GAP}$"), 1, True),                               # to A: A
             (re.compile(rf"{word(instead)}{_GAP1}$"), -1, False)],                      # instead of B: B
            re.compile(rf"{word(unlike)}{_GAP1}$"))


_SWITCHES_BY = {lang: _switch_rules(*words) for lang, words in _SWITCH_WORDS.items()}


def _other_switch(sentence: str, start: int, end: int, language: str) -> tuple[int, str] | None:
    """What "switched from B to A", "instead of B" or "unlike B" in ``language`` says of the product at
    ``sentence[start:end]`` (its clause: cut at , ; : . ! ?), as ``rule_reading`` returns it."""
    verb, rules, unlike = _SWITCHES_BY[language]
    before = sentence[max((x.end() for x in re.finditer(r"[,;:.!?]", sentence[:start])), default=0):start]
    after = re.split(r"[,;:.!?]", sentence[end:], maxsplit=1)[0]
    if unlike.search(before):
        return -1, "contrast"
    has_verb = bool(verb.search(before) or verb.search(after))
    for pattern, sign, needs_verb in rules:
        if (has_verb or not needs_verb) and pattern.search(before):
            return sign, "fixed"
    return None


def _comparative_sign(m: re.Match, before: str) -> int:
    """The sign a ``than``/``to`` comparative gives its subject (0: unknown adjective)."""
    from models.vader import analyzer

    if m.group("rel"):
        sign = {"superior": 1, "preferable": 1, "inferior": -1}[m.group("rel")]
    elif m.group("more"):
        adj = m.group("adj")
        sign = _ADJECTIVES.get(adj) or (0 if abs(v := analyzer().lexicon.get(adj, 0.0)) < 1 else (1 if v > 0 else -1))
        sign *= -1 if m.group("more") == "less" else 1
    else:
        sign = _COMPARATIVES.get(m.group("cmp"), 0)
    if sign and _NEGATED.search(before):
        sign = -sign
    return sign


def _other_comparative(sentence: str, start: int, end: int, language: str) -> int:
    """The sign a comparative of ``language`` ("besser als", "meilleur que", "lepszy niż") gives the
    product at ``sentence[start:end]``: its subject takes the comparative's sign, the product right
    after the "than" word the opposite; a negator right before flips it; 0: no such comparative."""
    pattern, words, negated = _THAN_BY[language]
    for m in pattern.finditer(sentence):
        sign = words[m.group("cmp")] * (-1 if negated.search(sentence[:m.start()]) else 1)
        if m.end() <= start and not re.search(r"[,;:.!?]", sentence[m.end():start]) \
                and len(sentence[m.end():start].split()) <= 3:
            return -sign
        if m.start() >= end and not re.search(r"[,;:.!?]", sentence[end:m.start()]) \
                and len(sentence[end:m.start()].split()) <= 4:
            return sign
    return 0


def rule_reading(sentence: str, start: int, end: int, language: str | None = None) -> tuple[int, str] | None:
    """What a comparative cue around the product at ``sentence[start:end]`` (lowercased) says.

    (sign, "fixed"): the product is on the good (+1) or bad (-1) side of a comparison;
    (-1, "contrast"): the product is the "unlike B" side, so it takes the opposite of the rest of the
    sentence; None: no cue. ``language`` (de, fr, es, it, pt, pl) adds that language's comparatives.
    """
    before, after = sentence[:start], sentence[end:]
    if language in _THAN_BY and (sign := _other_comparative(sentence, start, end, language)):
        return sign, "fixed"
    if language in _SWITCHES_BY and (found := _other_switch(sentence, start, end, language)):
        return found
    for m in _THAN.finditer(sentence):
        if m.end() <= start and not re.search(r"[,;:.!?]", sentence[m.end():start]) \
                and len(sentence[m.end():start].split()) <= 3:
            sign = _comparative_sign(m, sentence[:m.start()])
            if sign:
                return -sign, "fixed"                    # the object: "better than B"
        if m.start() >= end and not _SAME_CLAUSE.search(sentence[end:m.start()]):
            sign = _comparative_sign(m, sentence[:m.start()])
            if sign:
                return sign, "fixed"                     # the subject: "A is better than"
    clause_start = max((x.end() for x in re.finditer(r"[;:.!?]", before)), default=0)
    local = before[clause_start:]
    if _CONTRAST.search(local):
        return -1, "contrast"
    for pattern, sign in _RULES_BEFORE:
        if pattern.search(local):
            return sign, "fixed"
    for pattern, sign in _RULES_AFTER:
        if pattern.search(after[:80]):
            return sign, "fixed"
    return None


# --- judging ----------------------------------------------------------------------------------


@dataclass
class _Reading:
    kind: str                   # comparative | contrast | clause
    span: str                   # the original text (for rules)
    sign: int = 1               # fixed rules: the sign
    # (masked text for the scorer, original span, basis), narrowest first; the first with an opinion counts
    candidates: tuple[tuple[str, str, str], ...] = ()
    sentence: tuple[int, int] = (0, 0)  # where its sentence is
    whole: tuple[str, str] = ("", "")   # that sentence (masked, original), shared when nobody's opinion is local


@dataclass
class _Plan:
    text: str
    mention: Mention
    readings: list[_Reading]
    sole: bool                  # the post names no other product
    rest: str                   # the sentences naming no product (masked), for the fallback
    hidden: str = ""            # the post with sentiment-word aliases masked, when that changed it
    # sentences it shares with products that hold no opinion of their own there, or all the same one:
    # (masked, original, the label the sentence must have: "" for any)
    shared: tuple[tuple[str, str, str], ...] = ()


def _plan(text: str, mentions: Sequence[Mention], language: str | None = None) -> list[_Plan]:
    clause_cut, and_cut = _CLAUSE_CUTS.get(language or "", _CLAUSE_CUT), _AND_CUTS.get(language or "", _AND_CUT)
    occ = {m.product: occurrences(text, m) for m in mentions}
    every = sorted(s for spans in occ.values() for s in spans if s[1] > s[0])
    hidden = masked(text, every)
    lower = text.lower()
    sents = sentences(text)
    naming: dict[tuple[int, int], set[str]] = {s: set() for s in sents}
    starts = [a for a, _ in sents]
    for p, spans in occ.items():
        for a, _ in spans:
            i = bisect_right(starts, a) - 1
            if i >= 0 and a < sents[i][1]:
                naming[sents[i]].add(p)
    rest = " ".join(hidden[a:b] for a, b in sents if not naming[(a, b)]).strip()
    plans = []
    for m in mentions:
        readings, seen = [], set()
        for a, b in occ[m.product]:
            if b <= a:
                continue
            s0, s1 = _find(sents, a)
            others = naming[(s0, s1)] - {m.product}
            # the clause only when the sentence names another product (else the sentence keeps its context)
            c0, c1 = _find(_cut(text, s0, s1, clause_cut), a) if others else (s0, s1)
            rule = rule_reading(lower[s0:s1], a - s0, b - s0, language)
            if rule and rule[1] == "fixed":
                if ("rule", s0, rule[0]) not in seen:
                    seen.add(("rule", s0, rule[0]))
                    readings.append(_Reading(RULE, text[s0:s1].strip(), sign=rule[0]))
                continue
            if rule:   # contrast: the rest of the sentence, outside this clause, negated
                span = (hidden[s0:c0] + " " + hidden[c1:s1]).strip(" ,;:")
                if ("contrast", s0) not in seen and span:
                    seen.add(("contrast", s0))
                    readings.append(_Reading("contrast", text[s0:s1].strip(),
                                             candidates=((span, text[s0:s1].strip(), RULE),)))
                continue
            if not others:
                own = [(s0, s1)]
            else:   # the clauses of the sentence that name no other product, and this product's own piece
                clauses = _cut(text, s0, s1, clause_cut)
                own = [(x, y) for x, y in clauses if (x, y) == (c0, c1)
                       or not any(x <= o < y for p in others for o, _ in occ[p])]
            regions = [own]
            if others and any(c0 <= o < c1 for p in others for o, _ in occ[p]):    # two products in one clause
                n0, n1 = _find(_cut(text, c0, c1, and_cut), a)
                regions.insert(0, [(n0, n1) if (x, y) == (c0, c1) else (x, y) for x, y in own])
            if ("clause", regions[0][0]) not in seen:
                seen.add(("clause", regions[0][0]))
                candidates = tuple((" ".join(hidden[x:y].strip() for x, y in region).strip(),
                                    SEPARATOR.join(text[x:y].strip() for x, y in region),
                                    CLAUSE if others else SENTENCE) for region in regions)
                readings.append(_Reading(CLAUSE, candidates[0][1], candidates=candidates, sentence=(s0, s1),
                                         whole=(hidden[s0:s1].strip(), text[s0:s1].strip())))
        plans.append(_Plan(text, m, readings, len(mentions) == 1, rest, hidden if hidden != text else ""))
    return plans


def _polar(s: Sentiment | None) -> bool:
    return s is not None and s.label in (POSITIVE, NEGATIVE) and s.score is not None


def _score_all(texts: set[str], scorer: Scorer, cache: dict[str, Sentiment]) -> None:
    todo = sorted(t for t in texts if t and t not in cache)
    if todo:
        cache.update(zip(todo, scorer.score(todo)))


def judge_batch(items: Sequence[tuple[str, Sequence[Mention], Sentiment | None]],
                scorer: Scorer, language: str | None = None) -> list[list[MentionSentiment]]:
    """Per-mention sentiment for many posts: each item is (post text, its mentions, the post's
    sentiment or None). The post's sentiment is the fallback; ``None`` scores the post when a
    fallback needs it; a post whose label is ``unscored`` (a language the scorer does not cover)
    gets unscored mentions. At most three ``scorer.score`` calls in all. ``language`` (the posts'
    language when not English: de, fr, es, it, pt, pl, ar, hi) adds its contrast words to the clause
    cuts and its comparatives ("besser als") to the rules.
    """
    plans = [(_plan(text, mentions, language) if not (post and post.label == UNSCORED) else None, post)
             for text, mentions, post in items]
    cache: dict[str, Sentiment] = {text: post for text, _, post in items
                                   if post is not None and post.score is not None}
    readings = [r for ps, _ in plans if ps for p in ps for r in p.readings]
    _score_all({r.candidates[0][0] for r in readings if r.candidates}, scorer, cache)
    _score_all({c[0] for r in readings if r.candidates and not _polar(cache.get(r.candidates[0][0]))
                for c in r.candidates[1:]}, scorer, cache)
    results = [[_judge(p, cache) for p in ps] if ps is not None else None for ps, _ in plans]
    need = set()
    for i, ((ps, post), (text, _, _)) in enumerate(zip(plans, items)):
        if not ps:
            continue
        local: dict[tuple[int, int], dict[str, set[str]]] = {}   # sentence -> product -> its own labels there
        for p in ps:
            for r in p.readings:
                if r.kind == RULE:
                    lab = POSITIVE if r.sign > 0 else NEGATIVE
                else:
                    lab = next((cache[c[0]].label for c in r.candidates if _polar(cache.get(c[0]))), "")
                if lab:
                    local.setdefault(r.sentence, {}).setdefault(p.mention.product, set()).add(lab)
        for p, r in zip(ps, results[i]):
            if r is None:
                shared = []
                for x in p.readings:
                    if x.kind != CLAUSE or not x.whole[0]:
                        continue
                    labels = {lab for q, labs in local.get(x.sentence, {}).items() if q != p.mention.product
                              for lab in labs}
                    if len(labels) <= 1:   # nobody else's opinion there, or all of one mood ("X, Y and Z are great")
                        shared.append((*x.whole, next(iter(labels), "")))
                p.shared = tuple(dict.fromkeys(shared))
                need.update(w[0] for w in p.shared)
                need.add(p.hidden or (text if post is None else "") if p.sole else p.rest)
    _score_all(need, scorer, cache)
    out = []
    for i, ((ps, post), (text, mentions, _)) in enumerate(zip(plans, items)):
        if ps is None:
            out.append([MentionSentiment(m.product, m.alias, UNSCORED, None, None, "", UNSCORED) for m in mentions])
            continue
        out.append([r if r is not None else _fallback(p, cache, post) for p, r in zip(ps, results[i])])
    return out


def _judge(p: _Plan, cache: dict[str, Sentiment]) -> MentionSentiment | None:
    """The mention's sentiment from its own readings, or None when none has an opinion."""
    found: list[tuple[str, str, float, float, str]] = []   # basis, label, score, confidence, span
    for r in p.readings:
        if r.kind == RULE:
            found.append((RULE, POSITIVE if r.sign > 0 else NEGATIVE, r.sign * RULE_SCORE, RULE_CONFIDENCE, r.span))
            continue
        for scored, span, basis in r.candidates:
            s = cache.get(scored)
            if _polar(s):
                if r.kind == "contrast":
                    found.append((RULE, NEGATIVE if s.label == POSITIVE else POSITIVE, -s.score,
                                  s.confidence or 0.0, span))
                else:
                    found.append((basis, s.label, s.score, s.confidence or 0.0, span))
                break
    if not found:
        return None
    if len(found) == 1:
        basis, lab, score, conf, span = found[0]
    else:
        score = sum(f[2] for f in found) / len(found)
        conf = sum(f[3] for f in found) / len(found)
        lab = POSITIVE if score > 0 else NEGATIVE if score < 0 else NEUTRAL
        bases = {f[0] for f in found}
        basis = RULE if RULE in bases else CLAUSE if CLAUSE in bases else SENTENCE
        span = SEPARATOR.join(dict.fromkeys(f[4] for f in found))
    return MentionSentiment(p.mention.product, p.mention.alias, lab, round(score, 4), round(conf, 4), span, basis)


def _fallback(p: _Plan, cache: dict[str, Sentiment], post: Sentiment | None) -> MentionSentiment:
    m = p.mention
    polar = [(cache[w], span) for w, span, need in p.shared
             if _polar(cache.get(w)) and (not need or cache[w].label == need)]
    if polar:   # "A and B are great": the sentence's opinion, which no product holds alone
        score = sum(s.score for s, _ in polar) / len(polar)
        conf = sum(s.confidence or 0.0 for s, _ in polar) / len(polar)
        lab = polar[0][0].label if len(polar) == 1 else POSITIVE if score > 0 else NEGATIVE if score < 0 else NEUTRAL
        return MentionSentiment(m.product, m.alias, lab, round(score, 4), round(conf, 4),
                                SEPARATOR.join(span for _, span in polar), SENTENCE)
    if p.sole:
        s = cache.get(p.hidden) if p.hidden else post if post is not None and post.score is not None \
            else cache.get(p.text)
        if s is not None:
            return MentionSentiment(m.product, m.alias, s.label, s.score, s.confidence, p.text.strip(), POST)
    elif p.rest and _polar(s := cache.get(p.rest)):
        return MentionSentiment(m.product, m.alias, s.label, s.score, s.confidence, p.rest, REST)
    own = SEPARATOR.join(dict.fromkeys(r.span for r in p.readings))
    return MentionSentiment(m.product, m.alias, NEUTRAL, 0.0, None, own, NONE)


def judge_mentions(text: str, mentions: Sequence[Mention], scorer: Scorer,
                   post: Sentiment | None = None) -> list[MentionSentiment]:
    """Per-mention sentiment for one post (see the module docstring); ``post`` is its post-level
    sentiment if already scored (the fallback), else it is scored when needed."""
    return judge_batch([(text, mentions, post)], scorer)[0]


def judge_targets(items: Sequence[tuple[str, Sequence[Mention], int, str]],
                  scorer: Scorer) -> tuple[list[str], list[str]]:
    """For target-level data (text, its mentions, which one is judged, gold label): the label each
    item gets from the post-level reading, and from ``judge_batch`` of the judged mention."""
    texts = sorted({t for t, _, _, _ in items})
    post = dict(zip(texts, scorer.score(texts)))
    judged = judge_batch([(t, ms, post[t]) for t, ms, _, _ in items], scorer)
    return ([post[t].label for t, _, _, _ in items],
            [j[k].label for j, (_, _, k, _) in zip(judged, items)])
