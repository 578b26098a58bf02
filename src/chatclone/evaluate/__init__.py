"""`chatclone eval`: how much the clone sounds like the person, and how often it invents facts.

- `heldout.py`: the dataset's chronological validation split as (context, real reply) pairs, and
  the training split's texts (the person's and everyone else's) for the authorship classifier;
- `style.py`: the stylometric profile and its two-sided distance, distinct-n, copy rate;
- `authorship.py`: a classifier of the person vs the people they chat with;
- `probes.py`, `judge.py`, `llm_judge.py`, `facts.py`: fact probes, the verdict of each reply
  and the fact metrics with bootstrap intervals;
- `systems.py`: what writes the replies (a run, the base model, the real person);
- `run.py`: the whole evaluation; `report.py` and `html.py`: report.json and report.html.
"""
