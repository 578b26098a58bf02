"""Personal data out of what chatclone writes: find it, replace it consistently, keep the key to
ourselves. Shared by the dataset build, the memory and the chat.

- `detect`: `find_pii` finds phone numbers, e-mails, URLs, cards, IBANs, addresses and given names;
- `patterns`: the regex detectors behind it, one per kind, leaning towards precision;
- `pseudonyms`: `Pseudonymizer` turns what was found into placeholders and pseudonyms, the same
  value into the same replacement every time, through a mapping that `load_mapping` /
  `save_mapping` keep in the workspace.
"""

from __future__ import annotations

from chatclone.privacy.detect import PII_TYPES, find_pii
from chatclone.privacy.pseudonyms import Pseudonymizer, for_dataset, load_mapping, save_mapping

__all__ = ["PII_TYPES", "Pseudonymizer", "find_pii", "for_dataset", "load_mapping", "save_mapping"]
