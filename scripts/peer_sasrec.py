#!/usr/bin/env python3
"""SASRec, the peer for crossrec's sequential evaluation on amazon-food-kitchen.

A plain SASRec (Kang & McAuley, "Self-Attentive Sequential Recommendation",
ICDM 2018), the backbone of LLMCDSR and C2DSR, trained on the same split as
crossrec and ranking the very candidate lists crossrec ranks, so that its
numbers can sit beside crossrec's. It is the peer of

    crossrec eval ... --protocol given --candidates sampled:999 --write-candidates FILE

Usage
-----
    # one candidates file per target domain, written by crossrec:
    python3 scripts/peer_sasrec.py \\
        --candidates kitchen.csv --candidates food.csv --out sasrec.json

    # options: --max-len 200, --blocks, --heads, --hidden, --dropout,
    # --epochs, --eval-every, --patience, --budget-seconds, --seed, --threads,
    # --dataset DIR (default: ../shared/data/amazon-food-kitchen from the
    # repository root)

`--threads` defaults to all cores; on a small machine that is busy with
other work, `--threads 1` can be several times faster (the model's
operations are small, and contended OpenMP threads wait on each other).

Progress and a table of the results go to stderr; the JSON report goes to
--out, or to stdout when --out is not given. The script writes nothing else.

Install (CPU only, from PyPI only)
----------------------------------
PyPI's Linux x86-64 wheels of torch >= 1.13 need several GB of nvidia-*
CUDA wheels, and `pip install --no-deps torch` does not import without them
(libtorch_cuda.so needs libcudart, libcublas, libcudnn, ...). torch 1.12.1 is
the last release whose PyPI wheel bundles its CUDA runtime (about 750 MB, no
nvidia-* packages) and it runs on a machine without a GPU; it has wheels for
Python 3.7 to 3.10. What was used:

    python3.10 -m venv .venv-sasrec
    .venv-sasrec/bin/pip install torch==1.12.1 "numpy<2"

The script uses only basic torch operations and runs as well on any newer
torch (e.g. a CPU build from the PyTorch index) with numpy.

Data
----
`--dataset DIR` holds `interactions.csv` (user_id,domain,item_id,seq_pos,
role,split) and one `items_<domain>.csv` (item_id,...) per domain. Item ids
are unique across domains; all items of all domains share one id space
(1..N, 0 is padding).

Protocol
--------
* Training: the rows of the `split == train` users only; each user's
  sequence is all their rows in `seq_pos` order, both domains interleaved.
  Valid and test users are never trained on.
* Model, as in the paper: item-id embeddings over the items of all domains,
  shared between input and output (scaled by sqrt(d) on input, as in the
  authors' code); learned absolute position embeddings (the index in the
  left-padded window of length L, so the last item always has position
  L-1); `--blocks` blocks of pre-LayerNorm
  causal multi-head self-attention (queries, keys, values are linear maps; no
  output projection, as in the paper and the authors' code) and a point-wise
  feed-forward network (two d->d linear layers with a ReLU, the paper's
  conv1d), each sub-layer as x + Dropout(Sublayer(LayerNorm(x))); dropout
  on the embeddings, the attention weights and inside the FFN; a final
  LayerNorm. Padded positions are masked out as keys and zeroed between
  blocks. Score of item i after a prefix = <F_t, M_i>.
  (The authors' TensorFlow code adds the residual to the normalised input;
  this follows the paper's formula x + Dropout(g(LayerNorm(x))).)
* Loss: binary cross-entropy at every non-padded position of the window:
  the next item as positive and ONE negative drawn uniformly from all items
  (both domains) not in the user's sequence, redrawn every epoch.
  Adam, lr 1e-3, betas (0.9, 0.98) as in the authors' code, batch 128; an
  epoch is one pass over the train users in random order. Each user's last
  L+1 items give L (input, next item) pairs, as in the paper (users with
  fewer than two items would be skipped; there are none). For speed a
  batch is run as up to `--length-groups` groups of users of similar length,
  each trimmed to its longest sequence; since padding is masked and the loss
  is summed over the whole batch before the one Adam step, the gradient is
  the same as that of the batch padded to L (checked to float precision).
* Early stopping: every `--eval-every` epochs the model ranks, for each
  `split == valid` user, their target among the target and 999 negatives
  drawn (seeded, once) uniformly from the items of the target's domain that
  are neither the target nor in the user's history; the input is all the
  user's `role == history` rows in seq_pos order (last L). The checkpoint
  with the best validation NDCG@10 is kept (in memory). Training stops after
  `--epochs`, after `--patience` evaluations without improvement, or when
  `--budget-seconds` of training have passed (then the model is validated
  once more and the best checkpoint is still the one used).
* Test: each `--candidates FILE` (CSV `user_id,domain,item_id,is_target`, one
  row per candidate, `domain` the user's target domain, `is_target` 1 for the
  held-out target) is ranked with the best checkpoint: a user's candidates
  are scored by the SASRec output at the last position of their history
  sequence (all their `role == history` rows in interactions.csv, both
  domains, seq_pos order, last L). The target's rank is 1 + the number of
  candidates scoring STRICTLY higher (a candidate that ties with the target
  is not counted against it; with float scores ties practically never
  happen). If a user has more than one target, the best-ranked target
  counts (its rank for HR, MRR and NDCG).
* Metrics per file: HR@1, HR@3, HR@5, HR@10, NDCG@5, NDCG@10 (one relevant
  item: 1/log2(rank+1) if rank <= k, else 0) and MRR (mean of 1/rank over the
  users), plus the number of users.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

HR_KS = (1, 3, 5, 10)
NDCG_KS = (5, 10)
EVAL_BATCH = 512
GROUP_COST = 256  # padded cells that running one more group is worth (see length_groups)
DEFAULT_DATASET = Path(__file__).resolve().parent.parent / ".." / "shared" / "data" / "amazon-food-kitchen"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- data


@dataclass
class Dataset:
    """Items of all domains in one id space (1..N, 0 = padding) and the users."""

    domains: list[str]
    item_index: dict[str, int]  # item_id -> 1..N
    item_domain: np.ndarray  # (N + 1,) domain number of each item, -1 for padding
    history: dict[str, np.ndarray] = field(default_factory=dict)  # user -> role==history items, seq_pos order
    targets: dict[str, list[int]] = field(default_factory=dict)  # user -> role==target items
    split: dict[str, str] = field(default_factory=dict)  # user -> train/valid/test

    @property
    def n_items(self) -> int:
        return len(self.item_index)

    def domain_items(self, domain: str) -> np.ndarray:
        return np.flatnonzero(self.item_domain == self.domains.index(domain))


def load_dataset(directory: Path) -> Dataset:
    item_files = sorted(directory.glob("items_*.csv"))
    if not item_files:
        sys.exit(f"no items_<domain>.csv in {directory}")
    domains, index, item_domain = [], {}, [-1]
    for path in item_files:
        domain = path.stem[len("items_"):]
        domains.append(domain)
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                item = row["item_id"]
                if item in index:
                    sys.exit(f"item {item!r} occurs twice in the items files")
                index[item] = len(index) + 1
                item_domain.append(len(domains) - 1)
    data = Dataset(domains, index, np.asarray(item_domain, dtype=np.int64))

    rows: dict[str, list[tuple[int, int, str]]] = {}
    with (directory / "interactions.csv").open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            user, item = row["user_id"], row["item_id"]
            if item not in index:
                sys.exit(f"interactions.csv: unknown item {item!r}")
            if row["domain"] not in domains or data.item_domain[index[item]] != domains.index(row["domain"]):
                sys.exit(f"interactions.csv: item {item!r} is not of domain {row['domain']!r}")
            rows.setdefault(user, []).append((int(row["seq_pos"]), index[item], row["role"]))
            split = data.split.setdefault(user, row["split"])
            if split != row["split"]:
                sys.exit(f"interactions.csv: user {user!r} is in two splits")
    for user, user_rows in rows.items():
        user_rows.sort()
        data.history[user] = np.asarray([i for _, i, role in user_rows if role != "target"], dtype=np.int64)
        targets = [i for _, i, role in user_rows if role == "target"]
        if targets:
            data.targets[user] = targets
    return data


def left_pad(sequences: list[np.ndarray], length: int) -> np.ndarray:
    """The last `length` items of each sequence, left-padded with 0."""
    out = np.zeros((len(sequences), length), dtype=np.int64)
    for row, seq in enumerate(sequences):
        tail = seq[-length:]
        if len(tail):
            out[row, length - len(tail):] = tail
    return out


# --------------------------------------------------------------------------- model


class CausalSelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention, causal, padded keys masked."""

    def __init__(self, hidden: int, heads: int, dropout: float):
        super().__init__()
        if hidden % heads:
            raise ValueError(f"--hidden {hidden} is not a multiple of --heads {heads}")
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        head = hidden // self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.view(batch, length, self.heads, head).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        weights = (q @ k.transpose(-1, -2)) / math.sqrt(head)
        weights = weights.masked_fill(blocked, float("-inf")).softmax(dim=-1)
        out = self.dropout(weights) @ v
        return out.transpose(1, 2).reshape(batch, length, hidden)


