"""chatclone: turn your exported chat history into a digital clone that texts like you."""

__version__ = "0.1.0"
