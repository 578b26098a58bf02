"""The texts WhatsApp writes in place of media, deleted and edited messages, calls and group
events, in the languages we support (en, es, de, fr, pt, it, nl).

Matching is on a normalized form (`normalize`): bidi marks removed, case folded, a trailing full
stop dropped, runs of spaces collapsed.
"""

from __future__ import annotations

import re

_BIDI = str.maketrans("", "", "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_BIDI)).strip().rstrip(".").strip().casefold()


# Android: "<Media omitted>"; iOS: "image omitted", "video omitted", … (each with a U+200E).
MEDIA_OMITTED = frozenset(
    normalize(t)
    for t in (
        # en
        "<Media omitted>",
        "image omitted",
        "video omitted",
        "audio omitted",
        "sticker omitted",
        "GIF omitted",
        "document omitted",
        "Contact card omitted",
        "<Video note omitted>",
        "<View once voice message omitted>",
        "<View once media omitted>",
        "<Video message omitted>",
        # es
        "<Multimedia omitido>",
        "imagen omitida",
        "video omitido",
        "vídeo omitido",
        "audio omitido",
        "sticker omitido",
        "GIF omitido",
        "documento omitido",
        "tarjeta de contacto omitida",
        "<Archivo omitido>",
        # de
        "<Medien ausgeschlossen>",
        "<Medien weggelassen>",
        "Bild weggelassen",
        "Video weggelassen",
        "Audio weggelassen",
        "Sticker weggelassen",
        "GIF weggelassen",
        "Dokument weggelassen",
        "Kontaktkarte ausgelassen",
        "Kontaktkarte weggelassen",
        "<Videonachricht weggelassen>",
        # fr
        "<Médias omis>",
        "image absente",
        "vidéo absente",
        "audio omis",
        "autocollant omis",
        "GIF retiré",
        "document omis",
        "document manquant",
        "sticker omis",
        "fiche contact omise",
        "fiche contact manquante",
        "<Fichier omis>",
        # pt
        "<Mídia oculta>",
        "<Arquivo de mídia oculto>",
        "<Multimédia omitido>",
        "imagem ocultada",
        "vídeo omitido",
        "áudio ocultado",
        "figurinha omitida",
        "sticker omitido",
        "GIF omitido",
        "documento omitido",
        "cartão do contato omitido",
        "<Mídia omitida>",
        "<Ficheiro não revelado>",
        "imagem não revelada",
        "vídeo não revelado",
        "ficheiro de áudio não revelado",
        "sticker não revelado",
        "GIF não revelada",
        "documento não revelado",
        "Contacto não revelado",
        # it
        "<Media omessi>",
        "immagine omessa",
        "video omesso",
        "audio omesso",
        "sticker omesso",
        "GIF omessa",
        "GIF esclusa",
        "sticker non incluso",
        "documento omesso",
        "scheda contatto omessa",
        "<Media omesso>",
        # nl
        "<Media weggelaten>",
        "afbeelding weggelaten",
        "video weggelaten",
        "audio weggelaten",
        "sticker weggelaten",
        "GIF weggelaten",
        "document weggelaten",
        "contactkaart weggelaten",
        "visitekaartje weggelaten",
    )
)

# iOS writes a document as "report.pdf • 3 pages ‎document omitted": the file name comes first.
DOCUMENT_OMITTED = re.compile(
    r"(?P<name>.+?)\s*[\u200e\u200f]?(?:<?document omitted>?|documento omitido|Dokument weggelassen|"
    r"document manquant|document omis|documento não revelado|documento omesso|document weggelaten)\.?",
    re.I,
)


# Exact forms for the fast path: most texts are checked with one `str.lower()` and one dict lookup;
# only texts with unusual spaces or bidi marks go through `normalize`.
def _exact_forms(markers: frozenset[str]) -> set[str]:
    return {form for m in markers for form in (m, m + ".")}


NEEDS_NORMALIZING = re.compile(r"[\u00a0\u202f\u200e\u200f\u202a-\u202e\u2066-\u2069\t\n]|  ")
# The first words of every call line, to skip the call regex for ordinary texts.
CALL_PREFIXES = (
    "missed", "voice call", "video call", "group", "llamada", "videollamada", "verpasst", "appel",
    "chamada", "ligação", "videochamada", "chiamata", "videochiamata", "gemist",
)  # fmt: skip

# "<attached: 00000012-PHOTO-2023-01-01-10-00-00.jpg>" in exports made "with media"; a caption
# may follow.
ATTACHED = re.compile(
    r"[\u200e\u200f]?<(?:attached|adjunto|anexo|anexado|Anhang|pièce jointe|allegato|bijlage|bijgevoegd)"
    r"\s?:\s(?P<name>[^>\n]+)>[ \u00a0]*\n?(?P<caption>.*)",
    re.S | re.I,
)
# Android "with media": "IMG-20230101-WA0001.jpg (file attached)", caption on the next line; a
# document shows its page count, "Rapport.pdf • 3 pages (fichier joint)", U+200E marks included.
FILE_ATTACHED = re.compile(
    r"[\u200e\u200f]?(?P<name>[^\n]+?\.\w{1,5})(?: • [\u200e\u200f]?\d+ [^\W\d_]+)? [\u200e\u200f]?"
    r"\((?:file attached|archivo adjunto|"
    r"Datei angehängt|fichier joint|arquivo anexado|ficheiro anexado|file allegato|"
    r"bestand bijgevoegd)\)[ \u00a0]*\n?(?P<caption>.*)",
    re.S | re.I,
)

DELETED = frozenset(
    normalize(t)
    for t in (
        "This message was deleted",
        "You deleted this message",
        "Se eliminó este mensaje",
        "Eliminaste este mensaje",
        "Este mensaje fue eliminado",
        "Diese Nachricht wurde gelöscht",
        "Du hast diese Nachricht gelöscht",
        "Ce message a été supprimé",
        "Vous avez supprimé ce message",
        "Mensagem apagada",
        "Você apagou esta mensagem",
        "Esta mensagem foi apagada",
        "Apagou esta mensagem",
        "Questo messaggio è stato eliminato",
        "Hai eliminato questo messaggio",
        "Dit bericht is verwijderd",
        "Je hebt dit bericht verwijderd",
        "U hebt dit bericht verwijderd",
        "U heeft dit bericht verwijderd",
        "This message was deleted by an admin",
        "You deleted this message as admin",
    )
)

MEDIA_EXACT = _exact_forms(MEDIA_OMITTED)
DELETED_EXACT = _exact_forms(DELETED)

# Appended to the text of an edited message; stripped and recorded as a flag.
EDITED_SUFFIX = re.compile(
    r"[ \u00a0]*[\u200e\u200f]?<(?:This message was edited|Se editó este mensaje|"
    r"Diese Nachricht wurde bearbeitet|Ce message a été modifié|Mensagem editada|"
    r"Esta mensagem foi editada|Questo messaggio è stato modificato|Dit bericht is bewerkt)"
    r"\.?>$",
    re.I,
)

CALL = re.compile(
    r"(?:missed )?(?:voice|video|group voice|group video) call\b|"
    r"llamada (?:de voz|de video|de vídeo) perdida|llamada perdida|videollamada perdida|"
    r"verpasster (?:sprach|video)anruf|verpasster anruf|"
    r"appel (?:vocal|vidéo) manqué|"
    r"chamada (?:de voz|de vídeo) perdida|ligação de voz perdida|videochamada perdida|"
    r"chiamata (?:vocale|video) persa|videochiamata persa|"
    r"gemiste (?:spraak|video-?)oproep|gemist (?:spraak|video)gesprek",
    re.I,
)

LOCATION = re.compile(
    r"(?:location|ubicación|standort|position|localisation|localização|posizione|locatie)"
    r": https?://",
    re.I,
)
POLL = re.compile(r"(?:POLL|ENCUESTA|UMFRAGE|SONDAGE|ENQUETE|SONDAGGIO|PEILING):\n", re.I)

# Group events and notices. On Android they have no sender; on iOS they carry the chat's name
# (or, in a one-to-one chat, the contact's) as sender, so the text alone must identify them.
SYSTEM = re.compile(
    r"(?:"
    # encryption notices
    r"messages and calls are end-to-end encrypted|messages to this (?:group|chat) are now secured|"
    r"los mensajes y las llamadas están cifrados|los mensajes .* están cifrados|"
    r"nachrichten und anrufe sind ende-zu-ende-verschlüsselt|"
    r"les messages et les appels sont chiffrés de bout en bout|"
    r"as mensagens e as chamadas são protegidas com a criptografia de ponta a ponta|"
    r"as mensagens e as chamadas estão protegidas|as mensagens e chamadas são encriptadas|"
    r"i messaggi e le chiamate sono crittografati end-to-end|"
    r"berichten en oproepen zijn end-to-end versleuteld|berichten en gesprekken worden end-to-end|"
    # security-code notices
    r"cambió tu código de seguridad|deine sicherheitsnummer für|votre code de sécurité avec|"
    r"o seu código de segurança|seu código de segurança com|il tuo codice di sicurezza con|"
    r"(?:uw|je) beveiligingscode voor|"
    # group events (English; the parser also treats Android lines without "Sender: " as system)
    r".+ created group |.+ created this group|you created group |"
    r".+ changed the subject (?:from|to) |.+ changed this group's (?:icon|settings)|"
    r".+ changed the group description|.+ deleted this group's icon|"
    r".+ joined using this group's invite link|.+ joined using this group's link|"
    r"your security code with .+ changed|.+ changed their phone number|"
    r".+ changed to \+?\d|.+ (?:added|removed) .+|.+ left$|you're now an admin|"
    r"disappearing messages|.+ turned (?:on|off) disappearing messages|"
    r"this chat is with a business account"
    r")",
    re.I,
)

# Android writes a bare "null" for view-once media.
ANDROID_VIEW_ONCE = "null"
