"""Candidate facts about the person, found in their own messages: offline patterns by default.

Why patterns: they run on any machine with no model download, in seconds for 100,000 messages,
and every candidate points at the message that says it, so the person can check it. Three kinds
of rule, each a small table below:

- **statements** in one message of the person's: "i live in X", "moved to X", "i'm a nurse",
  "my cat Mochi", "i don't drink coffee", "i'm allergic to nuts", "still single";
- **exchanges**: a burst of theirs read with what was asked just before ("how old?" → "27",
  "happy birthday!" → "thank you x", "what do you want from koto" → "tonkotsu obviously");
- **patterns over the whole history**: an activity they keep mentioning (a hobby), a name that
  is the subject of their sentences next to pet words (a pet), a sender who shares their surname
  and calls the same people mum and dad (a sibling).

Statements that patterns catch but cannot label ("i love X", "X, my favourite") are labelled by
a small lexicon, then by the embedder (slot prototypes), when one is given. The optional LLM
extractor (`LLMExtractor`) sends the person's messages to an OpenAI-compatible endpoint, only when
`[memory] extractor_url` is set.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_left
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

from chatclone.embeddings import Embedder
from chatclone.errors import ChatcloneError
from chatclone.memory.index import Doc, documents, my_names
from chatclone.memory.slots import SLOT_WORDS, SLOTS
from chatclone.openai.judge import JudgeEndpoint, judge_key
from chatclone.workspace import Workspace

Progress = Callable[[str, int], Callable[[int], None] | None]


@dataclass(frozen=True)
class Evidence:
    """One message a fact rests on; `context` is what was asked just before (may be '')."""

    chat: str
    ts: str
    sender: str
    text: str
    context: str = ""

    def to_json(self) -> dict[str, str]:
        data = {"chat": self.chat, "ts": self.ts, "sender": self.sender, "text": self.text}
        return data | ({"context": self.context} if self.context else {})

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.chat, self.ts, self.text)


@dataclass
class Candidate:
    """A fact an extractor proposes; `closes`: a statement of a new state ("moved to X") that
    ends the slot's older value, where a passing hint ("back in X by 7") does not."""

    slot: str
    value: str
    polarity: str = "positive"
    confidence: float = 0.5
    evidence: list[Evidence] = field(default_factory=list)
    valid_from: str | None = None
    valid_to: str | None = None
    closes: bool = False
    origin: str = "extracted"
    explicit_from: bool = False  # valid_from said in words ("since 2022"), not the message date
    wish: bool = False  # a birthday read from thanks for birthday wishes

    @property
    def key(self) -> tuple[str, str, str]:
        return fact_key(self.slot, self.value, self.polarity)


def fact_key(slot: str, value: str, polarity: str) -> tuple[str, str, str]:
    """What makes two facts the same: slot, value without case, articles or spacing, polarity."""
    words = re.sub(r"[^\w&' ]+", " ", re.sub(r"\(.*?\)", "", value.casefold())).split()
    while words and words[0] in {"a", "an", "the", "my"}:
        words = words[1:]
    return (slot, " ".join(words), polarity)


# --- words ------------------------------------------------------------------------------------

_MONTHS = "january february march april may june july august september october november december"
MONTHS = (
    {m: i for i, m in enumerate(_MONTHS.split(), 1)}
    | {m[:3]: i for i, m in enumerate(_MONTHS.split(), 1)}
    | {"sept": 9}
)
_MONTH = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
_DAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
# fmt: off
_LEXICON: dict[str, tuple[str, ...]] = {
    "food": ("ramen", "tonkotsu", "sushi", "pizza", "pasta", "burgers", "burger", "curry",
             "tacos", "pho", "noodles", "dumplings", "kebab", "chips", "fries", "steak", "salad",
             "soup", "sandwiches", "cheese", "chocolate", "cake", "pancakes", "bagels", "risotto",
             "lasagne", "lasagna", "paella", "biryani", "dal", "bao", "gyoza", "udon", "katsu",
             "nachos", "burritos", "burrito", "pies", "crisps", "halloumi", "falafel", "avocado",
             "bacon", "sausages", "olives", "seafood", "pastries", "croissants", "doughnuts",
             "donuts", "cookies", "brownies", "popcorn", "hummus", "tofu", "ice cream", "dim sum",
             "fish and chips", "spicy food", "thai food", "indian food", "chinese food",
             "mexican food", "italian food", "japanese food", "korean food", "mac and cheese",
             "peanut butter", "meat", "vegetables", "eggs", "fried chicken", "pastéis de nata"),
    "drink": ("tea", "coffee", "beer", "wine", "red wine", "white wine", "cider", "gin", "vodka",
              "whisky", "whiskey", "rum", "tequila", "sake", "prosecco", "champagne", "lager",
              "ale", "ipa", "stout", "cocktails", "espresso", "latte", "cappuccino", "flat white",
              "matcha", "chai", "hot chocolate", "juice", "smoothies", "kombucha", "coke",
              "diet coke", "lemonade", "sparkling water", "oat milk", "energy drinks", "alcohol",
              "booze", "green tea", "herbal tea", "earl grey", "english breakfast", "milk"),
    "hobby": ("climbing", "bouldering", "running", "swimming", "cycling", "hiking", "yoga",
              "pilates", "the gym", "weightlifting", "crossfit", "football", "basketball",
              "tennis", "badminton", "squash", "volleyball", "rugby", "cricket", "golf", "boxing",
              "martial arts", "karate", "judo", "jiu jitsu", "bjj", "surfing", "skateboarding",
              "skating", "skiing", "snowboarding", "dancing", "salsa", "ballet", "singing",
              "choir", "guitar", "piano", "drums", "violin", "ukulele", "painting", "drawing",
              "pottery", "knitting", "crochet", "sewing", "baking", "gardening", "photography",
              "gaming", "video games", "chess", "fishing", "camping", "sailing", "rowing",
              "kayaking", "triathlon", "parkrun", "board games", "birdwatching", "woodwork"),
}
# Hobbies counted by their verb too ("cleared to climb"); the rest only as named.
_STEMS = {"climbing": "climb", "bouldering": "boulder", "running": "run", "swimming": "swim",
          "cycling": "cycle", "hiking": "hike", "surfing": "surf", "skiing": "ski",
          "skating": "skate", "dancing": "dance", "singing": "sing", "painting": "paint",
          "knitting": "knit", "baking": "bake", "fishing": "fish", "sailing": "sail",
          "rowing": "row", "boxing": "box"}
