#!/usr/bin/env python3
"""An ONNX Runtime peer for crossrec's encoding benchmark: the same model,
exported to ONNX and run by onnxruntime on CPU, fp32 or dynamically quantised
int8, on the same texts and machine as scripts/peer_encode.py.

    python3 scripts/peer_encode_ort.py MODEL_DIR TEXTS.txt [--batch-size 32]
        [--repeats 3] [--precision fp32|int8] [--onnx-dir DIR]
        [--check-against-st N]

TEXTS.txt has one text per line. The model is exported once (torch.onnx's
dynamo exporter) into --onnx-dir (default target/peer-onnx/) and reused from
there. Each timed run tokenises, sorts by token count, batches with padding to
each batch's longest text, runs the graph, mean-pools over real tokens and
L2-normalises, as sentence-transformers does for all-MiniLM-L6-v2. Prints one
JSON line with peer_encode.py's keys plus "onnx_variant"; --check-against-st N
adds the min and mean cosine to sentence-transformers over the first N texts.
Needs `pip install onnxruntime onnx onnxscript sentence-transformers` (which
brings torch, transformers, tokenizers; torch/onnxscript only for the export,
sentence-transformers only for --check-against-st). Tried with onnxruntime
1.32.0, torch 2.15.0, transformers 5.25.0, onnx 1.23.2, onnxscript 0.7.2,
sentence-transformers 6.3.0; not optimum, whose exporter pins transformers<4.58.
"""

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

INPUTS = ("input_ids", "attention_mask", "token_type_ids")
QUANT_RECIPE = "int8: quantize_dynamic MatMul, QInt8 weights per channel"


def export_fp32(model_dir: Path, out: Path) -> None:
    """Export the transformer (without pooling) to `out`, then check it on a padded batch."""
    import torch
    from transformers import AutoModel

    # Eager attention gives the cleanest graph. The legacy TorchScript exporter
    # (dynamo=False) is not used: with transformers 5 it bakes the trace's
    # shapes and mask handling into the graph, and padded batches come out wrong.
    model = AutoModel.from_pretrained(model_dir, attn_implementation="eager").eval()

    class Hidden(torch.nn.Module):
        def __init__(self, bert):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.bert(input_ids=input_ids, attention_mask=attention_mask,
                             token_type_ids=token_type_ids).last_hidden_state

    ids = torch.randint(1000, 5000, (2, 8))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0  # trace with padding present
    batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq", max=512)
    tmp = out.with_suffix(".partial")
    # The exporter's progress lines go to stderr: stdout carries only the JSON line.
    with torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
        torch.onnx.export(Hidden(model), (ids, mask, torch.zeros_like(ids)), tmp,
                          input_names=list(INPUTS), output_names=["last_hidden_state"],
                          dynamic_shapes={n: {0: batch, 1: seq} for n in INPUTS},
                          dynamo=True, external_data=False)
    # Other shapes than the trace's, with padding: ONNX must agree with torch.
    ids = torch.randint(1000, 5000, (3, 37))
    mask = torch.ones_like(ids)
    mask[1, 20:] = 0
    mask[2, 3:] = 0
    with torch.no_grad():
        want = model(input_ids=ids, attention_mask=mask).last_hidden_state.numpy()
    feed = {"input_ids": ids.numpy(), "attention_mask": mask.numpy(),
            "token_type_ids": np.zeros_like(ids.numpy())}
    got = ort.InferenceSession(tmp, providers=["CPUExecutionProvider"]).run(None, feed)[0]
    diff = float(np.abs(got - want)[mask.numpy().astype(bool)].max())
    if diff > 1e-3:
        raise SystemExit(f"error: the ONNX export differs from torch by {diff}")
    tmp.rename(out)


def onnx_model(model_dir: Path, onnx_dir: Path, precision: str) -> Path:
    """The ONNX file for `precision`, exported (and quantised) on first use."""
    onnx_dir = onnx_dir.resolve()
    model_dir = model_dir.resolve()
    onnx_dir.mkdir(parents=True, exist_ok=True)
    # The cache is keyed by the model folder, its weights' size and the int8
    # recipe, so another model (or recipe) with the same --onnx-dir is redone.
    weights = model_dir / "model.safetensors"
    source = (f"{model_dir.resolve()}\n{weights.stat().st_size if weights.exists() else 0}\n"
              f"{QUANT_RECIPE}\n")
    stamp = onnx_dir / "source.txt"
    fp32, int8 = onnx_dir / "model-fp32.onnx", onnx_dir / "model-int8.onnx"
    if not stamp.exists() or stamp.read_text() != source:
        for f in (fp32, int8, stamp):
            f.unlink(missing_ok=True)
    # The exporter and the quantiser may leave scratch files in the working
    # folder: they run in a temporary one.
    if not fp32.exists():
        with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
            export_fp32(model_dir, fp32)
        stamp.write_text(source)
    if precision == "int8" and not int8.exists():
        from onnxruntime.quantization import QuantType, quantize_dynamic
        # Dynamic quantisation of the MatMuls with weights (the Q/K/V, attention
        # output and feed-forward projections: 36 MatMulInteger, nearly all the
        # FLOPs): weights QInt8 per output channel, activations uint8 per tensor
        # at run time. The 12 activation-by-activation attention MatMuls, the
        # embedding Gathers, LayerNorm, Softmax and GELU stay fp32. Per-channel
        # (optimum's default too) matters: per tensor, min cosine to fp32 on
        # 300 titles fell to 0.87 (mean 0.955); per channel 0.975 (0.993).
        tmp = int8.with_suffix(".partial")
        with tempfile.TemporaryDirectory() as scratch, contextlib.chdir(scratch):
            quantize_dynamic(fp32, tmp, op_types_to_quantize=["MatMul"],
                             weight_type=QuantType.QInt8, per_channel=True)
        tmp.rename(int8)
    return int8 if precision == "int8" else fp32


