"""Word lists the rule judge reads replies with: negation, time, deflection and claims.

Everything here is general language, never one person's facts, so the judge works on anyone's
chats. Entries are written as `normalize()` leaves text: lowercase, no apostrophes ("dont"), no
accents ("no se"), so one entry covers "don't", "dont" and "DON'T". English comes with Spanish,
French, German, Portuguese, Italian and Dutch, because people text in more than one language.
"""

from __future__ import annotations

import re
import unicodedata

_APOSTROPHES = re.compile(r"['’‘`´]")
_SPACES = re.compile(r"[ \t]+")


def normalize(text: str) -> str:
    """Lowercase, accents and apostrophes gone, runs of spaces as one: "Don't" and "dont", "sé"
    and "se" compare equal, as they do in texting."""
    folded = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in folded if not unicodedata.combining(c))
    return _SPACES.sub(" ", _APOSTROPHES.sub("", plain)).strip()


def _words(text: str) -> frozenset[str]:
    """A word list written as one block of text: long lists read best that way."""
    return frozenset(text.split())


def _alternation(phrases: str) -> str:
    """One regex alternative per line (a line may itself be a regex), longest first."""
    items = sorted({p.strip() for p in phrases.strip().splitlines() if p.strip()}, key=len)
    return "|".join(reversed(items))


# Words that negate what follows them within a few words ("not on crutches", "quit coffee").
NEGATIONS = _words(
    """
    not no never dont didnt doesnt isnt wasnt arent werent havent hasnt hadnt cant cannot couldnt
    wont wouldnt aint without nor neither off quit stopped ditched
    nunca nada sin ni nao nem sem pas jamais sans rien nicht kein keine keinen keiner nie ohne
    non mai senza niet geen nooit zonder
    """
)
# Multi-word negations, checked as phrases before a hit.
NEGATION_PHRASES = re.compile(
    r"\b(?:no longer|done with|gave up|over the|got rid of|ya no|no mas|ne plus|nicht mehr|"
    r"nao mais|non piu|niet meer)\b"
)

# Cues that what a clause says is no longer true: they discount any value in the clause.
STRONG_PAST = re.compile(
    r"\b(?:used to|use to|anymore|any more|no longer|no more|not now|formerly|former|ex|"
    r"ya no|solia|antes era|avant|nicht mehr|frueher|fruher|costumava|nao mais|non piu|"
    r"una volta|niet meer|vroeger|vorher)\b"
)
# Weaker past cues ("it was 68"): enough to discount a stale value, not an accepted one.
WEAK_PAST = re.compile(
    r"\b(?:was|were|had|before|earlier|ago|last|previously|originally|once|at first|back then|"
    r"at the start|then|antes|era|estaba|tenia|etait|avais|war|hatte|estava|tinha|ero|avevo|"
    r"prima|eerst|toen)\b"
)
# Cues that a clause is about the present.
CURRENT = re.compile(
    r"\b(?:now|still|currently|atm|rn|nowadays|these days|at the moment|today|finally|ahora|"
    r"actualmente|todavia|maintenant|actuellement|encore|jetzt|aktuell|noch|agora|ainda|adesso|"
    r"ora|ancora|nu|nog)\b"
)
# Words that start a new clause when followed by more words ("crutches now im back climbing").
CLAUSE_STARTERS = re.compile(
    r"\s(?=(?:but|though|although|however|pero|mais|aber|mas|ma|maar|now|ahora|maintenant|"
    r"jetzt|agora|adesso)\s\w)"
)

