"""Hearth: one API over local (llama.cpp) and remote language models."""