# fmt: on
_STOP = set(
    """a an the my your his her our their its it this that these those i you he she we they me him
    us them there here what who when where why how which all any some no not none nothing
    something everything anything everyone someone nobody anyone is was are were be been am do
    did does done have has had go going gone get got just still also too very so really and but
    or if then than now today tonight tomorrow yesterday soon later home work bed back out up
    down off on in at to for from with by of about into onto over under again ok okay yes yeah
    no nah lol haha one two three mum mom dad mam nana nan gran grandma grandpa physio ankle
    knee everybody people guys thing things stuff time day week weekend morning evening night
    place flat house car phone train bus""".split()  # noqa: SIM905
)
_NON_PLACE = _STOP | set(
    """sleep town city uni school office gym pub shop shops sofa couch it normal reality
    new bigger smaller different life earth hell heaven lunch dinner breakfast brunch table flights
    flight tickets ticket room hotel meeting class party""".split()  # noqa: SIM905
)
_PARENTS = {"mum", "mom", "dad", "mam", "mama", "papa", "mother", "father", "mummy", "daddy",
            "mamá", "papá", "maman", "mutti", "vati"}  # fmt: skip
_JOBS = r"(?:analyst|engineer|developer|dev|programmer|nurse|teacher|doctor|gp|designer|manager|accountant|lawyer|solicitor|barrister|architect|student|barista|chef|cook|scientist|consultant|writer|editor|journalist|electrician|plumber|carpenter|builder|paramedic|pharmacist|therapist|physio(?:therapist)?|researcher|lecturer|professor|officer|assistant|clerk|cashier|driver|mechanic|technician|artist|photographer|musician|actor|actress|waiter|waitress|bartender|receptionist|administrator|admin|coordinator|director|founder|ceo|cto|intern|trainee|apprentice|dentist|vet|surgeon|midwife|carer|tutor|librarian|baker|pilot|firefighter|police(?:man|woman)?|soldier|recruiter|marketer|salesperson|cleaner|gardener|postman|courier|secretary|paralegal|economist|statistician|translator|freelancer|contractor)"
_BODY = r"(?:ankle|knee|wrist|back|shoulder|arm|leg|foot|hand|finger|thumb|toe|neck|hip|elbow|ribs?|collarbone|hamstring|achilles|shin|head)"
_INJURY = re.compile(
    r"\bsprain|\bbroke|\bbroken\b|fractur|\btorn\b|\btore\b|ligament|swollen|swelling|x-?ray|\ba&e\b|\bhospital|crutch|physio|injur|surgery|\bcast\b|stitches|landed badly|twisted|dislocat|can't walk|can't put (?:any )?weight"
)
_PET_CUE = re.compile(
    r"🐈|🐱|😺|🐕|🐶|🐩|\bvets?\b|\bjabs\b|\bkittens?\b|\bpupp(?:y|ies)\b|\bpurr|\bmeow|\bwalkies\b|\blitter\b|\bcat food\b|\bdog food\b|\bneutered\b|\bspayed\b|\bfleas\b|\bwoof\b|\btreats\b"
)
_SPECIES = r"(?:cat|dog|kitten|puppy|rabbit|bunny|hamster|guinea pig|parrot|budgie|tortoise|turtle|snake|lizard|gecko|ferret|horse|pony|fish)"


def norm(text: str) -> str:
    """Lower case with one apostrophe and the usual chat spellings of "i'm", "don't", "i've"."""
    t = text.casefold().replace("’", "'").replace("‘", "'")
    t = re.sub(r"\bi am\b|\bim\b", "i'm", t)
    t = re.sub(r"\b(do|does|did|ca|is|are|was|have|has)nt\b", r"\1n't", t)
    return re.sub(r"\bive\b", "i've", t)


_CUT = re.compile(
    r"[,.!?;:()\[\]\"…\n/]|[\U0001F000-\U0001FFFF\u2600-\u27BF]|\s(?:and|but|so|though|because|cos|coz|since|now|lol|haha\w*|tbh|ngl|honestly|actually|anyway|which|who|when|if|or|too|x+|everywhere|all|lately|again|tho|either|obviously|please)\b"
)
_PLACE_CUT = re.compile(
    r"\s(?:on|at|for|by|in|to|from|with|next|last|this|tomorrow|today|tonight|soon|yesterday|until|till|after|before|around|about|like|is|was|and|we|i|to)\b|\s\d"
)


def phrase(text: str, words: int = 4) -> str:
    """The words a pattern captured, up to the first break ("tea, not coffee" → "tea")."""
    tokens = _CUT.split(" " + text, maxsplit=1)[0].split()
    while tokens and tokens[0] in {"a", "an", "the", "some", "my", "any"}:
        tokens = tokens[1:]
    return " ".join(tokens[:words])


def place(text: str) -> str | None:
    """A place name from the words after "in"/"to" ("easton, bristol" → "Easton")."""
    words = _PLACE_CUT.split(" " + phrase(text, 3), maxsplit=1)[0].split()
    if not words or words[0] in _NON_PLACE or len(words[0]) < 3 or not words[0].isalpha():
        return None
    return " ".join(w.capitalize() for w in words)


def lexicon_hit(
    text: str, slots: Iterable[str] = ("food", "drink", "hobby")
) -> tuple[str, str] | None:
    """(slot, term) of the longest lexicon term in `text`, if any."""
    best: tuple[str, str] | None = None
    for slot in slots:
        for term in _LEXICON[slot]:
            if (best is None or len(term) > len(best[1])) and re.search(
                rf"\b{re.escape(term)}\b", text
            ):
                best = (slot, term)
    return best


# --- dates ------------------------------------------------------------------------------------


def day_of(ts: str) -> str:
    return ts[:10]


def since(text: str, ts: str) -> str | None:
    """'since september 2022' → '2022-09'; 'since january' → the last January; 'since 2019'."""
    m = re.search(rf"\bsince ({_MONTH})?\s*((?:19|20)\d\d)?\b", text)
    if not m or not (m.group(1) or m.group(2)):
        return None
    year = int(m.group(2)) if m.group(2) else int(ts[:4])
    if not m.group(1):
        return str(year)
    month = MONTHS[m.group(1)[:4] if m.group(1).startswith("sept") else m.group(1)[:3]]
    if not m.group(2) and month > int(ts[5:7]):
        year -= 1
    return f"{year:04d}-{month:02d}"


def month_ahead(month_word: str, ts: str) -> tuple[int, int]:
    """(year, month) of the next `month_word` on or after the message's month."""
    key = "sept" if month_word.startswith("sept") else month_word[:3]
    month, year = MONTHS[key], int(ts[:4])
    return (year + 1 if month < int(ts[5:7]) else year), month