# Declining, not knowing, or deflecting: with nothing else said, the reply abstains.
DEFLECTIONS = re.compile(
    r"\b(?:"
    + _alternation(
        r"""
        idk
        idek
        dunno
        (?:im sorry but )?(?:i )?(?:cant|cannot|can not|wont|will not) (?:help|share|answer|say|discuss|disclose|provide)(?: (?:with )?(?:that|this|it))?
        (?:im |i am )?not comfortable(?: sharing| saying| answering)?(?: that| this)?
        (?:id|i would|id much) rather not(?: say| share| answer)?
        thats (?:personal|private)
        as an ai(?: language model)?
        (?:i )?(?:dont|do not) have (?:that|this|any|access to) (?:information|info|details|personal information)
        tough one
        hard to say
        i dunno
        no idea
        no clue
        not a clue
        not sure
        unsure
        (?:i )?(?:cant|dont|do not|cannot) (?:remember|recall|know|say|tell|think of)(?: (?:the \w+|it|that|tbh|rn))?
        i forget
        forgot
        who knows
        good question
        hard to say
        depends
        (?:too many|so many) to (?:pick|choose|name|count)
        cant (?:pick|choose|decide)
        lost count
        why (?:do|would|d) you (?:ask|want to know|wanna know|need to know)
        why (?:u|you) (?:asking|ask)
        why do u ask
        why\?+
        whats it to (?:you|u|ya)
        who wants to know
        who(?:s| is) asking
        (?:wouldnt|wouldn?t) (?:you|u) like to know
        ask me (?:later|tomorrow|another|again|something else|in a bit)
        (?:dont|do not) ask
        (?:none of|not) your business
        mind your (?:own )?business
        nosy
        classified
        (?:its a |thats a )?secret
        not telling
        (?:id )?rather not say
        no comment
        next question
        pass
        beats me
        couldnt tell (?:you|u)
        you tell me
        nice try
        old enough
        never tells?
        long story
        no se
        ni idea
        no tengo (?:ni )?idea
        no me acuerdo
        no (?:lo )?recuerdo
        quien sabe
        por que (?:preguntas|lo preguntas|quieres saber|me preguntas)
        para que quieres saber
        luego te (?:digo|cuento)
        demasiad[oa]s
        depende
        perdi la cuenta
        je (?:ne )?sais pas
        sais pas
        jsp
        chais pas
        aucune idee
        je (?:ne )?(?:me )?(?:souviens|rappelle) (?:pas|plus)
        pourquoi (?:tu demandes|cette question|tu veux savoir)
        on verra
        bonne question
        keine ahnung
        (?:ich )?weiss (?:es )?nicht
        kein plan
        warum fragst du
        wer weiss
        mal sehen
        frag mich (?:spater|morgen)
        nao sei
        sei la
        nao (?:faco|tenho) ideia
        nem ideia
        nao (?:me )?lembro
        por que (?:pergunta|perguntas|queres saber)
        quem sabe
        depois te digo
        non (?:lo )?so
        boh
        non (?:mi )?ricordo
        chi lo sa
        perche (?:me lo chiedi|lo chiedi|vuoi saperlo)
        ho perso il conto
        geen (?:flauw )?idee
        (?:dat )?weet ik niet
        weet niet
        waarom vraag je (?:dat)?
        wie weet
        """
    )
    + r")(?!\w)"
)

# Words that carry no fact: laughter, fillers, hedges, function words. What is left of a
# deflecting reply after these is what decides whether it also asserts something.
FILLERS = _words(
    """
    lol lmao lmfao rofl haha hahaha hahahaha hah ha hehe heh jaja jajaja jeje mdr ptdr kkk kkkk
    rsrs xd xx x omg ngl tbh tbf imo fr ok okay k hmm hm hmmm um umm uh uhh ugh uff oh ah eh
    well yeah yes ya yep nope nah honestly actually really just like so lowkey literally sorry
    man mate bro dude girl babe hun tho though rn atm thats its it that this the a an of to for
    and or but me you u i my your name thing one anyway anyways trop noch eigenlijk eso esto
    pues bueno genre also ja nee sim ne pero y e et und en wel
    is are was were be been have has do does did what where when who how which about even at in
    on with from any some too very much yet know
    """
)