class PointWiseFeedForward(nn.Module):
    def __init__(self, hidden: int, dropout: float):
        super().__init__()
        self.inner = nn.Linear(hidden, hidden)
        self.outer = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.outer(self.dropout(F.relu(self.inner(x))))


class SASRec(nn.Module):
    def __init__(self, n_items: int, max_len: int, hidden: int, blocks: int, heads: int, dropout: float):
        super().__init__()
        self.max_len = max_len
        self.item_emb = nn.Embedding(n_items + 1, hidden, padding_idx=0)
        self.pos_emb = nn.Embedding(max_len, hidden)
        self.emb_dropout = nn.Dropout(dropout)
        self.attn_norms = nn.ModuleList([nn.LayerNorm(hidden, eps=1e-8) for _ in range(blocks)])
        self.attns = nn.ModuleList([CausalSelfAttention(hidden, heads, dropout) for _ in range(blocks)])
        self.ffn_norms = nn.ModuleList([nn.LayerNorm(hidden, eps=1e-8) for _ in range(blocks)])
        self.ffns = nn.ModuleList([PointWiseFeedForward(hidden, dropout) for _ in range(blocks)])
        self.residual_dropout = nn.Dropout(dropout)
        self.last_norm = nn.LayerNorm(hidden, eps=1e-8)
        for name, param in self.named_parameters():
            if "norm" in name:
                continue
            if param.dim() >= 2:
                nn.init.xavier_normal_(param)
            else:
                nn.init.zeros_(param)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()

    def forward(self, seqs: torch.Tensor) -> torch.Tensor:
        """Hidden states (B, T, d) of left-padded item windows (B, T), T <= max_len.

        A window shorter than max_len stands for the last T columns of the
        full window: its positions are max_len - T .. max_len - 1, so
        trimming leading padding does not change the result.
        """
        batch, length = seqs.shape
        keep = seqs != 0
        positions = torch.arange(self.max_len - length, self.max_len, device=seqs.device)
        x = self.item_emb(seqs) * math.sqrt(self.item_emb.embedding_dim) + self.pos_emb(positions)
        x = self.emb_dropout(x) * keep.unsqueeze(-1)
        causal = torch.ones(length, length, dtype=torch.bool, device=seqs.device).triu(1)
        blocked = causal | ~keep[:, None, None, :]  # (B, 1, T, T): future or padded keys
        blocked = blocked & ~torch.eye(length, dtype=torch.bool, device=seqs.device)  # a padded row sees itself
        for attn_norm, attn, ffn_norm, ffn in zip(self.attn_norms, self.attns, self.ffn_norms, self.ffns):
            x = x + self.residual_dropout(attn(attn_norm(x), blocked))
            x = x + self.residual_dropout(ffn(ffn_norm(x)))
            x = x * keep.unsqueeze(-1)
        return self.last_norm(x)

    def user_vectors(self, windows: np.ndarray) -> torch.Tensor:
        """The output at the last position of each left-padded window (no grad)."""
        out = []
        with torch.no_grad():
            for start in range(0, len(windows), EVAL_BATCH):
                chunk = torch.from_numpy(windows[start:start + EVAL_BATCH])
                out.append(self(chunk)[:, -1, :])
        return torch.cat(out) if out else torch.zeros(0, self.item_emb.embedding_dim)


