"""The one OpenAI(-compatible) client path: the key and the SDK (`client`), prices and token counts
(`pricing`, `tokens`), fine-tuning jobs (`jobs`, `follow`, `report`) and the LLM judge (`judge`).

Nothing here imports the `openai` SDK at import time: `client.import_openai()` does, when the
network is really needed. Inside this package `import openai` still means the SDK (imports are
absolute).
"""
