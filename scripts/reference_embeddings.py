#!/usr/bin/env python3
"""Write reference embeddings from sentence-transformers for crossrec's tests.

    python3 scripts/reference_embeddings.py MODEL_DIR tests/data/minilm_reference.json

MODEL_DIR is all-MiniLM-L6-v2 in the Hugging Face layout (scripts/install_model.py
puts it in the hub cache). Needs `pip install sentence-transformers`. The texts
cover accents, CJK, emoji, URLs, and texts of about 150, 400 and over 512
tokens, so the test checks truncation at the model's max_seq_length (256) too.
"""

import json
import sys

from sentence_transformers import SentenceTransformer

PARAGRAPH = (
    "Cast iron skillets hold heat evenly, which makes them ideal for searing steak, "
    "baking cornbread and frying eggs; season the pan with a thin layer of oil after "
    "every wash and it will last for generations. "
)

TEXTS = [
    "Stainless steel chef's knife, 8 inch",
    "Organic dark roast coffee beans, 2 lb bag",
    "Café crème brûlée with crêpes and jalapeño salsa — señor Müller's favourite",
    "Ærøskøbing smørrebrød: rødgrød med fløde",
    "日本茶の淹れ方：急須で煎茶をおいしく",
    "不锈钢炒锅，适用于电磁炉和燃气灶",
    "김치찌개 맛있게 끓이는 법",
    "Best pizza night ever 🍕🔥🎉 with friends 👩‍🍳",
    "Read more at https://example.com/recipes?id=42&lang=en#step-3",
    "Email support@example.org or visit www.example.net/help",
    "",
    "a",
    "THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG",
    "   leading and trailing spaces   ",
    "Tabs\tand\tnew lines are just whitespace",
    "12-pack of AA batteries (1.5V), 2,800 mAh — model #X-99/B",
    "Vegan, gluten-free, non-GMO almond flour; 32 oz.",
    "Привет, как дела? Сковорода с антипригарным покрытием",
    "مقلاة غير لاصقة مع غطاء زجاجي",
    "Ελληνικό ελαιόλαδο, παρθένο",
    "naïve coöperation façade résumé",
    "Kitchen scale <b>digital</b> &amp; precise",
    "What's the difference between baking soda and baking powder?",
    PARAGRAPH * 4,
    PARAGRAPH * 11,
    PARAGRAPH * 17,
    " ".join(f"word{i}" for i in range(700)),
    "Earl Grey tea with bergamot",
]


def main() -> None:
    model_dir, out = sys.argv[1], sys.argv[2]
    model = SentenceTransformer(model_dir, device="cpu")
    tokenizer = model.tokenizer
    vectors = model.encode(TEXTS, batch_size=8, normalize_embeddings=True, convert_to_numpy=True)
    tokens = [len(tokenizer(t, truncation=False)["input_ids"]) for t in TEXTS]
    cases = [
        {"text": t, "tokens_untruncated": n, "embedding": [round(float(x), 8) for x in v]}
        for t, n, v in zip(TEXTS, tokens, vectors)
    ]
    doc = {
        "model": "sentence-transformers/all-MiniLM-L6-v2",
        "max_seq_length": model.max_seq_length,
        "generator": "scripts/reference_embeddings.py",
        "cases": cases,
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False, indent=0)
    print(f"wrote {len(cases)} cases to {out}; token counts: {tokens}")


if __name__ == "__main__":
    main()