# --------------------------------------------------------------------------- metrics


def metrics_of_ranks(ranks: np.ndarray) -> dict[str, float]:
    """HR@k, NDCG@k and MRR of 1-based target ranks (one relevant item per user)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    out: dict[str, float] = {}
    for k in HR_KS:
        out[f"HR@{k}"] = float(np.mean(ranks <= k)) if len(ranks) else 0.0
    for k in NDCG_KS:
        gains = np.where(ranks <= k, 1.0 / np.log2(ranks + 1.0), 0.0)
        out[f"NDCG@{k}"] = float(np.mean(gains)) if len(ranks) else 0.0
    out["MRR"] = float(np.mean(1.0 / ranks)) if len(ranks) else 0.0
    return out


def target_ranks(vectors: torch.Tensor, item_weights: torch.Tensor, candidates: list[np.ndarray],
                 is_target: list[np.ndarray]) -> np.ndarray:
    """Per user: 1 + the number of candidates scoring strictly higher than
    their best-scoring target."""
    ranks = np.empty(len(candidates), dtype=np.int64)
    with torch.no_grad():
        for u, (items, target) in enumerate(zip(candidates, is_target)):
            scores = (item_weights[torch.from_numpy(items)] @ vectors[u]).numpy()
            best = scores[target].max()
            ranks[u] = 1 + int(np.sum(scores[~target] > best))
    return ranks


# --------------------------------------------------------------------------- validation


@dataclass
class Validation:
    windows: np.ndarray  # (U, L) left-padded histories
    candidates: list[np.ndarray]  # per user: target first, then the negatives
    is_target: list[np.ndarray]


def build_validation(data: Dataset, max_len: int, negatives: int, seed: int) -> Validation:
    rng = np.random.default_rng([seed, 1])
    users = sorted((u for u, s in data.split.items() if s == "valid" and u in data.targets),
                   key=lambda u: (len(u), u))
    pools = {d: data.domain_items(d) for d in data.domains}
    histories, candidates, is_target = [], [], []
    for user in users:
        targets = data.targets[user]
        history = data.history[user]
        domain = data.domains[data.item_domain[targets[-1]]]
        pool = np.setdiff1d(pools[domain], np.concatenate([history, targets]), assume_unique=False)
        n = min(negatives, len(pool))
        sampled = rng.choice(pool, size=n, replace=False)
        candidates.append(np.concatenate([np.asarray(targets, dtype=np.int64), sampled]))
        is_target.append(np.arange(len(targets) + n) < len(targets))
        histories.append(history)
    return Validation(left_pad(histories, max_len), candidates, is_target)


def validate(model: SASRec, validation: Validation) -> dict[str, float]:
    model.eval()
    vectors = model.user_vectors(validation.windows)
    ranks = target_ranks(vectors, model.item_emb.weight.detach(), validation.candidates, validation.is_target)
    model.train()
    return metrics_of_ranks(ranks)


# --------------------------------------------------------------------------- training


def length_groups(lengths: np.ndarray, max_groups: int) -> list[np.ndarray]:
    """Split a batch into at most `max_groups` groups of similar length.

    Only for speed: each group is run trimmed to its own longest sequence,
    and as padding is masked out and the loss is summed over the whole batch
    before the one optimiser step, the gradient is that of the whole batch
    padded to one length. The split (contiguous in length order) minimises
    the padded cells, plus GROUP_COST cells per group for the fixed cost of
    running one.
    """
    order = np.argsort(lengths, kind="stable")
    widths, counts = np.unique(lengths, return_counts=True)
    m = len(widths)
    cum = np.concatenate([[0], np.cumsum(counts)])
    # cost[i, j]: one group of the distinct lengths i..j (0 <= i <= j < m)
    cost = (cum[None, 1:] - cum[:m, None]) * widths[None, :] + GROUP_COST
    cost = np.where(np.arange(m)[:, None] <= np.arange(m)[None, :], cost, np.inf)
    # best[g][j]: least cost of the first j distinct lengths in g + 1 groups
    best = [np.concatenate([[np.inf], cost[0]])]
    back = [np.zeros(m + 1, dtype=np.int64)]
    for _ in range(1, min(max_groups, m)):
        total = best[-1][:m, None] + cost  # total[i, j]: earlier groups up to i, then i..j
        arg = total.argmin(axis=0)
        best.append(np.concatenate([[np.inf], total[arg, np.arange(m)]]))
        back.append(np.concatenate([[0], arg]))
    g = int(np.argmin([b[m] for b in best]))
    cuts, j = [m], m
    for level in range(g, 0, -1):
        j = int(back[level][j])
        cuts.append(j)
    cuts = cum[np.asarray(cuts[::-1])]  # first user of each group after the first, then the end
    return np.split(order, cuts[:-1])


class NegativeSampler:
    """One negative per position, uniform over all items not in the user's sequence."""

    def __init__(self, sequences: list[np.ndarray], n_items: int, rng: np.random.Generator):
        self.n_items = n_items
        self.rng = rng
        stride = n_items + 1
        self.keys = np.unique(np.concatenate(
            [u * stride + np.asarray(seq, dtype=np.int64) for u, seq in enumerate(sequences)]))
        self.stride = stride

    def _taken(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.stride + items
        at = np.searchsorted(self.keys, keys).clip(max=len(self.keys) - 1)
        return self.keys[at] == keys

    def sample(self, users: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        rows = np.broadcast_to(users[:, None], shape)
        items = self.rng.integers(1, self.n_items + 1, size=shape)
        bad = self._taken(rows, items)
        while bad.any():
            items[bad] = self.rng.integers(1, self.n_items + 1, size=int(bad.sum()))
            bad = self._taken(rows, items)
        return items


def train(args: argparse.Namespace, data: Dataset, validation: Validation) -> tuple[SASRec, dict]:
    rng = np.random.default_rng(args.seed)
    L = args.max_len
    train_users = sorted((u for u, s in data.split.items() if s == "train" and len(data.history[u]) >= 2),
                         key=lambda u: (len(u), u))
    sequences = [data.history[u] for u in train_users]
    windows = left_pad(sequences, L + 1)  # inputs [:, :-1], next items [:, 1:]
    lengths = np.minimum(np.asarray([len(s) for s in sequences]), L + 1) - 1  # positions with a next item
    sampler = NegativeSampler(sequences, data.n_items, rng)
    log(f"train users {len(train_users)}, interactions {sum(len(s) for s in sequences)}, "
        f"training positions {int(lengths.sum())}, items {data.n_items}")

    model = SASRec(data.n_items, L, args.hidden, args.blocks, args.heads, args.dropout)
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.98))
    model.train()

    best = {"epoch": 0, "valid": None, "state": None}
    history = []
    evals_without_gain = 0
    stop_reason = "epochs"
    epoch_seconds = []
    start = time.perf_counter()
    epoch = 0
    over_budget = False
    while epoch < args.epochs:
        epoch += 1
        epoch_start = time.perf_counter()
        order = rng.permutation(len(train_users))
        total_loss, total_positions = 0.0, 0
        for b in range(0, len(order), args.batch_size):
            batch = order[b:b + args.batch_size]
            loss_sum = torch.zeros(())
            for group in length_groups(lengths[batch], args.length_groups):
                users = batch[group]
                width = int(lengths[users].max())  # trim the leading all-padding columns
                rows = windows[users][:, L - width:]
                inputs = torch.from_numpy(np.ascontiguousarray(rows[:, :-1]))
                positives = torch.from_numpy(np.ascontiguousarray(rows[:, 1:]))
                negatives = torch.from_numpy(sampler.sample(users, tuple(positives.shape)))
                hidden = model(inputs)
                pos_logits = (hidden * model.item_emb(positives)).sum(-1)
                neg_logits = (hidden * model.item_emb(negatives)).sum(-1)
                loss = (F.binary_cross_entropy_with_logits(pos_logits, torch.ones_like(pos_logits),
                                                           reduction="none")
                        + F.binary_cross_entropy_with_logits(neg_logits, torch.zeros_like(neg_logits),
                                                             reduction="none"))
                loss_sum = loss_sum + (loss * (positives != 0)).sum()
            n = int(lengths[batch].sum())
            loss = loss_sum / n  # the mean over the batch's non-padded positions
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            total_loss += float(loss_sum)
            total_positions += n
            if time.perf_counter() - start > args.budget_seconds:
                over_budget = True
                break
        epoch_seconds.append(time.perf_counter() - epoch_start)
        mean_loss = total_loss / max(total_positions, 1)
        if over_budget or epoch % args.eval_every == 0 or epoch == args.epochs:
            valid = validate(model, validation)
            history.append({"epoch": epoch, "loss": round(mean_loss, 5),
                            **{k: round(v, 5) for k, v in valid.items()},
                            "seconds": round(time.perf_counter() - start, 1)})
            improved = best["valid"] is None or valid["NDCG@10"] > best["valid"]["NDCG@10"]
            log(f"epoch {epoch:4d}  loss {mean_loss:.4f}  valid NDCG@10 {valid['NDCG@10']:.4f}  "
                f"HR@10 {valid['HR@10']:.4f}  {time.perf_counter() - start:7.1f}s" + ("  *" if improved else ""))
            if improved:
                best = {"epoch": epoch, "valid": valid,
                        "state": {k: v.detach().clone() for k, v in model.state_dict().items()}}
                evals_without_gain = 0
            else:
                evals_without_gain += 1
            if over_budget:
                stop_reason = "budget"
                break
            if evals_without_gain >= args.patience:
                stop_reason = "patience"
                break
    train_seconds = time.perf_counter() - start
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    full_epochs = epoch_seconds[:-1] if over_budget else epoch_seconds
    summary = {
        "train_users": len(train_users),
        "train_interactions": int(sum(len(s) for s in sequences)),
        "epochs_run": epoch,
        "stop_reason": stop_reason,
        "best_epoch": best["epoch"],
        "best_valid": best["valid"],
        "train_seconds": round(train_seconds, 1),
        "seconds_per_epoch": round(float(np.mean(full_epochs)), 2) if full_epochs else None,
        "validation_history": history,
    }
    return model, summary


