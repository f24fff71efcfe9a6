"""Pure translators between hearth's vocabulary and each provider's wire format.

One module per format (``openai``, ``anthropic``, ``gemini``, ``ollama``), each implementing the
contract in :mod:`hearth.wire.base` in both directions. No I/O happens here: remote backends use the
outbound half, the server uses the inbound half.
"""
