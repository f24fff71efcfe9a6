"""Several answers to one prompt (``n``): the sequences of one job and their single end.

A job asking for ``n`` answers runs as ``n`` sequences in ``n`` slots. The first (choice 0)
reads the prompt; the others wait, and when the prompt's last token has been decoded they take
its KV by reference (``llama_memory_seq_cp``: a unified cache tags the same cells with more
sequence ids, nothing is copied or recomputed) and sample their first token from the same
logits. From then on each decodes on its own, with its own sampler chain: its own seed stream
(the request's ``seed`` plus the choice's index, or a fresh random seed each), constraint and
stop strings. Their events share the job's channel, each tagged with its ``choice``;
:class:`ChoiceGroup` holds back each answer's :class:`~hearth.events.Done` and sends one, with
every answer's in ``choices``, when the last one ends.
"""

from __future__ import annotations

from dataclasses import replace

from hearth.backends.local.channel import Channel
from hearth.events import Done, Usage
from hearth.settings import GenerationSettings


def choice_settings(settings: GenerationSettings, choice: int) -> GenerationSettings:
    """The settings answer ``choice`` samples with: its own seed stream when a seed is set."""
    if choice == 0 or settings.seed is None:
        return settings
    return replace(settings, seed=settings.seed + choice)


class ChoiceGroup:
    """Collects the ends of a job's ``n`` answers and sends their one Done."""

    def __init__(self, n: int, channel: Channel) -> None:
        self._ends: list[Done | None] = [None] * n
        self._channel = channel

    def finish(self, choice: int, done: Done) -> None:
        self._ends[choice] = done
        ends = self._ends
        if any(end is None for end in ends):
            return
        own = [end for end in ends if end is not None]
        first = own[0]
        total = Usage(
            first.usage.input_tokens,
            sum(end.usage.output_tokens for end in own),
            first.usage.cached_tokens,
            sum(end.usage.thinking_tokens for end in own),
        )
        self._channel.put(replace(first, usage=total, choices=tuple(own)))