# --------------------------------------------------------------------------- test


def read_candidates(path: Path, data: Dataset) -> tuple[list[str], list[str], list[np.ndarray], list[np.ndarray]]:
    """Users (file order), their target domain, candidate items and is_target flags."""
    items: dict[str, list[int]] = {}
    flags: dict[str, list[bool]] = {}
    domains: dict[str, str] = {}
    last_user = None
    with path.open(newline="", encoding="utf-8") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            user, item = row["user_id"], row["item_id"]
            if item not in data.item_index:
                sys.exit(f"{path}:{line}: unknown item {item!r}")
            if user not in data.history:
                sys.exit(f"{path}:{line}: user {user!r} is not in interactions.csv")
            if user != last_user and user in items:
                sys.exit(f"{path}:{line}: the rows of user {user!r} are not contiguous")
            last_user = user
            if domains.setdefault(user, row["domain"]) != row["domain"]:
                sys.exit(f"{path}:{line}: user {user!r} has two target domains")
            if row["is_target"] not in ("0", "1"):
                sys.exit(f"{path}:{line}: is_target must be 0 or 1")
            items.setdefault(user, []).append(data.item_index[item])
            flags.setdefault(user, []).append(row["is_target"] == "1")
    users = list(items)
    for user in users:
        if not any(flags[user]):
            sys.exit(f"{path}: user {user!r} has no is_target=1 row")
    return (users, [domains[u] for u in users], [np.asarray(items[u], dtype=np.int64) for u in users],
            [np.asarray(flags[u], dtype=bool) for u in users])


