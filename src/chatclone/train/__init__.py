"""Training backends: `chatclone train --backend local|openai` (see `runs.py` for the run folder)."""