def load_tokenizer(model_dir: Path) -> Tokenizer:
    """tokenizer.json, truncating at sentence-transformers' max_seq_length (256 for
    MiniLM; tokenizer.json itself says 128) and not padding (batches pad below)."""
    max_len = json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"]
    tok = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    tok.enable_truncation(max_length=max_len)  # counts [CLS] and [SEP]
    tok.no_padding()
    return tok


def encode(session: ort.InferenceSession, tok: Tokenizer, texts: list[str], batch_size: int) -> np.ndarray:
    """Normalised mean-pooled embeddings, one row per text, in the texts' order."""
    encodings = tok.encode_batch(texts)
    # Longest first, as crossrec does: each batch pads only to its own longest text.
    order = sorted(range(len(texts)), key=lambda i: (-len(encodings[i].ids), i))
    wanted = {i.name for i in session.get_inputs()}
    out = None
    for start in range(0, len(order), batch_size):
        rows = order[start:start + batch_size]
        width = max(len(encodings[i].ids) for i in rows)
        ids = np.zeros((len(rows), width), dtype=np.int64)  # 0 = [PAD]; masked below
        mask = np.zeros_like(ids)
        for r, i in enumerate(rows):
            n = len(encodings[i].ids)
            ids[r, :n] = encodings[i].ids
            mask[r, :n] = 1
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
        hidden = session.run(None, {k: v for k, v in feed.items() if k in wanted})[0]
        # Masked mean over real tokens only; padding never enters the average.
        m = mask[:, :, None].astype(np.float32)
        pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
        if out is None:
            out = np.empty((len(texts), pooled.shape[1]), dtype=np.float32)
        out[rows] = pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model_dir", type=Path)
    parser.add_argument("texts")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--precision", choices=("fp32", "int8"), default="fp32")
    parser.add_argument("--onnx-dir", type=Path, default=Path("target/peer-onnx"))
    parser.add_argument("--check-against-st", type=int, default=0, metavar="N",
                        help="compare the first N embeddings with sentence-transformers'")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    if args.batch_size < 1:
        parser.error("--batch-size must be at least 1")
    with open(args.texts, encoding="utf-8") as f:
        texts = [line.rstrip("\n") for line in f]

    path = onnx_model(args.model_dir, args.onnx_dir, args.precision)
    options = ort.SessionOptions()
    # Left at ORT's defaults: graph_optimization_level ORT_ENABLE_ALL (the
    # SessionOptions default), intra_op_num_threads 0 (one thread per physical core).
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    tok = load_tokenizer(args.model_dir)

    encode(session, tok, texts[:64], args.batch_size)  # warm-up
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        encode(session, tok, texts, args.batch_size)
        runs.append(time.perf_counter() - start)
    seconds = sorted(runs)[len(runs) // 2]
    result = {
        "tool": (f"onnxruntime {ort.__version__} (CPUExecutionProvider, {args.precision}, "
                 f"{options.graph_optimization_level.name}, intra-op threads default, "
                 f"{os.cpu_count()} CPUs)"),
        "texts": len(texts),
        "seconds": round(seconds, 3),
        "runs_s": [round(r, 3) for r in runs],
        "sentences_per_s": round(len(texts) / seconds, 1),
        "onnx_variant": f"{args.precision} ({path.name})",
    }
    if args.check_against_st > 0:
        from sentence_transformers import SentenceTransformer
        sample = texts[:args.check_against_st]
        st = SentenceTransformer(str(args.model_dir), device="cpu")
        want = st.encode(sample, batch_size=args.batch_size, normalize_embeddings=True)
        cos = (encode(session, tok, sample, args.batch_size) * want).sum(axis=1)
        result["min_cosine_to_st"] = round(float(cos.min()), 6)
        result["mean_cosine_to_st"] = round(float(cos.mean()), 6)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