def evaluate_file(model: SASRec, data: Dataset, path: Path) -> dict:
    users, domains, candidates, is_target = read_candidates(path, data)
    windows = left_pad([data.history[u] for u in users], model.max_len)
    vectors = model.user_vectors(windows)
    ranks = target_ranks(vectors, model.item_emb.weight.detach(), candidates, is_target)
    sizes = [len(c) for c in candidates]
    return {
        "candidates": str(path),
        "domain": ",".join(sorted(set(domains))),
        "users": len(users),
        "candidates_per_user": {"min": min(sizes), "max": max(sizes)} if sizes else None,
        "users_with_several_targets": int(sum(int(t.sum()) > 1 for t in is_target)),
        "users_without_history": int(sum(len(data.history[u]) == 0 for u in users)),
        "users_in_train_split": int(sum(data.split[u] == "train" for u in users)),
        "metrics": {k: round(v, 5) for k, v in metrics_of_ranks(ranks).items()},
    }


def table(results: list[dict]) -> str:
    names = [f"HR@{k}" for k in HR_KS] + [f"NDCG@{k}" for k in NDCG_KS] + ["MRR"]
    header = f"{'candidates':<32} {'domain':<10} {'users':>6} " + " ".join(f"{n:>8}" for n in names)
    lines = [header, "-" * len(header)]
    for r in results:
        label = Path(r["candidates"]).name
        label = label if len(label) <= 32 else "…" + label[-31:]
        lines.append(f"{label:<32} {r['domain']:<10} {r['users']:>6} "
                     + " ".join(f"{r['metrics'][n]:>8.4f}" for n in names))
    return "\n".join(lines)


