"""Memory: what the clone can be reminded of from the person's own history.

- `index.py`: the index over the store (FTS5 trigram + embeddings), kept in step with it;
- `recall.py`: hybrid retrieval with provenance, `chatclone recall`.
"""