def date_range(text: str, ts: str) -> tuple[str, str] | None:
    """'12th to 19th of september' / '12-19 sept' → ISO dates, in the year ahead."""
    m = re.search(
        rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ?(?:to|-|–|until|till) ?(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({_MONTH})\b",
        text,
    )
    if not m:
        return None
    year, month = month_ahead(m.group(3), ts)
    try:
        return (
            date(year, month, int(m.group(1))).isoformat(),
            date(year, month, int(m.group(2))).isoformat(),
        )
    except ValueError:
        return None


def month_in(text: str, ts: str) -> str | None:
    """'in september' → '2024-09' (the next one)."""
    m = re.search(rf"\b(?:in|this|next|on|from) ({_MONTH})\b", text)
    if not m:
        return None
    year, month = month_ahead(m.group(1), ts)
    return f"{year:04d}-{month:02d}"


def birthday_text(text: str) -> str | None:
    """'9 may' / 'may 9th' / 'the 9th of may' → '9 May'."""
    m = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({_MONTH})\b", text) or re.search(
        rf"\b({_MONTH}) (\d{{1,2}})(?:st|nd|rd|th)?\b", text
    )
    if not m:
        return None
    day, word = (m.group(1), m.group(2)) if m.group(1).isdigit() else (m.group(2), m.group(1))
    month = MONTHS["sept" if word.startswith("sept") else word[:3]]
    return f"{int(day)} {date(2000, month, 1):%B}"


# --- statements in one message ----------------------------------------------------------------


@dataclass
class Said:
    """One message of the person's (or a burst, with what was asked before it) as rules see it."""

    text: str  # `norm`ed
    evidence: Evidence
    names: set[str]  # first names of the people in the history, not the person's
    words: Counter[str]  # how often the person uses each word: names recur, typos do not

    def cand(self, slot: str, value: str, confidence: float, polarity: str = "positive",
             closes: bool = False, valid_from: str | None = None, valid_to: str | None = None) -> Candidate:  # fmt: skip
        said = since(self.text, self.evidence.ts)
        start = said or valid_from or (None if slot == "birthday" else day_of(self.evidence.ts))
        return Candidate(slot, value, polarity, confidence, [self.evidence], start, valid_to,
                         closes, explicit_from=bool(said))  # fmt: skip

    def name(self, word: str | None) -> str | None:
        """`word` if it can be a name: not a common word, and a person's or said again."""
        if not word or word in _STOP or not word.isalpha() or len(word) < 2:
            return None
        return word.capitalize() if word in self.names or self.words[word] >= 2 else None


Rule = Callable[[re.Match[str], Said], Iterator[Candidate]]
STATEMENTS: list[tuple[re.Pattern[str], Rule]] = []


def statement(pattern: str) -> Callable[[Rule], Rule]:
    def register(fn: Rule) -> Rule:
        STATEMENTS.append((re.compile(pattern), fn))
        return fn

    return register


