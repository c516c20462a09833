#!/usr/bin/env python3
"""Write the tokenizer and model-family fixtures of crossrec's tests.

    python3 scripts/model_families.py [MINILM_DIR]      # rewrites tests/data/families/

Needs `pip install torch transformers tokenizers sentence-transformers
sentencepiece protobuf`. Everything is seeded; the reference outputs come from
Hugging Face's own Python code, never from crossrec:

- `corpus.json`: mixed Chinese / English / emoji / full-width / accented texts.
- `wordpiece-*/`: tiny BERT WordPiece vocabularies (vocab.txt +
  tokenizer_config.json, no tokenizer.json, like bert-base-chinese) under
  three settings of do_lower_case / strip_accents / tokenize_chinese_chars;
  their ids come from transformers' BertTokenizer (what AutoTokenizer builds
  from a vocab.txt) and agree with BertTokenizerFast.
- `unigram/`: a tiny SentencePiece-Unigram model trained on the corpus, turned
  into an XLM-R tokenizer.json by transformers' own converter (the same
  pipeline as xlm-roberta-base and the multilingual sentence-transformers);
  ids from the fast XLMRobertaTokenizer, checked against sentencepiece itself.
- `bert-vocab/`, `bert-pickle/`: a tiny random BERT with only vocab.txt, as
  model.safetensors and as pytorch_model.bin; reference CLS vectors from
  transformers' BertModel (no sentence-transformers configs: CLS pooling).
- `bert-unigram-st/`: a sentence-transformers model on BERT weights with the
  Unigram tokenizer, mean pooling and query/passage prompts (like
  paraphrase-multilingual-MiniLM-L12-v2 and multilingual-e5-small);
  references from sentence-transformers with each prompt.
- `xlmr-st/`: the same on XLM-RoBERTa weights (like multilingual-e5-base, bge-m3).
- `evil-pickle/`: a pytorch_model.bin whose pickle calls os.system when
  Python's pickle loads it; crossrec must refuse it without running anything.
- `minilm_ids.json` (when MINILM_DIR, the real all-MiniLM-L6-v2, is given):
  its tokenizer.json's ids and BertTokenizer's ids from its vocab.txt.
"""

import json
import os
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import save_file
from sentence_transformers import SentenceTransformer
from transformers import (
    BertConfig,
    BertModel,
    BertTokenizer,
    BertTokenizerFast,
    XLMRobertaConfig,
    XLMRobertaModel,
    XLMRobertaTokenizerFast,
)

OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "families"
SEED = 11

CORPUS = [
    "不锈钢炒锅，适用于电磁炉和燃气灶",
    "手冲咖啡入门：研磨度、水温与萃取时间",
    "繁體中文：臺灣的烏龍茶與鳳梨酥",
    "iPhone手机壳 防摔 透明TPU材质 2024新款",
    "Café crème brûlée — naïve Señor Müller's FAVOURITE",
    "ＦＵＬＬ－ＷＩＤＴＨ　ＡＢＣ１２３！？（全角）",
    "Best pizza night ever 🍕🔥 with friends 👩‍🍳 and 👍🏻",
    "日本茶の淹れ方：急須で煎茶をおいしく",
    "김치찌개 맛있게 끓이는 법",
    "  leading\tand trailing  spaces\u3000and ideographic space  ",
    "Price: ¥128.00 / €9,99 / $12 — 50% off!!!",
    "zero\u200bwidth\u200djoiner and soft\u00adhyphen",
    "THE QUICK BROWN FOX jumps over the lazy dog",
    "ß ǅ ﬁ ℌ Ⅻ ① ㍿ 〜",
    "我在小红书上看到这篇帖子：露营装备清单（帐篷、睡袋、炉头）",
    "unaffordable unbelievable",
    "",
    "a",
    "[CLS] special [SEP] tokens [MASK] in text",
]

