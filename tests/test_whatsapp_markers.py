"""WhatsApp placeholders and markers beyond the first seven languages (issue 12, items 3 and 5).

Run: .venv/bin/pytest tests/test_whatsapp_markers.py

Wordings are WhatsApp's own (its Android and iOS strings) or seen in real exports; see the
docstring of `chatclone.parsers.whatsapp.markers`.
"""

from __future__ import annotations

import io
from functools import partial

import pytest

from chatclone.messages import Kind, Message
from chatclone.parsers.base import ParseReport, Source
from chatclone.parsers.whatsapp import WhatsAppParser

from golden import FIXTURES, check_golden

PARSER = WhatsAppParser()
LRM = "\u200e"


def parse(text: str) -> tuple[list[Message], ParseReport]:
    data = text.encode()
    name = "WhatsApp Chat with Ana.txt"
    report = ParseReport()
    return list(
        PARSER.parse(Source(name, partial(io.BytesIO, data), len(data), name), report)
    ), report


def android(*texts: str) -> str:
    return "".join(f"13/01/2024, 10:{i:02d} - Ana: {t}\n" for i, t in enumerate(texts))


def ios(*texts: str) -> str:
    return "".join(f"[13/01/2024, 10:{i:02d}:00] Ana: {t}\n" for i, t in enumerate(texts))


def test_golden_russian_android() -> None:
    check_golden(FIXTURES / "whatsapp" / "WhatsApp Chat with Olga.txt")


# --- item 3: placeholders never stored as the person's words ------------------------------------


def test_android_media_omitted_with_caption_on_the_next_line() -> None:
    ((m,), _) = parse(android("<Media omitted>\nthe view from here"))
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "the view from here", None)


def test_android_media_omitted_over_a_document_name() -> None:
    ((m,), _) = parse(android("<Media omitted>\nResume-2024.pdf"))
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", "Resume-2024.pdf")


def test_ios_document_with_pages_before_attached() -> None:
    ((m,), _) = parse(ios(f"Budget.pdf • 3 pages {LRM}<attached: 00000046-Budget.pdf>"))
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", "00000046-Budget.pdf")


def test_android_file_name_ending_in_a_dot_with_caption() -> None:
    ((m,), _) = parse(android("DOC-20221118-WA0004. (file attached)\ninvoice for March"))
    assert (m.kind, m.text, m.attachment) == (
        Kind.MEDIA,
        "invoice for March",
        "DOC-20221118-WA0004.",
    )


@pytest.mark.parametrize(
    "text",
    [
        "Pimlico Gardens (London, United Kingdom): https://foursquare.com/v/4e89af95e5fa82ad4c0aa03b",
        "Pimlico Gardens\nLondon, United Kingdom\nhttps://foursquare.com/v/4e89af95e5fa82ad4c0aa03b",
    ],
)
def test_foursquare_place_is_a_location_with_its_name(text: str) -> None:
    ((m,), _) = parse(ios(text) if "(" in text else android(text))
    assert (m.kind, m.text) == (Kind.LOCATION, text)


# --- item 5: markers in more languages -----------------------------------------------------------

ANDROID_MEDIA = [
    "<Без медиафайлов>", "<Файл пропущен>", "<Медіа пропущено>", "<Medya dahil edilmedi>",
    "<Medya atlanmış>", "<تم استبعاد الوسائط>", "<Media tidak disertakan>", "<pliki pominięto>",
    "<Média vynechány>", "< Média vynechána >", "<Media har utelämnats>",
    "<メディアは含まれていません>", "<省略多媒体文件>", "<忽略多媒體檔>",
    "<미디어 파일을 생략한 대화내용>", "<Bỏ qua Media>", "<สื่อถูกลบ>",
]  # fmt: skip
IOS_MEDIA = [
    "изображение отсутствует", "зображення відсутнє", "görüntü dahil edilmedi",
    "لم يتم إدراج الصورة", "फ़ोटो हटाई गई", "gambar tidak disertakan", "obraz pominięty",
    "obrázek vynechán", "bild utesluten", "画像は含まれていません", "照片已忽略", "圖像已省略",
    "이미지 생략됨", "đã bỏ qua hình ảnh", "ไม่มีรูปภาพ",
]  # fmt: skip


