"""The words the fact rules know (foods, drinks, hobbies, jobs, body parts, pets, months) and
the small text helpers they share: `norm`, `phrase`, `place`, `lexicon_hit` and the date readers
(`since`, `month_in`, `date_range`, `birthday_text`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

# --- words ------------------------------------------------------------------------------------

_MONTHS = "january february march april may june july august september october november december"
MONTHS = (
    {m: i for i, m in enumerate(_MONTHS.split(), 1)}
    | {m[:3]: i for i, m in enumerate(_MONTHS.split(), 1)}
    | {"sept": 9}
)
MONTH_NAME = r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
WEEKDAYS = r"(?:mon|tues|wednes|thurs|fri|satur|sun)days?"
# fmt: off
LEXICON: dict[str, tuple[str, ...]] = {
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
STEMS = {"climbing": "climb", "bouldering": "boulder", "running": "run", "swimming": "swim",
         "cycling": "cycle", "hiking": "hike", "surfing": "surf", "skiing": "ski",
         "skating": "skate", "dancing": "dance", "singing": "sing", "painting": "paint",
         "knitting": "knit", "baking": "bake", "fishing": "fish", "sailing": "sail",
         "rowing": "row", "boxing": "box"}
# fmt: on
STOP = set(
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
NON_PLACE = STOP | set(
    """sleep town city uni school office gym pub shop shops sofa couch it normal reality
    new bigger smaller different life earth hell heaven lunch dinner breakfast brunch table flights
    flight tickets ticket room hotel meeting class party""".split()  # noqa: SIM905
)
PARENTS = {"mum", "mom", "dad", "mam", "mama", "papa", "mother", "father", "mummy", "daddy",
           "mamá", "papá", "maman", "mutti", "vati"}  # fmt: skip
JOBS = r"(?:analyst|engineer|developer|dev|programmer|nurse|teacher|doctor|gp|designer|manager|accountant|lawyer|solicitor|barrister|architect|student|barista|chef|cook|scientist|consultant|writer|editor|journalist|electrician|plumber|carpenter|builder|paramedic|pharmacist|therapist|physio(?:therapist)?|researcher|lecturer|professor|officer|assistant|clerk|cashier|driver|mechanic|technician|artist|photographer|musician|actor|actress|waiter|waitress|bartender|receptionist|administrator|admin|coordinator|director|founder|ceo|cto|intern|trainee|apprentice|dentist|vet|surgeon|midwife|carer|tutor|librarian|baker|pilot|firefighter|police(?:man|woman)?|soldier|recruiter|marketer|salesperson|cleaner|gardener|postman|courier|secretary|paralegal|economist|statistician|translator|freelancer|contractor)"
BODY = r"(?:ankle|knee|wrist|back|shoulder|arm|leg|foot|hand|finger|thumb|toe|neck|hip|elbow|ribs?|collarbone|hamstring|achilles|shin|head)"
INJURY = re.compile(
    r"\bsprain|\bbroke|\bbroken\b|fractur|\btorn\b|\btore\b|ligament|swollen|swelling|x-?ray|\ba&e\b|\bhospital|crutch|physio|injur|surgery|\bcast\b|stitches|landed badly|twisted|dislocat|can't walk|can't put (?:any )?weight"
)
PET_CUE = re.compile(
    r"🐈|🐱|😺|🐕|🐶|🐩|\bvets?\b|\bjabs\b|\bkittens?\b|\bpupp(?:y|ies)\b|\bpurr|\bmeow|\bwalkies\b|\blitter\b|\bcat food\b|\bdog food\b|\bneutered\b|\bspayed\b|\bfleas\b|\bwoof\b|\btreats\b"
)
SPECIES = r"(?:cat|dog|kitten|puppy|rabbit|bunny|hamster|guinea pig|parrot|budgie|tortoise|turtle|snake|lizard|gecko|ferret|horse|pony|fish)"
LANGUAGES = r"(?:english|spanish|french|german|italian|portuguese|japanese|chinese|mandarin|cantonese|korean|arabic|russian|dutch|swedish|norwegian|danish|polish|greek|turkish|hindi|urdu|welsh|irish|hebrew|thai|vietnamese|indonesian|sign language|bsl|asl)"


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
    if not words or words[0] in NON_PLACE or len(words[0]) < 3 or not words[0].isalpha():
        return None
    return " ".join(w.capitalize() for w in words)


def lexicon_hit(
    text: str, slots: Iterable[str] = ("food", "drink", "hobby")
) -> tuple[str, str] | None:
    """(slot, term) of the longest lexicon term in `text`, if any."""
    best: tuple[str, str] | None = None
    for slot in slots:
        for term in LEXICON[slot]:
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
    m = re.search(rf"\bsince ({MONTH_NAME})?\s*((?:19|20)\d\d)?\b", text)
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
        rf"\b(\d{{1,2}})(?:st|nd|rd|th)? ?(?:to|-|–|until|till) ?(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({MONTH_NAME})\b",
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
    m = re.search(rf"\b(?:in|this|next|on|from) ({MONTH_NAME})\b", text)
    if not m:
        return None
    year, month = month_ahead(m.group(1), ts)
    return f"{year:04d}-{month:02d}"


def birthday_text(text: str) -> str | None:
    """'9 may' / 'may 9th' / 'the 9th of may' → '9 May'."""
    m = re.search(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?(?: of)? ({MONTH_NAME})\b", text) or re.search(
        rf"\b({MONTH_NAME}) (\d{{1,2}})(?:st|nd|rd|th)?\b", text
    )
    if not m:
        return None
    day, word = (m.group(1), m.group(2)) if m.group(1).isdigit() else (m.group(2), m.group(1))
    month = MONTHS["sept" if word.startswith("sept") else word[:3]]
    return f"{int(day)} {date(2000, month, 1):%B}"