# Extra sentences the Unigram model is trained on (with the corpus).
TRAIN_EXTRA = [
    "咖啡 咖啡豆 咖啡机 手冲 拿铁 美式 意式浓缩",
    "露营 帐篷 睡袋 登山 徒步 户外 装备",
    "烘焙 面包 蛋糕 烤箱 面粉 酵母",
    "coffee beans grinder espresso latte kettle",
    "camping tent sleeping bag hiking boots trail",
    "baking bread cake oven flour yeast sourdough",
    "the quick brown fox jumps over the lazy dog",
    "手机 电脑 耳机 键盘 鼠标 显示器",
]


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def fresh(name):
    folder = OUT / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def wordpiece_vocab():
    """Specials, every character of the corpus (lower and upper case, with
    and without accents), their ## continuations, and a few whole words."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted({c for text in CORPUS for c in text if not c.isspace()})
    words = ["the", "quick", "brown", "fox", "dog", "pizza", "friends", "un", "##afford", "##able",
             "##believ", "best", "cafe", "café", "creme", "##s", "spaces", "and", "with", "leading"]
    vocab = list(specials)
    for token in words + chars + ["##" + c for c in chars if c.isascii() and c.isalnum()]:
        if token not in vocab:
            vocab.append(token)
    return vocab


def wordpiece_fixtures():
    vocab = wordpiece_vocab()
    settings = {
        "wordpiece-uncased": {"do_lower_case": True},
        "wordpiece-cased": {"do_lower_case": False},
        "wordpiece-no-chinese-split": {
            "do_lower_case": True,
            "strip_accents": False,
            "tokenize_chinese_chars": False,
        },
    }
    for name, config in settings.items():
        folder = fresh(name)
        (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        write_json(folder / "tokenizer_config.json", {"tokenizer_class": "BertTokenizer", **config})
        slow = BertTokenizer(str(folder / "vocab.txt"), **config)
        fast = BertTokenizerFast(str(folder / "vocab.txt"), **config)
        ids = [slow(text)["input_ids"] for text in CORPUS]
        fast_ids = [fast(text)["input_ids"] for text in CORPUS]
        for text, a, b in zip(CORPUS, ids, fast_ids):
            if a != b:
                print(f"{name}: slow and fast differ on {text!r}: {a} vs {b}", file=sys.stderr)
        write_json(folder / "ids.json", {"source": f"transformers {__import__('transformers').__version__} BertTokenizer", "ids": ids})


def unigram_fixture():
    import sentencepiece as spm

    folder = fresh("unigram")
    work = OUT / "_spm"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    (work / "train.txt").write_text("\n".join(CORPUS + TRAIN_EXTRA) + "\n", encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(work / "train.txt"),
        model_prefix=str(work / "spm"),
        vocab_size=400,
        model_type="unigram",
        character_coverage=1.0,
        normalization_rule_name="nmt_nfkc",
        hard_vocab_limit=False,
        num_threads=1,
        minloglevel=2,
    )
    # transformers 5 converts a sentencepiece.bpe.model on load, as it does for
    # xlm-roberta-base; sentencepiece itself gives the slow reference (with
    # fairseq's id offset: <s>=0, <pad>=1, </s>=2, <unk>=3, pieces shifted by 1).
    (work / "repo").mkdir()
    shutil.copy(work / "spm.model", work / "repo" / "sentencepiece.bpe.model")
    fast = XLMRobertaTokenizerFast.from_pretrained(str(work / "repo"))
    fast.save_pretrained(str(work / "fast"))
    shutil.copy(work / "fast" / "tokenizer.json", folder / "tokenizer.json")
    sp = spm.SentencePieceProcessor(model_file=str(work / "spm.model"))
    ids = [[0] + [3 if i == 0 else i + 1 for i in sp.encode(text)] + [2] for text in CORPUS]
    fast_ids = [fast(text)["input_ids"] for text in CORPUS]
    for text, a, b in zip(CORPUS, ids, fast_ids):
        if a != b:
            print(f"unigram: sentencepiece and fast differ on {text!r}: {a} vs {b}", file=sys.stderr)
    write_json(folder / "ids.json", {"source": "transformers XLMRobertaTokenizerFast", "ids": fast_ids,
                                     "sentencepiece_ids": ids})
    shutil.rmtree(work)
    return folder / "tokenizer.json", len(fast)


def tiny_bert(vocab_size, pad_token_id=0):
    torch.manual_seed(SEED)
    config = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        pad_token_id=pad_token_id,
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    return config, model


def cls_vectors(model, tokenizer, texts, max_len):
    out = []
    with torch.no_grad():
        for text in texts:
            enc = tokenizer(text, return_tensors="pt", truncation=True, max_length=max_len)
            hidden = model(**enc).last_hidden_state[0, 0]
            out.append(torch.nn.functional.normalize(hidden, dim=0).tolist())
    return out


def bert_vocab_fixtures():
    source = OUT / "wordpiece-uncased"
    vocab = (source / "vocab.txt").read_text(encoding="utf-8").splitlines()
    config, model = tiny_bert(len(vocab))
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    tokenizer = BertTokenizer(str(source / "vocab.txt"), do_lower_case=True)
    vectors = cls_vectors(model, tokenizer, CORPUS, 64)
    for name in ["bert-vocab", "bert-pickle"]:
        folder = fresh(name)
        shutil.copy(source / "vocab.txt", folder / "vocab.txt")
        shutil.copy(source / "tokenizer_config.json", folder / "tokenizer_config.json")
        config.to_json_file(str(folder / "config.json"))
        if name == "bert-vocab":
            save_file(state, str(folder / "model.safetensors"))
        else:
            torch.save(state, str(folder / "pytorch_model.bin"))
        write_json(folder / "reference.json", {"pooling": "cls", "texts": CORPUS, "vectors": vectors})


def sentence_transformers_configs(folder, max_len):
    write_json(folder / "modules.json", [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ])
    write_json(folder / "sentence_bert_config.json", {"max_seq_length": max_len, "do_lower_case": False})
    (folder / "1_Pooling").mkdir()
    write_json(folder / "1_Pooling" / "config.json", {
        "word_embedding_dimension": 32,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    (folder / "2_Normalize").mkdir()
    write_json(folder / "config_sentence_transformers.json", {
        "prompts": {"query": "query: ", "passage": "passage: "},
        "default_prompt_name": None,
        "similarity_fn_name": "cosine",
    })


def st_reference(folder, max_len):
    model = SentenceTransformer(str(folder), device="cpu")
    assert model.max_seq_length == max_len
    out = {"pooling": "mean", "texts": CORPUS}
    for prompt in ["passage", "query"]:
        out[prompt] = model.encode(CORPUS, prompt_name=prompt, normalize_embeddings=True).tolist()
    write_json(folder / "reference.json", out)


def unigram_models(tokenizer_json, vocab_size):
    # BERT weights, Unigram tokenizer (paraphrase-multilingual-MiniLM-L12-v2's layout).
    folder = fresh("bert-unigram-st")
    config, model = tiny_bert(vocab_size, pad_token_id=1)
    config.to_json_file(str(folder / "config.json"))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    shutil.copy(tokenizer_json, folder / "tokenizer.json")
    XLMRobertaTokenizerFast(tokenizer_file=str(tokenizer_json)).save_pretrained(str(folder / "_tok"))
    for f in ["tokenizer_config.json", "special_tokens_map.json"]:
        if (folder / "_tok" / f).exists():
            shutil.copy(folder / "_tok" / f, folder / f)
    shutil.rmtree(folder / "_tok")
    sentence_transformers_configs(folder, 48)
    st_reference(folder, 48)

    # XLM-RoBERTa weights (multilingual-e5-base's and bge-m3's architecture).
    folder = fresh("xlmr-st")
    torch.manual_seed(SEED + 1)
    config = XLMRobertaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=66,
        type_vocab_size=1,
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
    )
    model = XLMRobertaModel(config, add_pooling_layer=False).eval()
    config.to_json_file(str(folder / "config.json"))
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(folder / "model.safetensors"))
    shutil.copy(tokenizer_json, folder / "tokenizer.json")
    sentence_transformers_configs(folder, 40)
    st_reference(folder, 40)


class Payload:
    """Runs a shell command when Python's pickle loads it."""

    def __reduce__(self):
        return (os.system, ("echo crossrec-pickle-payload-ran > crossrec-pickle-payload.txt",))