# --------------------------------------------------------------------------- main


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except the empty ones."""

    def _get_help_string(self, action: argparse.Action) -> str:
        if action.default is None or action.default == []:
            return action.help or ""
        return super()._get_help_string(action)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=_HelpFormatter)
    p.add_argument("--dataset", type=Path,
                   help="dataset folder (default: ../shared/data/amazon-food-kitchen from the repository root)")
    p.add_argument("--candidates", type=Path, action="append", default=[],
                   help="a candidates CSV written by crossrec eval --write-candidates (repeatable)")
    p.add_argument("--out", type=Path, help="JSON report file (default: stdout)")
    p.add_argument("--max-len", type=int, default=50, help="window length L (the paper uses 50 or 200)")
    p.add_argument("--hidden", type=int, default=64, help="hidden size d")
    p.add_argument("--blocks", type=int, default=2, help="self-attention blocks")
    p.add_argument("--heads", type=int, default=1, help="attention heads")
    p.add_argument("--dropout", type=float, default=0.2, help="dropout rate")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate")
    p.add_argument("--batch-size", type=int, default=128, help="users per batch")
    p.add_argument("--epochs", type=int, default=200, help="most epochs")
    p.add_argument("--eval-every", type=int, default=5, help="validate every this many epochs")
    p.add_argument("--patience", type=int, default=5,
                   help="stop after this many validations without a better NDCG@10")
    p.add_argument("--budget-seconds", type=float, default=1800.0, help="training time budget")
    p.add_argument("--length-groups", type=int, default=4,
                   help="run each batch as at most this many groups of similar length (speed only: "
                        "same gradient as the batch padded to one length)")
    p.add_argument("--valid-negatives", type=int, default=999,
                   help="negatives per validation user, from the target's domain")
    p.add_argument("--seed", type=int, default=42, help="seed of torch, numpy and random")
    p.add_argument("--threads", type=int, help="torch CPU threads (default: all cores)")
    args = p.parse_args(argv)
    if args.threads is None:
        args.threads = os.cpu_count() or 1
    if args.dataset is None:
        args.dataset = DEFAULT_DATASET.resolve()
    for name in ("max_len", "hidden", "blocks", "heads", "batch_size", "epochs", "eval_every", "patience",
                 "valid_negatives", "threads", "length_groups"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not 0 <= args.dropout < 1:
        p.error("--dropout must be in [0, 1)")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)

    data = load_dataset(args.dataset)
    validation = build_validation(data, args.max_len, args.valid_negatives, args.seed)
    log(f"dataset {args.dataset}: {data.n_items} items ({', '.join(data.domains)}), "
        f"{len(validation.candidates)} valid users; torch {torch.__version__}, {args.threads} threads")
    model, summary = train(args, data, validation)
    results = [evaluate_file(model, data, path) for path in args.candidates]

    report = {
        "model": "SASRec (Kang & McAuley 2018)",
        "peer_for": "crossrec eval --protocol given --candidates sampled:999 --write-candidates",
        "rank": "1 + number of candidates scoring strictly higher than the best-scoring target",
        "torch": torch.__version__,
        "dataset": str(args.dataset),
        "seed": args.seed,
        "threads": args.threads,
        "config": {k: getattr(args, k) for k in ("max_len", "hidden", "blocks", "heads", "dropout", "lr",
                                                 "batch_size", "epochs", "eval_every", "patience",
                                                 "budget_seconds", "valid_negatives", "length_groups")},
        "items": data.n_items,
        "valid_users": len(validation.candidates),
        **summary,
        "test": results,
    }
    log(f"stopped: {summary['stop_reason']} after {summary['epochs_run']} epochs, "
        f"{summary['train_seconds']}s ({summary['seconds_per_epoch']}s/epoch); best epoch {summary['best_epoch']}")
    if results:
        log(table(results))
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    else:
        print(text)


if __name__ == "__main__":
    main()
