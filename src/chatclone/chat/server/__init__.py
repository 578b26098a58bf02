"""`chatclone serve`: the clone behind an OpenAI-compatible API and a web chat page, on this machine.

- `api.py`: what a request may hold (as real clients send it) and the exact shapes of replies,
  chunks and errors the openai SDK expects;
- `worker.py`: one model, many callers: a single generation thread with a bounded queue;
- `app.py`: the Starlette app: the routes, the Host check (DNS rebinding), the API key, and the
  page at `/` (`static/`);
- `command.py`: the `chatclone serve` command: loading the run, the key, uvicorn.
"""
