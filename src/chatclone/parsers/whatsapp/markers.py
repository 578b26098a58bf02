"""The texts WhatsApp writes in place of media, deleted and edited messages, calls and group
events, in the languages we support: en, es, de, fr, pt, it, nl, and ru, uk, tr, ar, hi, id, pl,
cs, sv, ja, zh, ko, vi, th.

Where the wordings come from: WhatsApp's own strings (Android `strings.xml` of an older release and
iOS `Localizable.strings` of 2.22.24) and real exports in those languages, both as collected in
starkdmi/whats_json (`tool/patterns_generator/data/`, `test/data/languages/`). A whole message in
angle brackets in a language not listed here is still caught by `is_unknown_placeholder`.

Matching is on a normalized form (`normalize`): bidi marks removed, case folded, a trailing full
stop (or ideographic full stop) dropped, runs of spaces collapsed.
"""

from __future__ import annotations

import re

BIDI_MARKS = (
    "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"  # `normalize` drops them
)
_BIDI = str.maketrans("", "", BIDI_MARKS)
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text.translate(_BIDI)).strip().rstrip(".。").strip().casefold()


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
        # Android, newer and older wordings, then iOS image, video, audio, sticker, GIF, contact.
        # ru
        "<Без медиафайлов>",
        "<Файл пропущен>",
        "изображение отсутствует",
        "видео отсутствует",
        "аудиофайл отсутствует",
        "стикер не добавлен",
        "GIF отсутствует",
        "Карточка контакта отсутствует",
        # uk
        "<Медіа пропущено>",
        "<Без медіафайлів>",
        "зображення відсутнє",
        "відео відсутнє",
        "аудіо відсутнє",
        "Наклейку не додано",
        "GIF-анімацію пропущено",
        "Картка контакту відсутня",
        # tr
        "<Medya dahil edilmedi>",
        "<Medya atlanmış>",
        "görüntü dahil edilmedi",
        "video dahil edilmedi",
        "ses dahil edilmedi",
        "Çıkartma dahil edilmedi",
        "GIF dahil edilmedi",
        "Kişi kartı dahil edilmedi",
        # ar
        "<تم استبعاد الوسائط>",
        "لم يتم إدراج الصورة",
        "لم يتم إدراج الفيديوهات",
        "لم يتم إدراج المقاطع الصوتية",
        "تم حذف الملصقات",
        "لم يتم إدراج صورة GIF",
        "لم يتم إدراج بطاقة جهة اتصال",
        # hi
        "<मीडिया के बिना>",
        "फ़ोटो हटाई गई",
        "वीडियो छोड़ा गया",
        "ऑडियो हटाई गयी",
        "स्टिकर छोड़ा गया",
        "GIF छोड़ा गया",
        "कॉन्टैक्ट कार्ड छोड़ा गया",
        # id
        "<Media tidak disertakan>",
        "gambar tidak disertakan",
        "video tidak disertakan",
        "audio tidak disertakan",
        "stiker tidak disertakan",
        "GIF tidak disertakan",
        "Kartu kontak tidak disertakan",
        # pl
        "<pominięto multimedia>",
        "<pliki pominięto>",
        "obraz pominięty",
        "wideo pominięte",
        "audio pominięte",
        "pominięto naklejkę",
        "Plik GIF pominięty",
        "Pominięta wizytówka kontaktu",
        # cs
        "<Média vynechány>",
        "< Média vynechána >",
        "<Média vynechána>",
        "obrázek vynechán",
        "video vynecháno",
        "zvukový soubor vynechán",
        "nálepka vynechána",
        "GIF vynechán",
        "Vizitka vynechána",
        # sv
        "<Media utelämnat>",
        "<Media har utelämnats>",
        "bild utesluten",
        "video utesluten",
        "ljud utelslutet",
        "ljud uteslutet",
        "sticker utesluten",
        "GIF utesluten",
        "Kontaktkort uteslutet",
        # ja
        "<メディアなし>",
        "<メディアは含まれていません>",
        "画像は含まれていません",
        "ビデオは含まれていません",
        "音声は含まれていません",
        "スタンプは含まれていません",
        "GIFは含まれていません",
        "連絡先カードを省略",
        # zh (simplified, traditional)
        "<省略多媒体文件>",
        "<媒体省略>",
        "照片已忽略",
        "视频已忽略",
        "音频已忽略",
        "贴图已省略",
        "GIF 动态图已被忽略",
        "联系人卡片已忽略",
        "<忽略多媒體檔>",
        "<省略多媒體檔案>",
        "圖像已省略",
        "影片已省略",
        "音訊已省略",
        "貼圖已忽略",
        "GIF 圖片已被省略",
        "聯絡人卡片已省略",
        # ko
        "<미디어 파일 제외됨>",
        "<미디어 파일을 생략한 대화내용>",
        "이미지 생략됨",
        "비디오 생략됨",
        "오디오 생략됨",
        "스티커 제외됨",
        "GIF 생략됨",
        "연락처 카드 생략됨",
        # vi
        "<bỏ qua tệp phương tiện>",
        "<Bỏ qua Media>",
        "đã bỏ qua hình ảnh",
        "đã bỏ video",
        "bỏ qua tệp âm thanh",
        "đã bỏ sticker",
        "Đã bỏ qua ảnh GIF",
        "Bỏ qua thẻ liên lạc",
        # th
        "<ไฟล์สื่อถูกลบ>",
        "<สื่อถูกลบ>",
        "ไม่มีรูปภาพ",
        "วิดีโอถูกลบ",
        "ไม่มีไฟล์เสียง",
        "ไม่มีสติกเกอร์",
        "ละเว้น GIF",
        "บัตรรายชื่อที่ละเว้น",
    )
)