def evil_pickle():
    folder = fresh("evil-pickle")
    shutil.copy(OUT / "bert-pickle" / "config.json", folder / "config.json")
    shutil.copy(OUT / "bert-pickle" / "vocab.txt", folder / "vocab.txt")
    state = torch.load(str(OUT / "bert-pickle" / "pytorch_model.bin"), weights_only=True)
    state["embeddings.word_embeddings.weight"] = Payload()
    torch.save(state, str(folder / "pytorch_model.bin"))


def minilm_ids(model_dir):
    from tokenizers import Tokenizer

    fast = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    # crossrec pads per batch and truncates at max_seq_length; compare raw ids.
    fast.no_padding()
    fast.no_truncation()
    slow = BertTokenizer(str(model_dir / "vocab.txt"), do_lower_case=True)
    write_json(OUT / "minilm_ids.json", {
        "texts": CORPUS,
        "tokenizer_json": [fast.encode(text).ids for text in CORPUS],
        "vocab_txt": [slow(text)["input_ids"] for text in CORPUS],
    })


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    write_json(OUT / "corpus.json", CORPUS)
    wordpiece_fixtures()
    tokenizer_json, vocab_size = unigram_fixture()
    bert_vocab_fixtures()
    unigram_models(tokenizer_json, vocab_size)
    evil_pickle()
    if len(sys.argv) > 1:
        minilm_ids(Path(sys.argv[1]))
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