# Numbers, and number words so "twenty seven" and "three a day" count as concrete values.
NUMBERS = re.compile(
    r"\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|"
    r"fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|seventy|"
    r"eighty|ninety|hundred|thousand|dozen|dos|tres|cuatro|cinco|seis|siete|ocho|nueve|diez|"
    r"deux|trois|quatre|cinq|huit|neuf|zwei|drei|vier|funf|sechs|sieben|acht|neun|zehn|"
    r"tre|quattro|sette|otto|nove|dieci|twee|drie|zes|zeven|negen|tien)\b|\w*\d\w*"
)
# Claims about oneself or one's life: "i work at", "my X is", "called Y", "had surgery".
CLAIMS = re.compile(
    r"(?:\b(?:i|we|im|ive|iv)\s+(?:dont\s+|do\s+not\s+|never\s+|just\s+|also\s+|recently\s+)?"
    r"(?:have|had|got|own|bought|drive|drove|work|worked|live|lived|moved|went|go|studied|study|"
    r"met|was born|am|ate|eat|drink|play|played|ran|run|did|flashed|married|adopted|started|"
    r"finished|won|broke|bought|quit|joined|visited|travelled|traveled)\b"
    r"|\b(?:my|his|her|their|our)\s+(?:\w+\s+)?(?:is|was|s|called|named)\b"
    r"|\b(?:called|named|se llama|sappelle|heisst|chiamato|chiama|heet)\s+\w+"
    r"|\b(?:my|his|her|their|our)\s+(?:other\s+|new\s+|old\s+)?(?:boyfriend|girlfriend|husband|"
    r"wife|partner|fiance|fiancee|kid|kids|son|daughter|brother|sister|mum|mom|dad|baby)\b"
    r"|(?:^|[\n,.!?]\s*|\b(?:and|then|also)\s+)(?:just\s+)?(?:had|got|went|bought|moved|met|ate|did|flashed|ran|"
    r"finished|won|broke|started|adopted|passed|tengo|tuve|fui|vivo|trabajo|jai|je vis|"
    r"je travaille|ich habe|ich wohne|ich arbeite|eu tenho|moro|ho|vivo a|lavoro|ik heb|ik woon|"
    r"ik werk)\b)"
)

# Rejecting a premise: "i dont have a sister", "never been", "you mean leo?", "what dog".
REJECTIONS = re.compile(
    r"(?:^\s*(?:no|nah|nope|what|wdym|huh|que|quoi|was fur|wat|nee|nao|non)\b"
    r"|\b(?:dont have|do not have|havent got|not got|never (?:been|had|have|did|went|ran|run|"
    r"drank|drink|owned)|(?:havent|hasnt|didnt|dont|do not|did not|have not) (?:been|had|done|"
    r"run|ran|gone|go|got|do|drink|own|play|have)|i wish|not me|wasnt me|you mean|(?:thinking|confusing) (?:of|me with)|"
    r"wrong person|since when|who told you|what are you (?:on about|talking about)|"
    r"no tengo|nunca|de que hablas|je nai pas|jamais|ich habe kein|nie|nao tenho|non ho|"
    r"ik heb geen|nooit)\b)"
)
# A question back that echoes the probe ("what dog??", "qué boda?"): doubting the premise.
ECHO_QUESTION = re.compile(r"^(?:what|which|que|quel|quelle|welche[rs]?|qual|quale|wat)\s+(.+?)\?")
# How a question back starts: a question word, or a verb asking the friend something.
QUESTION_START = re.compile(
    r"(?:why|what|who|whos|whats|how|when|where|which|wdym|huh|you|u|and you|do|did|are|is|"
    r"could|can|would|will|should|tell me|any|anything|"
    r"por que|porque|que|quien|pourquoi|quoi|qui|warum|was|wer|wieso|perche|cosa|chi|waarom|wat|"
    r"wie)\b"
)

# A hedged answer is still an answer: "idk probably the matrix", "maybe a golf?".
HEDGED = re.compile(
    r"\b(?:probably|prob|prolly|maybe|perhaps|possibly|i guess|i think|i reckon|quizas|"
    r"tal vez|peut etre|vielleicht|talvez|forse|misschien)\s+(?:a |an |the |like )?"
    r"(?!(?:later|tmrw|tomorrow|ask|not|next|soon|sometime|another|idk|dunno|you|u)\b)"
    r"([a-z]\w+)"
)