@pytest.mark.parametrize("marker", ANDROID_MEDIA)
def test_android_media_omitted(marker: str) -> None:
    ((m,), _) = parse(android(marker))
    assert (m.kind, m.text) == (Kind.MEDIA, "")


@pytest.mark.parametrize("marker", IOS_MEDIA)
def test_ios_media_omitted(marker: str) -> None:
    ((m,), _) = parse(ios(f"{LRM}{marker}"))
    assert (m.kind, m.text, m.sender) == (Kind.MEDIA, "", "Ana")


@pytest.mark.parametrize(
    "line",
    [
        f"Resume.pdf • {LRM}2 страницы {LRM}документ отсутствует",
        f"Resume.pdf • {LRM}ページ数: 2 {LRM}ドキュメントは含まれていません",
        f"Resume.pdf • {LRM}2 صفحتان {LRM}لم يتم إدراج المستند",
        f"Resume.pdf • {LRM}2 halaman {LRM}dokumen tidak disertakan",
        f"Resume.pdf {LRM}ละเว้นเอกสาร",
    ],
)
def test_ios_document_omitted_in_more_languages(line: str) -> None:
    ((m,), _) = parse(ios(line))
    assert (m.kind, m.text, m.attachment) == (Kind.MEDIA, "", "Resume.pdf")


@pytest.mark.parametrize(
    "tag", ["<прикреплено: {}>", "<додано: {}>", "<{} eklendi>", "<załączono: {}>",
            "<添付ファイル: {}>", "<附件：{}>", "< 첨부됨: {}>", "<แนบ: {}>"],
)  # fmt: skip
def test_ios_attached_in_more_languages(tag: str) -> None:
    ((m,), _) = parse(ios(LRM + tag.format("00000012-PHOTO-2024-01-05-10-00-00.jpg")))
    assert (m.kind, m.text, m.attachment) == (
        Kind.MEDIA,
        "",
        "00000012-PHOTO-2024-01-05-10-00-00.jpg",
    )


@pytest.mark.parametrize(
    "suffix", ["файл добавлен", "dosya ekli", "file terlampir", "soubor byl přiložen", "文件附件"]
)
def test_android_file_attached_in_more_languages(suffix: str) -> None:
    ((m,), _) = parse(android(f"IMG-20240113-WA0001.jpg ({suffix})\nподпись"))
    assert (m.kind, m.attachment, m.text) == (Kind.MEDIA, "IMG-20240113-WA0001.jpg", "подпись")


DELETED = [
    "Данное сообщение удалено", "Вы удалили данное сообщение", "Це повідомлення було видалено.",
    "Bu mesaj silindi", "Bu mesajı sildiniz.", "تم حذف هذه الرسالة.", "यह मैसेज डिलीट कर दिया गया है.",
    "Pesan ini dihapus.", "Anda menghapus pesan ini.", "Ta wiadomość została usunięta.",
    "Tato zpráva byla odstraněna.", "Tuto zprávu jste odstranil/a.", "Det här meddelandet raderades.",
    "このメッセージは削除されました。", "这条消息已被删除。", "此訊息已刪除。", "이 메시지는 삭제되었습니다.",
    "Tin nhắn này đã bị xóa.", "Bạn đã xoá tin nhắn này.", "ข้อความนี้ถูกลบแล้ว", "คุณได้ลบข้อความนี้",
]  # fmt: skip


@pytest.mark.parametrize("marker", DELETED)
def test_deleted_in_more_languages(marker: str) -> None:
    ((a,), _) = parse(android(marker))
    ((i,), _) = parse(ios(f"{LRM}{marker}"))
    assert (a.kind, a.text) == (i.kind, i.text) == (Kind.DELETED, "")


