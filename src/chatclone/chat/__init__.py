"""Talking to a clone: the generation engine (local runs and OpenAI models) and the terminal chat."""