# iOS writes a document as "report.pdf • 3 pages ‎document omitted": the file name comes first.
DOCUMENT_WORDS = (
    "document omitted", "documento omitido", "Dokument weggelassen", "document manquant",
    "document omis", "documento não revelado", "documento omesso", "document weggelaten",
    "документ отсутствует", "документ пропущено", "belge dahil edilmedi", "لم يتم إدراج المستند",
    "डॉक्यूमेंट छोड़ा गया", "dokumen tidak disertakan", "dokument pominięty", "dokument vynechán",
    "dokument uteslutet", "ドキュメントは含まれていません", "文档已省略", "文件已忽略", "문서 생략됨",
    "đã bỏ qua tài liệu", "ละเว้นเอกสาร",
)  # fmt: skip
DOCUMENT_OMITTED = re.compile(
    r"(?P<name>.+?)\s*[\u200e\u200f]?<?(?:"
    + "|".join(re.escape(w) for w in DOCUMENT_WORDS)
    + r")>?\.?",
    re.I,
)
# What a lower-cased text ends with when it may be a document: guards the regex above.
DOCUMENT_ENDINGS = tuple({w.lower().rsplit(" ", 1)[-1] for w in DOCUMENT_WORDS})


# Exact forms for the fast path: most texts are checked with one `str.lower()` and one dict lookup;
# only texts with unusual spaces or bidi marks go through `normalize`.
def _exact_forms(markers: frozenset[str]) -> set[str]:
    return {form for m in markers for form in (m, m + ".", m + "。")}


# The characters `normalize` changes besides case: with a double space, what makes a text need it.
NORMALIZED_CHARS = re.compile(r"[\u00a0\u202f\u200e\u200f\u202a-\u202e\u2066-\u2069\t\n]")
# The first words of every call line, to skip the call regex for ordinary texts.
CALL_PREFIXES = (
    "missed", "voice call", "video call", "group", "llamada", "videollamada", "verpasst", "appel",
    "chamada", "ligação", "videochamada", "chiamata", "videochiamata", "gemist",
)  # fmt: skip
# Missed calls in the other languages, matched whole (after `normalize`).
CALL_EXACT = frozenset(
    normalize(t)
    for t in (
        "Пропущенный аудиозвонок", "Пропущенный видеозвонок", "Пропущенный голосовой вызов",
        "Пропущенный видеовызов",
        "Пропущений аудіодзвінок", "Пропущений відеодзвінок",
        "Cevapsız sesli arama", "Cevapsız görüntülü arama",
        "مكالمة صوتية فائتة", "مكالمة فيديو فائتة",
        "वॉइस कॉल मिस हुई", "मिस्ड वॉइस कॉल", "मिस्ड वीडियो कॉल",
        "Panggilan suara tak terjawab", "Panggilan video tak terjawab",
        "Nieodebrane połączenie", "Nieodebrane poł. głosowe", "Nieodebrane poł. wideo",
        "Zmeškaný hovor", "Zmeškaný hlasový hovor", "Zmeškaný videohovor",
        "Missat röstsamtal", "Missat videosamtal", "Missat samtal",
        "不在着信", "音声通話不在着信", "ビデオ通話不在着信",
        "未接语音通话", "未接视频通话", "未接語音通話", "未接視像通話",
        "부재중 전화", "부재중 영상통화",
        "Cuộc gọi nhỡ", "Cuộc gọi nhỡ video",
        "สายที่ไม่ได้รับ", "สายโทรวิดีโอที่ไม่ได้รับ", "วิดีโอคอลที่ไม่ได้รับ",
    )
)  # fmt: skip