@statement(
    rf"\bi'm (?:still |now |currently |just |actually |officially )?(?:the only |a |an |the |one of the )(?P<v>(?:[a-z'-]+ ){{0,2}}{_JOBS})s?\b(?:(?: at| for) (?P<at>[a-z][\w&'-]+))?"
)
def _i_am_a(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("job", m["v"], 0.8, closes=True)
    if m["at"] and (employer := place(m["at"])):
        yield s.cand("employer", employer, 0.7, closes=True)


@statement(
    r"\bi (?:work|'m working) (?:as (?:a |an )?(?P<job>[a-z ]+)|(?:at|for) (?P<at>[a-z][\w&' -]+))"
)
def _i_work(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["job"] and (job := phrase(m["job"], 3)):
        yield s.cand("job", job, 0.8, closes=True)
    if m["at"] and (employer := place(m["at"])):
        yield s.cand("employer", employer, 0.75, closes=True)


@statement(
    r"\b(?:got|landed|accepted|started|starting|start|took) (?:a |my |the )?new job(?: as (?:a |an )?(?P<job>[a-z ]+?))?(?: at (?P<at>[a-z][\w&' -]+))?(?:$|[,.!])|\b(?:i (?:just )?joined|i'm joining|i started at|i'm starting at) (?P<at2>[a-z][\w&' -]+)"
)
def _new_job(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["job"] and (job := phrase(m["job"], 3)):
        yield s.cand("job", job, 0.75, closes=True)
    at = m["at"] or m["at2"]
    if at and (employer := place(at)):
        yield s.cand("employer", employer, 0.65, closes=True)


@statement(
    r"^(?P<v>[a-z][\w-]+) (?:is|are|'s) (?:[a-z]+ ){0,2}[a-z]+,? we (?:got|raised|closed|hired|launched|just|are|'re|have|'ve)\b"
)
def _our_company(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["v"] not in _NON_PLACE:
        yield s.cand("employer", m["v"].capitalize(), 0.45)


@statement(
    r"\bi (?:live|'ve lived|have lived|'m living|been living|still live) in (?P<v>.+)|\bmy (?:flat|apartment|house|place|home)(?: is)? in (?P<v2>.+)"
)
def _i_live(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"] or m["v2"]):
        yield s.cand("home", where, 0.85, closes=True)


@statement(
    r"(?:^|\bi |\bi've |\bwe |\bwe've |\bwe're |\bi'm |: |\bjust )(?:just |finally |officially |actually )?(?:moved|moving|relocat\w+) (?:back )?(?:in)?to (?P<v>.+)"
)
def _moved(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"]):
        yield s.cand("home", where, 0.85, closes=True, valid_from=month_in(s.text, s.evidence.ts))


@statement(r"\bmy (?P<v>flat|apartment|house)\b")
def _my_flat(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    floor = re.search(
        r"\b(ground|first|second|third|fourth|fifth|top|\d+(?:st|nd|rd|th)) floor", s.text
    )
    yield s.cand("home", m["v"] + (f" ({floor[1]} floor)" if floor else ""), 0.35)


@statement(
    r"\b(?:back|home) (?:in|to) (?P<v>[a-z]+)|\bround the corner(?: from me)? in (?P<v2>[a-z]+)|\b(?:here|near me|where i live) in (?P<v3>[a-z]+)|\bflying (?:out |back )?from (?P<v4>[a-z]+)"
)
def _home_hint(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"] or m["v2"] or m["v3"] or m["v4"] or ""):
        yield s.cand("home", where, 0.45 if m["v2"] or m["v3"] else 0.3)


@statement(
    r"\bmy (?P<who>mum|mom|dad|parents|mother|father|folks|family|grandparents|nan|nana|gran|grandma|grandpa) (?:still )?(?:lives?|live|is|are|'s|'re) (?:in|from|down in|up in) (?P<v>.+)"
)
def _family_lives(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"]):
        yield s.cand("family", f"{m['who']} in {where}", 0.8)


@statement(
    r"\bmy (?:(?:little|younger|older|big|baby|twin|kid|half|step)[ -])?(?P<kind>brother|sister|bro|sis)\b(?:,? (?P<name>[a-z]+))?"
)
def _my_sibling(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    kind = {"bro": "brother", "sis": "sister"}.get(m["kind"], m["kind"])
    name = s.name(m["name"])
    yield s.cand("sibling", f"{kind} {name}" if name else kind, 0.8 if name else 0.6)


@statement(
    r"\bi (?:don't|do not) have (?:any )?(?:siblings|brothers?|sisters?|brothers or sisters)\b|\bi'm an only child\b|\bno siblings\b"
)
def _no_siblings(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("sibling", "none", 0.9, polarity="negative")


@statement(
    r"\b(?:i'm |still |happily |been |staying |forever |very much |totally )single\b|\bi'm not (?:seeing|dating) any(?:one|body)\b|\bi (?:don't|do not) have a (?:boyfriend|girlfriend|partner)\b|\b(?:we|i) (?:just )?(?:broke up|split up|got divorced)\b"
)
def _single(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("partner", "single", 0.85, polarity="negative", closes=True)


@statement(r"\bdeleted (?:the |my |all the |all my )?(?:dating )?apps\b")
def _no_apps(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("partner", "single", 0.4, polarity="negative")


@statement(
    r"(?<!ex )\bmy (?P<kind>boyfriend|girlfriend|bf|gf|partner|husband|wife|fianc[ée]e?)\b(?:,? (?P<name>[a-z]+))?|\bi (?:just )?got (?P<state>married|engaged)\b"
)
def _partner(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["state"]:
        yield s.cand("partner", m["state"], 0.75, closes=True)
        return
    kind = {"bf": "boyfriend", "gf": "girlfriend"}.get(m["kind"], m["kind"])
    name = s.name(m["name"])
    yield s.cand("partner", f"{kind} {name}" if name else kind, 0.75, closes=True)


@statement(rf"\bmy (?:(?:little|old|new|baby) )?(?P<kind>{_SPECIES})s?\b(?:,? (?P<name>[a-z]+))?")
def _my_pet(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    name = s.name(m["name"])
    yield s.cand(
        "pet", f"{name}, a {m['kind']}" if name else f"a {m['kind']}", 0.75 if name else 0.6
    )


@statement(r"\bi (?:don't|do not) have (?:a |any )?(?:pets?|cats?|dogs?)\b")
def _no_pets(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("pet", "none", 0.85, polarity="negative")


@statement(
    r"\bi'm (?:really |very |quite |badly )?allergic to (?P<v>.+)|\bi(?: have|'ve got| got) (?P<cond>asthma|diabetes|type [12] diabetes|adhd|epilepsy|migraines|ibs|coeliac disease|eczema|arthritis|endometriosis|pcos|long covid|tinnitus|hay ?fever)\b|\bi'm (?P<adj>diabetic|asthmatic|coeliac|celiac|lactose intolerant|colou?r ?blind|deaf|dyslexic|epileptic|pregnant)\b"
)
def _condition(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["v"] and (what := phrase(m["v"], 3)) and what not in _STOP:
        yield s.cand("health", f"allergic to {what}", 0.85)
    elif m["cond"] or m["adj"]:
        yield s.cand("health", m["cond"] or m["adj"], 0.8)


@statement(
    rf"\b(?:sprained|broke|fractured|twisted|tore|injured|hurt|dislocated|pulled|did) my (?:(?P<side>left|right) )?(?P<part>{_BODY})\b"
)
def _injured(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("health", _injury(m["side"], m["part"], s.text), 0.75)


def _injury(side: str | None, part: str, text: str) -> str:
    kind = next((k for k in ("sprain", "fracture", "break", "tear") if k[:4] in text), "injury")
    kind = "fracture" if kind == "break" or "broke" in text else kind
    return f"{side + ' ' if side else ''}{part} {kind}"


@statement(
    r"\bi'm (?:a |an |now |still |fully )?(?P<v>vegetarian|vegan|pescatarian|veggie|gluten[- ]free|dairy[- ]free|teetotal|sober)\b"
)
def _diet(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["v"] in ("teetotal", "sober"):
        yield s.cand("drink", "alcohol", 0.8, polarity="negative")
    else:
        yield s.cand("food", m["v"].replace("veggie", "vegetarian"), 0.85)


@statement(
    r"\bi (?:don't|do not|never|can't|cannot|won't) (?:really |even )?(?P<verb>drink|eat|stand|like|do) (?P<v>.+)|\bi (?:hate|can't stand|despise) (?P<v2>.+)|\bi'm not (?:a|much of a) (?P<v3>[a-z]+) (?:drinker|person|fan|eater)"
)
def _dislike(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    what = phrase(m["v"] or m["v2"] or m["v3"], 3)
    slots = {"drink": ("drink",), "eat": ("food",)}.get(m["verb"] or "", ("food", "drink", "hobby"))
    if hit := lexicon_hit(what, slots):
        yield s.cand(
            hit[0], hit[1], 0.75 if m["verb"] in ("drink", "eat") else 0.55, polarity="negative"
        )


@statement(
    r"\bi (?:really |absolutely |just |do |mostly |only |usually )?(?:love|adore|enjoy|could eat|want to eat|always eat|always get|always order|live on|live off|crave|'m craving|'m obsessed with|drink|eat|'m addicted to|need) (?P<v>.+)"
)
def _like(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    what = phrase(m["v"], 3)
    if hit := lexicon_hit(what):
        yield s.cand(hit[0], hit[1], 0.6)
    elif re.fullmatch(r"[a-z]+ing", what) and what not in _STOP and not what.endswith("thing"):
        yield s.cand("hobby", what, 0.45)
    elif what and what.split()[0] not in _STOP and "need" not in m[0]:
        yield s.cand("?", what, 0.35)  # labelled by the embedder, or dropped


@statement(
    r"\bi (?:play|practi[sc]e|go|do|started|took up|'ve taken up|'m into|'m getting into|'ve got into) (?P<v>.+)"
)
def _i_play(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if hit := lexicon_hit(phrase(m["v"], 3), ("hobby",)):
        yield s.cand("hobby", hit[1], 0.6)


_LANGUAGES = r"(?:english|spanish|french|german|italian|portuguese|japanese|chinese|mandarin|cantonese|korean|arabic|russian|dutch|swedish|norwegian|danish|polish|greek|turkish|hindi|urdu|welsh|irish|hebrew|thai|vietnamese|indonesian|sign language|bsl|asl)"


_FAV = r"fav(?:ou?rite|e|s)?"


@statement(
    rf"\bmy (?:absolute |all[- ]time |new )?{_FAV}(?: (?P<what>[a-z]+))?(?: is| are|'s|:|=) (?P<v>.+)|(?P<v2>[a-z][\w' ]{{1,30}}?),? (?:is |are |'s )?(?:still |always |definitely )?my (?:absolute |all[- ]time )?{_FAV}(?: (?P<what2>[a-z]+))?\b"
)
def _favourite(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    what = phrase(m["v"], 4) if m["v"] else " ".join(m["v2"].split()[-3:])
    kind = m["what"] or m["what2"] or ""
    slot = {"drink": "drink", "beer": "drink", "wine": "drink", "coffee": "drink",
            "sport": "hobby", "hobby": "hobby", "activity": "hobby"}.get(kind)  # fmt: skip
    hit = lexicon_hit(what, (slot,) if slot else ("food", "drink", "hobby"))
    if kind in ("food", "meal", "dish", "restaurant", "snack", "cuisine", "place") and not hit:
        hit = ("food", what) if kind != "place" else None
    if hit and what.split() and what.split()[0] not in _STOP:
        yield s.cand(hit[0], what, 0.7)
    elif what and what.split()[0] not in _STOP and not slot:
        yield s.cand("?", what, 0.35)


@statement(r"\b(?:order|get|grab|make|bring|pour|buy) me (?:a |an |some |another )?(?P<v>[a-z ]+)")
def _order_me(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if hit := lexicon_hit(phrase(m["v"], 3), ("drink", "food")):
        yield s.cand(hit[0], hit[1], 0.45)


@statement(
    r"\bmy (?:birthday|bday|b-day)(?: is|'s)?(?: on)? (?P<v>.+)|\bi was born on (?P<v2>.+)|\b(?P<today>it's|today is|today's) my (?:birthday|bday)\b(?! (?:on|next|in|tomorrow))"
)
def _birthday(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if m["today"]:
        day = datetime.fromisoformat(day_of(s.evidence.ts))
        yield s.cand("birthday", f"{day.day} {day:%B}", 0.7)
    elif when := birthday_text(m["v"] or m["v2"]):
        yield s.cand("birthday", when, 0.85)


@statement(
    r"\bi'm (?P<n>\d{1,2})(?: years old| yrs old| yo)?(?=\s*(?:$|[,.!?]|and\b|but\b|lol|haha|x\b|now\b|today\b|this year\b))|\bi (?:just )?(?:turned|turn|'m turning) (?P<n2>\d{1,2})\b(?! ?(?:mins|minutes|hours|%|:|am\b|pm\b))"
)
def _age(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if 12 <= (age := int(m["n"] or m["n2"])) <= 99:
        yield s.cand("age", str(age), 0.8, closes=True)


@statement(rf"\b(?:every |on )?(?P<d>{_DAYS}(?:(?:,| and| &) (?:{_DAYS}))*)\b")
def _weekdays(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if not m["d"].endswith("s") or "every" in m[0]:
        return  # "on tuesday" is a date, "on tuesdays" a routine; "every" is `_every`'s
    hit = lexicon_hit(s.text, ("hobby",))
    yield s.cand("routine", m["d"] + (f" ({hit[1]})" if hit else ""), 0.5)


@statement(
    r"\bi (?P<v>(?:[a-z']+ ){1,4})(?:every (?P<when>morning|evening|night|day|week|weekend|month|\w+day)|(?P<often>once|twice|three times) a week)\b"
)
def _every(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("routine", m[0].removeprefix("i ").strip(), 0.55)


@statement(
    r"\b(?:flying|fly|flights?|heading|off|travelling|traveling|going|trip|holiday|vacation|honeymoon|week|weekend) (?:out |over |away |back )?(?P<prep>to|in) (?P<v>[a-z]+(?: [a-z]+)?)"
)
def _trip(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    word = m[0].split()[0]
    dates = date_range(s.text, s.evidence.ts)
    when = dates[0] if dates else month_in(s.text, s.evidence.ts)
    if word in ("heading", "off", "going", "week", "weekend") and not when:
        return  # "going to X" is a trip when it has a date
    if m["prep"] == "in" and word not in ("holiday", "vacation", "week", "weekend", "honeymoon"):
        return
    if (where := place(m["v"])) and (
        s.text.startswith(("i", "we", "flying", "off", "going"))
        or " i " in f" {s.text} "
        or "we" in s.text.split()
    ):
        yield s.cand("trip", where, 0.65, valid_from=when, valid_to=dates[1] if dates else None)


@statement(
    r"\b(?:\d+|a few|two|three|four|five|six|seven|ten) (?:nights|days|weeks) in (?P<v>[a-z]+)"
)
def _nights_in(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if where := place(m["v"]):
        yield s.cand("trip", where, 0.5)


@statement(
    rf"\bi'm (?:going to|gonna|planning to|planning on|hoping to|thinking of|thinking about) (?P<v>[a-z' ]+?) (?P<when>next (?:week|month|year|summer|spring|autumn|fall|winter|weekend)|this (?:summer|year|autumn|winter|spring)|in {_MONTH})\b"
)
def _plan(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    yield s.cand("plan", f"{m['v']} {m['when']}", 0.5, valid_from=month_in(s.text, s.evidence.ts))


@statement(
    r"\bi (?:study|'m studying|studied|did (?:a |my )?degree in|graduated in|'m doing (?:a |my )?(?:degree|masters|phd|course) in) (?P<v>.+)"
)
def _studies(m: re.Match[str], s: Said) -> Iterator[Candidate]:
    if (what := phrase(m["v"], 3)) and what.split()[0] not in _STOP:
        yield s.cand("education", what, 0.7)


# --- exchanges: a burst of the person's with what was asked before it ---------------------------

_THANKS = re.compile(r"\b(?:thank|thanks|thx|ty|cheers|ta)\b|❤|🥰|\bx+$")
_WISH = re.compile(
    r"\bhappy (?:birthday|bday|b-day)\b(?:,? (?:to )?(?:my )?(?:darling |dear |lovely )?(?P<who>[a-z]+))?"
)
_FOOD_ASK = re.compile(
    r"what (?:do|d) (?:you|u) want (?:from|to eat|for (?:dinner|lunch|tea|breakfast))|what (?:are|r) (?:you|u) (?:having|eating|ordering)|what (?:should|shall) i (?:get|order) (?:you|u)|what do (?:you|u) fancy"
)
_WORK_ASK = re.compile(r"\b(?:startup|company|firm|work|job|business|office|agency|employer)\b")


def exchange(lines: list[Said], context: str, me: set[str]) -> Iterator[Candidate]:
    """Rules that need what was asked: answers to "how old?", thanks for birthday wishes,
    an order of food, how the company is doing; and an injury or a booking told over a burst."""
    first, text = lines[0], "\n".join(s.text for s in lines)
    asked = norm(context.splitlines()[-1]) if context else ""
    wish = _WISH.search(norm(context))
    if re.search(r"\bhow old\b", asked) and (
        m := re.fullmatch(r"\s*(?:i'm |turning )?(\d{1,2})[!. x]*", first.text)
    ):
        yield first.cand("age", m[1], 0.75, closes=True)
    if (
        wish
        and (
            not wish["who"]
            or wish["who"] in me
            or wish["who"]
            not in first.names | _STOP | _PARENTS | {"nana", "nan", "gran", "grandma", "grandpa"}
        )
        and _THANKS.search(first.text)
    ):
        day = datetime.fromisoformat(day_of(first.evidence.ts))
        found = first.cand("birthday", f"{day.day} {day:%B}", 0.6)
        found.wish = True
        yield found
        if (m := re.search(r"\b(\d{1,2})(?: years old| today|!!|! )", norm(context))) and 12 <= int(
            m[1]
        ) <= 99:
            yield first.cand("age", m[1], 0.6, closes=True)
    if _FOOD_ASK.search(asked):
        for s in lines:
            if hit := lexicon_hit(s.text, ("food", "drink")):
                yield s.cand(hit[0], hit[1], 0.5)
    if _WORK_ASK.search(asked):
        for s in lines:
            m = re.match(
                r"(?P<v>[a-z][\w-]+) (?:is|are|'s) (?:fine|good|great|doing|ok|okay|going|alright|growing|busy|struggling|hiring|booming|chaos)",
                s.text,
            )
            if m and m["v"] not in _NON_PLACE and m["v"] not in first.names:
                yield s.cand("employer", m["v"].capitalize(), 0.5)
    yield from _burst(lines, text)


def _burst(lines: list[Said], text: str) -> Iterator[Candidate]:
    body = re.search(rf"\b(?:my |(?P<side>left|right) )(?P<part>{_BODY})\b", text)
    if body and _INJURY.search(text):
        at = next(s for s in lines if body[0] in s.text)
        yield at.cand("health", _injury(body["side"], body["part"], text), 0.6)
    if (lang := re.search(rf"(?<!\bin )\b{_LANGUAGES}\b", text)) and re.search(
        r"\blearn|duolingo|lessons?\b|classes\b", text
    ):
        at = next(s for s in lines if lang[0] in s.text)
        yield at.cand("hobby", f"learning {lang[0].title()}", 0.5)
    booked = re.search(
        r"\bbooked (?:flights? to |tickets? to |a trip to |our trip to |the trip to )?(?P<v>[a-z]+)\b",
        text,
    )
    if (
        booked
        and (dates := date_range(text, lines[0].evidence.ts))
        and (where := place(booked["v"]))
    ):
        at = next(s for s in lines if booked[0] in s.text)
        yield at.cand("trip", where, 0.6, valid_from=dates[0], valid_to=dates[1])


# --- patterns over the whole history ----------------------------------------------------------


@dataclass
class History:
    """What the aggregate rules need, gathered in one pass over the store."""

    senders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))  # chat → senders
    parent_talk: dict[str, list[Evidence]] = field(default_factory=lambda: defaultdict(list))
    species: dict[str, tuple[str, Evidence]] = field(default_factory=dict)  # name → (cat, said)

    def family_chats(self) -> set[str]:
        return {c for c, who in self.senders.items() if any(_first(w) in _PARENTS for w in who)}


def _first(name: str) -> str:
    return name.split()[0].casefold() if name.split() else ""


def history(ws: Workspace, me: set[str]) -> History:
    h = History()
    with ws.open_store() as store:
        for m in store.iter_messages():
            if m.sender is None or not m.text:
                continue
            h.senders[m.chat].add(m.sender)
            if m.sender in me:
                continue
            text = norm(m.text)
            said = Evidence(m.chat, m.ts, m.sender, m.text)
            if re.search(r"\b(?:mum|mom|dad|mam)\b", text):
                h.parent_talk[m.sender].append(said)
            if s := re.search(rf"\b([a-z]+) is a ({_SPECIES})\b", text):
                h.species.setdefault(s[1], (s[2], said))
    return h


def siblings(h: History, me: set[str], mine: list[Said]) -> Iterator[Candidate]:
    """Someone in a family chat (one with a "Mum" or "Dad" in it) who shares the person's
    surname, or talks to the same parents, and is not a parent: a brother or sister."""
    surnames = {n.split()[-1].casefold() for n in me if len(n.split()) > 1}
    for chat in h.family_chats():
        for who in h.senders[chat] - me:
            first = _first(who)
            same = len(who.split()) > 1 and who.split()[-1].casefold() in surnames
            if first in _PARENTS or first in {"nana", "nan", "gran", "grandma", "grandpa"}:
                continue
            if not (same or h.parent_talk.get(who)):
                continue
            named = [
                s
                for s in mine
                if s.evidence.chat == chat and re.search(rf"\b{re.escape(first)}\b", s.text)
            ]
            confidence = 0.55 if same and h.parent_talk.get(who) else 0.35
            evidence = h.parent_talk.get(who, [])[:1] + [s.evidence for s in named[:2]]
            if evidence:
                yield Candidate("sibling", who, "positive", confidence, evidence, None)


def family_places(h: History, mine: list[Said]) -> Iterator[Candidate]:
    """Where the person travels to in a chat with their parents: where the family lives."""
    chats = h.family_chats()
    for s in mine:
        if s.evidence.chat not in chats or re.search(
            r"\b(?:fly|flying|flight|holiday|trip|booked)", s.text
        ):
            continue
        m = re.search(
            r"\b(?:train|drive|coach|bus|coming|come|get|head(?:ing)?)\s(?:(?:down|up|back|home|over)\s)?to (?P<v>[a-z]+)",
            s.text,
        )
        if m and (where := place(m["v"])):
            yield s.cand("family", f"family in {where}", 0.45, valid_from=None)


_SUBJECT = re.compile(
    r"\b([a-z]+) (?:is|was|has|had|'s|threw|tried|learned|learnt|wants|watched|did|looked|ate|keeps|knocked|jumped|sat|slept|loves|hates|bit|scratched)\b|\bme and ([a-z]+)\b"
)


def hobbies_and_pets(
    mine: list[Said], bursts: list[tuple[list[Said], str]], h: History
) -> Iterator[Candidate]:
    """An activity the person names in at least 3 messages is a hobby; a name that is the
    subject of 3 of their sentences and sits next to pet words ("vet", "🐈") is a pet."""
    for term in _LEXICON["hobby"]:
        stem = _STEMS.get(term)
        pattern = re.compile(
            rf"\b(?:{re.escape(term)}|{stem}(?:s|ed)?)\b" if stem else rf"\b{re.escape(term)}\b"
        )
        said = [s for s in mine if pattern.search(s.text)]
        if len(said) >= 3:
            yield Candidate("hobby", term, "positive", min(0.35 + 0.05 * len(said), 0.8),
                            [s.evidence for s in said[:3]], day_of(said[0].evidence.ts))  # fmt: skip
    subjects = Counter(w for s in mine for m in _SUBJECT.finditer(s.text) for w in m.groups() if w)
    names = mine[0].names if mine else set()
    for lines, _ in bursts:
        text = "\n".join(s.text for s in lines)
        if not _PET_CUE.search(text):
            continue
        for word in set(re.findall(r"[a-z]+", text)):
            if subjects[word] >= 3 and word not in _STOP and word not in names and len(word) > 2:
                kind = h.species.get(
                    word, ("dog" if re.search(r"🐕|🐶|walkies|woof|puppy", text) else "cat", None)
                )
                at = next(s for s in lines if word in s.text)
                evidence = [at.evidence] + ([kind[1]] if kind[1] else [])
                yield Candidate(
                    "pet",
                    f"{word.capitalize()}, a {kind[0]}",
                    "positive",
                    0.6,
                    evidence,
                    day_of(at.evidence.ts),
                )


# --- the whole pass ---------------------------------------------------------------------------

CARRY_SINCE = {"job", "employer", "home", "partner", "education"}
CARRY_WINDOW = 15 * 60  # seconds: "since 2022" a few minutes later dates what was just said
Labeler = Callable[[list[str]], list[str | None]]


def statements(text: str, ts: str = "2000-01-01T00:00") -> list[Candidate]:
    """The facts one message states about its writer, by the single-message rules alone (no
    history, no names known): what grounded training checks a reply's prompt against."""
    said = Said(norm(text), Evidence("", ts, "", text), set(), Counter())
    return [
        c
        for pattern, rule in STATEMENTS
        for m in pattern.finditer(said.text)
        for c in rule(m, said)
    ]


def extract_candidates(
    ws: Workspace, labeler: Labeler | None = None, progress: Progress | None = None
) -> list[Candidate]:
    """Every candidate fact in the person's own messages, one per (slot, value, polarity), with
    all its evidence, best first. `labeler` names the slot of phrases no lexicon knows."""
    me = my_names(ws)
    h = history(ws, me)
    me_first = {_first(n) for n in me}
    others = {_first(w) for who in h.senders.values() for w in who} - me_first
    docs = list(documents(ws, me))
    words = Counter(
        w for d in docs if d.kind == "message" for w in re.findall(r"[a-z]+", norm(d.text))
    )
    mine: list[Said] = []
    chats: dict[str, list[Said]] = defaultdict(list)
    bursts: list[tuple[list[Said], str]] = []
    found: list[Candidate] = []
    recent: dict[str, list[Candidate]] = defaultdict(list)
    advance = progress("Finding facts", len(docs)) if progress else None
    for n, d in enumerate(docs, 1):
        if d.kind == "message":
            s = Said(norm(d.text), Evidence(d.chat, d.ts, d.sender, d.text), others, words)
            mine.append(s)
            chats[d.chat].append(s)
            new = [
                c
                for pattern, rule in STATEMENTS
                for m in pattern.finditer(s.text)
                for c in rule(m, s)
            ]
            _carry_since(s, new, recent[d.chat])
        elif d.kind == "exchange":
            lines = _lines(d, chats[d.chat])
            new = list(exchange(lines, d.context, me_first)) if lines else []
            bursts.append((lines, d.context)) if lines else None
        else:
            new = []
        found += new
        recent[d.chat] += new
        if advance is not None and (n % 1000 == 0 or n == len(docs)):
            advance(1000 if n % 1000 == 0 else n % 1000)
    found += siblings(h, me, mine)
    found += family_places(h, mine)
    found += hobbies_and_pets(mine, bursts, h)
    return merge(_label(_fold_wishes(found), labeler))


def _fold_wishes(found: list[Candidate]) -> list[Candidate]:
    """Birthday wishes over a few days (the day itself, then the party) name the first day."""
    wishes = sorted((c for c in found if c.wish), key=lambda c: c.evidence[0].ts)
    kept: list[Candidate] = []
    for c in wishes:
        first = kept[-1] if kept else None
        gap = (
            (
                datetime.fromisoformat(c.evidence[0].ts)
                - datetime.fromisoformat(first.evidence[0].ts)
            ).days
            if first
            else 99
        )
        if first is not None and 0 <= gap <= 7:
            first.evidence += c.evidence
        else:
            kept.append(c)
    return [c for c in found if not c.wish] + kept


def _carry_since(s: Said, new: list[Candidate], recent: list[Candidate]) -> None:
    when = since(s.text, s.evidence.ts)
    if new or not when or re.search(r"\b(?:he|she|they|it|his|her|their)\b", s.text):
        return  # "he's been learning it since january" dates someone else's doing
    at = datetime.fromisoformat(s.evidence.ts)
    for c in recent:
        gap = (at - datetime.fromisoformat(c.evidence[-1].ts)).total_seconds()
        if (
            c.slot in CARRY_SINCE
            and c.confidence >= 0.45
            and 0 <= gap <= CARRY_WINDOW
            and not c.explicit_from
        ):
            c.valid_from, c.explicit_from = when, True
            c.evidence.append(s.evidence)


def _lines(d: Doc, said: list[Said]) -> list[Said]:
    """The person's messages in the burst `d`, each with what was asked before it."""
    start = bisect_left([s.evidence.ts for s in said], d.ts)
    asked = d.context.splitlines()[-1] if d.context else ""
    lines: list[Said] = []
    for s in said[start:]:
        if s.evidence.text not in d.text or len(lines) >= d.text.count("\n") + 1:
            break
        lines.append(
            Said(
                s.text,
                Evidence(*s.evidence.key[:2], s.evidence.sender, s.evidence.text, asked),
                s.names,
                s.words,
            )
        )
    return lines


def _label(found: list[Candidate], labeler: Labeler | None) -> list[Candidate]:
    """Candidates with a slot; open ones ("?") get the labeler's slot, or are dropped."""
    open_ = [c for c in found if c.slot == "?"]
    slots = labeler([c.value for c in open_]) if labeler and open_ else [None] * len(open_)
    for c, slot in zip(open_, slots, strict=True):
        c.slot = slot or "?"
    return [c for c in found if c.slot in SLOT_WORDS]


def merge(found: Iterable[Candidate]) -> list[Candidate]:
    """One candidate per key: all evidence (in time order, once each), confidence growing with
    each independent mention, the date said in words over the message's date."""
    merged: dict[tuple[str, str, str], Candidate] = {}
    for c in found:
        have = merged.get(c.key)
        if have is None:
            merged[c.key] = Candidate(c.slot, c.value, c.polarity, c.confidence, list(c.evidence),
                                      c.valid_from, c.valid_to, c.closes, c.origin,
                                      c.explicit_from)  # fmt: skip
            continue
        have.confidence = min(0.97, 1 - (1 - have.confidence) * (1 - c.confidence * 0.5))
        have.evidence += c.evidence
        have.closes |= c.closes
        have.valid_to = have.valid_to or c.valid_to
        if c.explicit_from and not have.explicit_from:
            have.valid_from, have.explicit_from = c.valid_from, True
        elif (
            not have.explicit_from
            and c.valid_from
            and (not have.valid_from or c.valid_from < have.valid_from)
        ):
            have.valid_from = c.valid_from
    for c in merged.values():
        c.evidence = sorted({e.key: e for e in reversed(c.evidence)}.values(), key=lambda e: e.ts)
    return sorted(merged.values(), key=lambda c: -c.confidence)


_PROTOTYPES = {
    "food": "food and dishes I like to eat: ramen, pizza, sushi, curry, pasta, tacos",
    "drink": "drinks: tea, coffee, beer, wine, juice, cocktails",
    "hobby": "hobbies, sports and pastimes: climbing, running, football, painting, guitar",
    "": "people, things and ideas: you, that, the weather, my phone, this song, the plan, work",
}


def embedding_labeler(embedder: Embedder, margin: float = 0.05) -> Labeler:
    """Slots for open phrases by the nearest slot prototype (an 'anything else' prototype
    must lose by `margin`), in one batch."""

    def label(phrases: list[str]) -> list[str | None]:
        import numpy as np

        names = list(_PROTOTYPES)
        vectors = np.asarray(embedder.encode([*_PROTOTYPES.values(), *phrases]))
        sims = vectors[len(names) :] @ vectors[: len(names)].T
        out: list[str | None] = []
        for row in sims:
            best = int(np.argmax(row[:-1]))
            out.append(names[best] if row[best] >= 0.3 and row[best] > row[-1] + margin else None)
        return out

    return label


# --- the optional LLM extractor ---------------------------------------------------------------

LLM_PROMPT = (
    "You find facts about one person in messages they wrote. Each line is one of their messages, "
    "numbered. List only facts the writer states about THEMSELVES, one JSON object per line: "
    '{"n": <message number>, "slot": <slot>, "value": <a few words>, "polarity": "positive" or '
    '"negative"}. Negative: they say it is not so ("i don\'t have siblings" → slot sibling, value '
    f"none, negative). Slots: {', '.join(SLOTS)}. No facts: answer nothing. No other text."
)
LLM_BATCH = 40  # messages per request: enough context, short answers


class LLMExtractor:
    """Candidate facts from an OpenAI-compatible endpoint (`[memory] extractor_url`): the
    person's own messages, a batch per request; answers that name no known slot or no message
    of the batch are dropped."""

    def __init__(self, endpoint: JudgeEndpoint, batch: int = LLM_BATCH) -> None:
        self.endpoint = endpoint
        self.batch = batch

    @classmethod
    def from_settings(cls, ws: Workspace) -> LLMExtractor | None:
        """The configured extractor, or None (the default: nothing is sent anywhere)."""
        memory = ws.settings().memory
        memory.check()
        if not memory.extractor_url:
            return None
        env = memory.extractor_api_key_env
        endpoint = JudgeEndpoint(
            memory.extractor_url, memory.extractor_model, name="fact extractor",
            needed_by="the fact extractor (extractor_url)",
            api_key=judge_key(env, "extractor_api_key_env"), key_env=env or None,
        )  # fmt: skip
        return cls(endpoint)

    def candidates(self, ws: Workspace) -> list[Candidate]:
        me = my_names(ws)
        said = [
            Evidence(d.chat, d.ts, d.sender, d.text)
            for d in documents(ws, me)
            if d.kind == "message"
        ]
        batches = [said[i : i + self.batch] for i in range(0, len(said), self.batch)]
        return [c for found in self.endpoint.each(self._ask, batches) for c in found]

    def _ask(self, batch: list[Evidence]) -> list[Candidate]:
        lines = "\n".join(f"{n}. [{e.ts[:10]}] {e.text}" for n, e in enumerate(batch, 1))
        answer = self.endpoint.ask(LLM_PROMPT, lines, max_tokens=600)
        return list(parse_llm_answer(answer, batch))


def parse_llm_answer(answer: str, batch: list[Evidence]) -> Iterator[Candidate]:
    """The facts in an answer: one JSON object per line; anything else is skipped."""
    for line in answer.splitlines():
        try:
            data = json.loads(line.strip().strip(",").removeprefix("```json").strip("`"))
            n, slot = int(data["n"]), str(data["slot"]).strip().lower()
            value, polarity = str(data["value"]).strip(), str(data.get("polarity", "positive"))
        except (ValueError, KeyError, TypeError, AttributeError):
            continue
        if slot in SLOT_WORDS and value and 1 <= n <= len(batch):
            e = batch[n - 1]
            negative = polarity.lower().startswith("neg")
            yield Candidate(slot, value, "negative" if negative else "positive", 0.6, [e],
                            None if slot == "birthday" else day_of(e.ts), origin="llm")  # fmt: skip


def check_slot(slot: str) -> str:
    if slot not in SLOT_WORDS:
        raise ChatcloneError(f"unknown slot '{slot}': use one of {', '.join(SLOTS)}")
    return slot
