#!/usr/bin/env python3
"""Build python/ferrotext/data/20newsgroups-demo.jsonl.gz, the embedded demo corpus.

Reproducible: the same input files give a byte-identical output.

    python scripts/make_demo_corpus.py [--source ../shared/data/20newsgroups] [--per-group 150]

Steps: read the 11,314 raw *train* posts of 20 Newsgroups (bydate); strip headers, signatures
and quoted lines exactly as ``fetch_20newsgroups(remove=('headers', 'footers', 'quotes'))``
does (ferrotext.datasets' reimplementation, tested against scikit-learn's); drop posts left
with fewer than MIN_CHARS non-space characters; draw ``--per-group`` posts per newsgroup
uniformly at random with numpy's RandomState(SEED); write them sorted by (newsgroup, post id)
as gzipped JSON lines ``{"id", "label", "text"}`` with a fixed gzip header (mtime 0).
"""

from __future__ import annotations

import argparse
import gzip
import importlib.util
import io
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def _datasets_module():
    """ferrotext/datasets.py loaded on its own: works without building the Rust extension."""
    spec = importlib.util.spec_from_file_location("_ferrotext_datasets", REPO / "python" / "ferrotext" / "datasets.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ds = _datasets_module()

SEED = 20_1993
MIN_CHARS = 50
OUT = REPO / "python" / "ferrotext" / "data" / "20newsgroups-demo.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "20newsgroups")
    ap.add_argument("--per-group", type=int, default=150)
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()

    records = ds.read_jsonl_gz(args.source / "20news-bydate-train.jsonl.gz")
    by_group: dict[str, list[dict]] = {}
    for rec in sorted(records, key=lambda r: (r["label"], int(r["id"]))):
        text = ds.strip_newsgroup_quoting(ds.strip_newsgroup_footer(ds.strip_newsgroup_header(rec["text"])))
        if len("".join(text.split())) >= MIN_CHARS:
            by_group.setdefault(rec["label"], []).append({"id": int(rec["id"]), "label": rec["label"], "text": text})

    rng = np.random.RandomState(SEED)
    chosen = []
    for label in sorted(by_group):
        posts = by_group[label]
        picks = sorted(rng.choice(len(posts), size=min(args.per_group, len(posts)), replace=False))
        chosen.extend(posts[i] for i in picks)

    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        for rec in chosen:
            gz.write((json.dumps(rec, ensure_ascii=False) + "\n").encode("utf-8"))
    args.out.write_bytes(buf.getvalue())
    raw = sum(len(json.dumps(r, ensure_ascii=False).encode("utf-8")) + 1 for r in chosen)
    print(f"wrote {args.out}: {len(chosen)} posts in {len(by_group)} groups, "
          f"{raw / 1e6:.2f} MB raw, {len(buf.getvalue()) / 1e6:.2f} MB gzipped")


if __name__ == "__main__":
    main()