# "<attached: 00000012-PHOTO-2023-01-01-10-00-00.jpg>" in exports made "with media"; a caption
# may follow.
# A document's name and page count may come first: "report.pdf • 3 pages ‎<attached: 00000046-…>";
# the tag is then the attachment and that label is not the person's words. Turkish puts the
# file name first: "<00000046-PHOTO-….jpg eklendi>".
ATTACHED = re.compile(
    r"(?:[^\n<]*?\s*)?[\u200e\u200f]?<\s?(?:(?:attached|adjunto|anexo|anexado|Anhang|pièce jointe|"
    r"allegato|bijlage|bijgevoegd|прикреплено|додано|المُرفق|अटैच किया गया|terlampir|załączono|"
    r"příloha|bifogat|添付ファイル|附件|첨부됨|đính kèm|แนบ)\s?[:：]\s?(?P<name>[^>\n]+)|"
    r"(?P<name_first>[^>\n]+?) eklendi)>[ \u00a0]*\n?(?P<caption>.*)",
    re.S | re.I,
)
# Android "with media": "IMG-20230101-WA0001.jpg (file attached)", caption on the next line; a
# document shows its page count, "Rapport.pdf • 3 pages (fichier joint)", U+200E marks included.
# A name may end in a bare dot: "DOC-20221118-WA0004. (file attached)".
FILE_ATTACHED = re.compile(
    r"[\u200e\u200f]?(?P<name>[^\n]+?\.\w{0,5})(?: • [^•\n()]+?)? [\u200e\u200f]?"
    r"\((?:file attached|archivo adjunto|"
    r"Datei angehängt|fichier joint|arquivo anexado|ficheiro anexado|file allegato|"
    r"bestand bijgevoegd|файл добавлен|файл додано|dosya ekli|الملف مرفق|फाइल अटैच कर दी गई है|"
    r"फ़ाइल अटैच की गई|file terlampir|załączony plik|soubor byl přiložen|bifogad fil|添付ファイル有り|"
    r"文件附件|附件檔案|파일 첨부됨|tệp đính kèm|ไฟล์ที่แนบ)\)[ \u00a0]*\n?(?P<caption>.*)",
    re.S | re.I,
)
# A document sent "with media" on Android may show only its file name under "<Media omitted>".
DOCUMENT_NAME = re.compile(
    r"[^\n/\\]{1,200}\.(?:pdf|docx?|xlsx?|pptx?|odt|ods|odp|rtf|txt|csv|zip|rar|7z|apk|epub|vcf)",
    re.I,
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
        # ru, uk, tr, ar, hi, id, pl, cs, sv, ja, zh, ko, vi, th: others' and your own
        "Данное сообщение удалено",
        "Это сообщение удалено",
        "Вы удалили данное сообщение",
        "Вы удалили это сообщение",
        "Це повідомлення було видалено",
        "Ви видалили це повідомлення",
        "Bu mesaj silindi",
        "Bu mesajı sildiniz",
        "تم حذف هذه الرسالة",
        "لقد حذَفت هذه الرسالة",
        "لقد حذفت هذه الرسالة",
        "أنت حذفت هذه الرسالة",
        "यह मैसेज डिलीट कर दिया गया है",
        "यह मैसेज मिटाया गया",
        "यह संदेश मिटाया गया",
        "आपने यह मैसेज डिलीट किया",
        "आपने यह संदेश मिटाया",
        "Pesan ini dihapus",
        "Pesan ini telah dihapus",
        "Anda menghapus pesan ini",
        "Anda telah menghapus pesan ini",
        "Ta wiadomość została usunięta",
        "Usunąłeś(-ęłaś) tę wiadomość",
        "Usunąłeś(aś) tę wiadomość",
        "Tato zpráva byla odstraněna",
        "Tato zpráva byla smazána",
        "Tuto zprávu jste odstranil/a",
        "Tuto zprávu jste smazal/a",
        "Det här meddelandet raderades",
        "Detta meddelande raderades",
        "Du raderade det här meddelandet",
        "Du raderade detta meddelande",
        "Du har tagit bort meddelandet",
        "このメッセージは削除されました",
        "このメッセージを削除しました",
        "这条消息已被删除",
        "消息已删除",
        "信息已删除",
        "您已删除这条消息",
        "您删除这个信息",
        "此訊息已刪除",
        "您已刪除此訊息",
        "이 메시지는 삭제되었습니다",
        "이 메시지를 삭제했습니다",
        "삭제한 메시지입니다",
        "Tin nhắn này đã bị xóa",
        "Tin nhắn này đã bị xoá",
        "Bạn đã xoá tin nhắn này",
        "Bạn đã xóa tin nhắn này",
        "ข้อความนี้ถูกลบแล้ว",
        "ข้อความนี้ได้ถูกลบ",
        "คุณได้ลบข้อความนี้",
        "คุณลบข้อความนี้",
    )
)