@pytest.mark.parametrize("marker", ["<Сообщение изменено>", "<Bu mesaj düzenlendi>",
                                    "<Pesan ini diedit>"])  # fmt: skip
def test_edited_in_more_languages(marker: str) -> None:
    ((m,), _) = parse(android(f"see you at 7 {marker}"))
    assert (m.kind, m.text, m.edited) == (Kind.TEXT, "see you at 7", True)


CALLS = [
    "Пропущенный аудиозвонок", "Пропущенный видеозвонок", "Пропущений аудіодзвінок",
    "Cevapsız sesli arama", "مكالمة صوتية فائتة", "मिस्ड वीडियो कॉल", "Panggilan suara tak terjawab",
    "Nieodebrane poł. wideo", "Zmeškaný hovor", "Missat röstsamtal", "音声通話不在着信",
    "未接语音通话", "未接視像通話", "부재중 전화", "Cuộc gọi nhỡ video", "สายที่ไม่ได้รับ",
]  # fmt: skip


@pytest.mark.parametrize("call", CALLS)
def test_missed_calls_in_more_languages(call: str) -> None:
    ((a,), _) = parse(android(call))
    ((i,), _) = parse(ios(f"{LRM}{call}"))
    assert (a.kind, i.kind, i.text) == (Kind.CALL, Kind.CALL, call)


SYSTEM = [
    "Сообщения и звонки защищены сквозным шифрованием. Третьи лица, включая WhatsApp, не могут "
    "прочитать ваши сообщения или прослушать звонки.",
    "Messages to this chat and calls are now secured with end-to-end encryption. Tap for more info.",
    "Сообщения и звонки в данном чате теперь защищены сквозным шифрованием.",
    "Bu sohbete gönderilen mesajlar ve yapılan aramalar artık uçtan uca şifreleme ile korunmaktadır.",
    "Wiadomości oraz połączenia do tego czatu są teraz zabezpieczone pełnym szyfrowaniem.",
    "このチャットへのメッセージと通話は、エンドツーエンド暗号化で保護されています。",
    "Ольга создал(-а) группу “Дача”", "Mehmet “Tatil” grubunu oluşturdu.",
    "Priya ने ग्रुप “Trip” बनाया", "Budi menambahkan Sari", "Ana opuścił(a) grupę",
    "Eva lämnade", "健太がグループ「旅行」を作成しました", "小明 退出了", "민준님이 그룹에서 나갔습니다",
    "Lan đã rời nhóm", "สมชาย ออกจากกลุ่ม", "Oksana змінив(-ла) значок групи",
]  # fmt: skip


@pytest.mark.parametrize("line", SYSTEM)
def test_ios_system_lines_in_more_languages(line: str) -> None:
    """In a one-to-one iOS chat the contact's name is the chat's: only the text tells."""
    text = f"[13/01/2024, 10:00:00] Ana: {LRM}{line}\n[13/01/2024, 10:01:00] Ana: hi\n"
    (m, _), _ = parse(text)
    assert (m.kind, m.sender) == (Kind.SYSTEM, None)


# --- a placeholder in a language without known markers -----------------------------------------


def test_unknown_placeholder_is_media_and_counted() -> None:
    messages, report = parse(android("<Медиа отсутствуют>", "<Média nem elérhető>", "hi", "<sigh>"))
    assert [(m.kind, m.text) for m in messages] == [
        (Kind.MEDIA, ""),
        (Kind.MEDIA, ""),
        (Kind.TEXT, "hi"),
        (Kind.TEXT, "<sigh>"),
    ]
    (note,) = [n for n in report.notes if "placeholder" in n]
    assert note.startswith("2 message(s)") and "line 1: <Медиа отсутствуют>" in note


@pytest.mark.parametrize(
    "text", ["<3", "<b>bold</b>", "<https://example.com>", "a <Media omitted>"]
)
def test_text_with_angle_brackets_stays_text(text: str) -> None:
    ((m,), report) = parse(android(text))
    assert (m.kind, m.text) == (Kind.TEXT, text)
    assert not [n for n in report.notes if "placeholder" in n]