MEDIA_EXACT = _exact_forms(MEDIA_OMITTED)
DELETED_EXACT = _exact_forms(DELETED)

# Appended to the text of an edited message; stripped and recorded as a flag.
EDITED_SUFFIX = re.compile(
    r"[ \u00a0]*[\u200e\u200f]?<(?:This message was edited|Se editó este mensaje|"
    r"Diese Nachricht wurde bearbeitet|Ce message a été modifié|Mensagem editada|"
    r"Esta mensagem foi editada|Questo messaggio è stato modificato|Dit bericht is bewerkt|"
    r"Сообщение изменено|Bu mesaj düzenlendi|Pesan ini diedit)"
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
    r"(?:location|ubicación|standort|position|localisation|localização|posizione|locatie|"
    r"местоположение|місцезнаходження|розташування|konum|الموقع|موقع|लोकेशन|स्थान|lokasi|"
    r"położenie|lokalizacja|poloha|plats|位置情報|位置|위치|vị trí|ตำแหน่งที่ตั้ง) ?[:：] ?https?://",
    re.I,
)
# A shared place: iOS "Pimlico Gardens (London, United Kingdom): https://foursquare.com/v/…",
# Android the name, the city and the link on three lines.
FOURSQUARE = re.compile(r"[^\n]+?(?::? |\n(?:[^\n]+\n)?)https?://(?:www\.)?foursquare\.com/\S+")
POLL = re.compile(r"(?:POLL|ENCUESTA|UMFRAGE|SONDAGE|ENQUETE|SONDAGGIO|PEILING):\n", re.I)

# Group events and notices. On Android they have no sender; on iOS they carry the chat's name
# (or, in a one-to-one chat, the contact's) as sender, so the text alone must identify them.
SYSTEM = re.compile(
    r"(?:"
    # encryption notices
    r"messages and calls are end-to-end encrypted|messages to this (?:group|chat) are now secured|"
    r"messages to this chat and calls are now secured|"
    # 2016–2018 wordings of the notice in the other supported languages
    r"los mensajes (?:y llamadas )?en este (?:chat|grupo) ahora están protegidos|"
    r"nachrichten (?:in diesem chat sowie anrufe|an diese gruppe) sind jetzt|"
    r"les messages envoyés dans (?:cette discussion|ce groupe)|"
    r"as mensagens (?:e (?:as )?chamadas (?:desta|dessa) conversa|enviadas a este grupo)|"
    r"nesta conversa, as mensagens|as mensagens que enviar a este grupo|"
    r"i messaggi inviati a quest[ao] (?:chat|gruppo)|"
    r"berichten (?:en oproepen in deze chat|in deze chat en gesprekken|die naar deze groep)|"
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
    r"this chat is with a business account|"
    # ru
    r"сообщения и звонки защищены сквозным|сообщения (?:в данном чате и звонки|и звонки в данном "
    r"чате|в данной группе) теперь защищены|ваш код безопасности с контактом|.+ создал\(-а\) группу|"
    r"вы создали группу|.+ добавил\(-а\) |.+ удалил\(-а\) |.+ покинул\(-а\) группу|"
    r".+ изменил\(-а\) (?:тему|картинку группы)|вы были добавлены|"
    # uk
    r"повідомлення й дзвінки захищено|повідомлення (?:у цій бесіді|цієї бесіди|у цій групі)|"
    r"код безпеки з контактом|.+ створив(?:\(-ла\))? групу|ви створили групу|.+ додав\(-ла\) |"
    r"учасник .+ (?:вилучив|змінив тему)|.+ вийшов\(-ла\) з групи|.+ покинув\(-ла\) групу|"
    r".+ змінив\(-ла\) (?:тему|значок групи)|вас додано|"
    # tr
    r"mesajlar ve aramalar uçtan uca şifrelidir|bu (?:sohbete|sohbetteki|gruba) .*uçtan uca|"
    r".+ ile aranızdaki güvenlik kodu|.+ grubunu oluşturdu|.+ kişisini (?:ekledi|çıkardı)|"
    r".+ sizi ekledi|.+ ayrıldı$|.+ konuyu .+ olarak değiştirdi|.+ grup konusunu|"
    r".+ bu grubun simgesini değiştirdi|eklendiniz|"
    # ar
    r"الرسائل والمكالمات مشفرة تمامًا|باتت الرسائل التي ترسلها|إن الرسائل التي ترسلها إلى هذه|"
    r"تغيّر رمز أمانك|.+ أنشأ مجموعة|أنت أنشأت مجموعة|.+ أضاف |.+ أضافك|.+ أزال |.+ غادر|"
    r".+ غيّر (?:اسم المجموعة|أيقونة هذه المجموعة)|تمت إضافتك|"
    # hi
    r"मैसेजेस और कॉल्स एंड-टू-एंड एन्क्रिप्टेड हैं|इस चैट में भेजे जाने वाले मैसेजेस|"
    r".+ के लिए आपका सुरक्षा कोड बदल गया|.+ ने ग्रुप .+ बनाया|आपने ग्रुप .+ बनाया|"
    r".+ ने .+ को (?:शामिल किया|हटाया)|.+ ने आपको शामिल किया|.+ ने छोड़ा|"
    r".+ ने (?:ग्रुप का नाम बदलकर|इस ग्रुप की फ़ोटो बदली)|"
    # id
    r"pesan dan panggilan terenkripsi secara end-to-end|pesan(?:-pesan)? yang dikirim(?:kan)? ke "
    r"(?:chat|grup) ini|kode keamanan anda dengan|.+ membuat grup |anda membuat grup |"
    r".+ (?:menambahkan|mengeluarkan) |.+ keluar$|.+ (?:telah )?mengubah (?:subjek|ikon grup)|"
    r"anda telah ditambahkan|"
    # pl
    r"wiadomości i połączenia są w pełni zaszyfrowane|wiadomości (?:i|oraz) połączenia (?:do tego "
    r"czatu|w tym czacie) są teraz|wiadomości do tej grupy są teraz|twój kod zabezpieczeń z|"
    r".+ utworzył\(a\) grupę|utworzyłeś\(-?aś\) grupę|.+ dodał\(a\) |.+ usunął\(-ęła\) |"
    r".+ opuścił\(a\)|.+ zmienił\(a\) (?:temat|ikonę)|zostałeś\(aś\) dodany|"
    # cs
    r"zprávy a hovory jsou (?:opatřeny|zabezpečeny) koncovým|hovory a zprávy v tomto chatu jsou teď|"
    r"zprávy pro tuto skupinu jsou teď|bezpečnostní kód mezi vámi a|.+ vytvořil/a skupinu|"
    r"vytvořil/a jste skupinu|.+ (?:přidal/a|odebral/a) |.+ vás přidal/a|.+ opustil/a skupinu|"
    r".+ změnil/a (?:téma|ikonu)|byl/a jste přidán/a|"
    # sv
    r"meddelanden och samtal är komplett krypterade|meddelanden till denna (?:chatt och samtal|grupp)"
    r" är nu säkrade|.+ skapade gruppen|du skapade gruppen|.+ (?:lade till|tog bort) |.+ lämnade$|"
    r".+ ändrade (?:ämnet|gruppens ikon)|du har lagts till|"
    # ja
    r"メッセージと通話はエンドツーエンド暗号化されています|このチャット(?:と通話)?へのメッセージ|"
    r"このチャット内のメッセージ|このグループへのメッセージ|.+とのセキュリティコードが変更されました|"
    r".+がグループ「|グループ(?:「| ?\").+」?を作成しました|.+が.+を追加|.+があなたを追加しました|"
    r".+が.+を削除しました|.+ ?が退出|.+ ?がグループ名を|.+がグループアイコンを変更しました|"
    r"グループに追加されました|"
    # zh (simplified, traditional)
    r"消息和通话都进行端到端加密|此对话中的(?:信息|消息)和通话已进行端到端|发送到此对话的消息和通话|"
    r"此群组中的信息已进行端到端|您和 .+ 的安全代码已更改|.+ 创建了|(?:您|你)创建了|.+ (?:添加|移除)了 |"
    r".+ 退出了|.+ (?:已更改主题|更改了本群组的图标|更改了主题)|您已被添加|"
    r"訊息和通話經端對端加密|訊息(?:和對話)?已受端對端加密保護|此對話中的訊息和通話已進行端對端|"
    r"傳送至(?:此|本)對話的訊息|此群組中的訊息已進行端對端|您與 ?.+ ?的安全碼已變更|.+ 建立了|您建立了|"
    r".+ 新增了 |.+ (?:已變更主題|更改了本群組的圖標|更改了主題)|您被加到群組|"
    # ko
    r"메시지 및 전화는 종단간 암호화되어|이 (?:대화|그룹)(?:의| 및 통화의) 메시지|"
    r".+님과의 보안 코드가 변경되었습니다|.+그룹을 만들었습니다|.+님이 .+(?:을\(를\) 추가했습니다|"
    r"님을 퇴장시켰습니다)|.+님이 회원님을 추가했습니다|.+님이 (?:그룹에서 나갔습니다|퇴장하였습니다)|"
    r".+님이 그룹 (?:이름|아이콘)을|그룹에 추가되었습니다|"
    # vi
    r"tin nhắn và cuộc gọi được mã hóa đầu cuối|(?:những|các) tin nhắn gửi tới (?:cuộc trò chuyện|"
    r"nhóm) này|mã bảo mật của bạn với|.+ đã tạo nhóm|bạn đã tạo nhóm|.+ đã thêm |"
    r".+ đã bỏ .+ khỏi nhóm|.+ đã rời nhóm|.+ đã đổi tên (?:nhóm )?thành|"
    r".+ đã thay đổi biểu tượng của nhóm|bạn đã được thêm vào nhóm|"
    # th
    r"ข้อความและการโทรได้รับการเข้ารหัส|(?:ขณะนี้)?ข้อความที่(?:คุณ)?ส่งถึง(?:แชท|กลุ่ม)|"
    r"รหัสความปลอดภัยของคุณกับ|.+ ได้สร้างกลุ่ม|คุณได้สร้างกลุ่ม|.+ ได้เพิ่ม |.+ ได้ลบ .+ ออก|"
    r".+ ออกจากกลุ่ม|.+ (?:ได้)?เปลี่ยน(?:หัวข้อ|ไอคอนกลุ่ม)|คุณได้เข้าร่วมกลุ่ม"
    r")",
    re.I,
)

# Android writes a bare "null" for view-once media.
ANDROID_VIEW_ONCE = "null"

# The shape of a placeholder: the whole message in angle brackets, one line, words inside
# (several, or in a script other than Latin), no link. "<sigh>" and "<3" stay text.
_PLACEHOLDER_SHAPE = re.compile(r"<\s?[^<>\n:/@]*[^\W\d_][^<>\n:/@]*>")


def is_unknown_placeholder(text: str) -> bool:
    """A message that looks like WhatsApp's stand-in for media in a language not listed here."""
    bare = text.translate(_BIDI).strip()
    if len(bare) > 60 or _PLACEHOLDER_SHAPE.fullmatch(bare) is None:
        return False
    inner = bare[1:-1].strip()
    if " " not in inner and inner.isascii():
        return False
    return normalize(bare) not in MEDIA_OMITTED and normalize(bare) not in DELETED
