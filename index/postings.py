"""Postings from tokens: build them in bulk or patch them for a changed set of paragraphs.

A posting list is two parallel arrays: docnos (uint32, ascending) and term frequencies
(uint16). No I/O here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
U16 = npt.NDArray[np.uint16]
TF_MAX = np.iinfo(np.uint16).max


@dataclass(frozen=True)
class PostingList:
    term: str
    docnos: U32
    tfs: U16

    @property
    def df(self) -> int:
        return len(self.docnos)

    @property
    def max_tf(self) -> int:
        return int(self.tfs.max()) if len(self.tfs) else 0


def term_frequencies(tokens: Iterable[str]) -> Counter[str]:
    return Counter(tokens)


def invert(docs: Iterable[tuple[int, list[str]]]) -> Iterator[PostingList]:
    """All posting lists of (docno, tokens) pairs, in term order; docnos may come in any order."""
    vocab: dict[str, int] = {}
    term_ids: list[int] = []
    docnos: list[int] = []
    tfs: list[int] = []
    for docno, tokens in docs:
        for term, tf in Counter(tokens).items():
            tid = vocab.get(term)
            if tid is None:
                tid = vocab[term] = len(vocab)
            term_ids.append(tid)
            docnos.append(docno)
            tfs.append(tf)
    if not vocab:
        return
    tid_arr = np.asarray(term_ids, dtype=np.uint32)
    doc_arr = np.asarray(docnos, dtype=np.uint32)
    tf_arr = np.minimum(np.asarray(tfs, dtype=np.int64), TF_MAX).astype(np.uint16)
    del term_ids, docnos, tfs
    order = np.lexsort((doc_arr, tid_arr))
    tid_arr, doc_arr, tf_arr = tid_arr[order], doc_arr[order], tf_arr[order]
    bounds = np.flatnonzero(np.diff(tid_arr)) + 1
    starts = np.concatenate(([0], bounds))
    ends = np.concatenate((bounds, [len(tid_arr)]))
    terms = list(vocab)
    for start, end in zip(starts.tolist(), ends.tolist(), strict=True):
        yield PostingList(terms[int(tid_arr[start])], doc_arr[start:end], tf_arr[start:end])


def patch(old: PostingList | None, removed: U32, added: PostingList | None) -> PostingList:
    """`old` without the docnos in `removed`, plus `added` (whose docnos are all new)."""
    if old is None:
        docnos, tfs = np.zeros(0, np.uint32), np.zeros(0, np.uint16)
        term = added.term if added is not None else ""
    else:
        keep = ~np.isin(old.docnos, removed, assume_unique=True)
        docnos, tfs, term = old.docnos[keep], old.tfs[keep], old.term
    if added is not None:
        docnos = np.concatenate((docnos, added.docnos))
        tfs = np.concatenate((tfs, added.tfs))
        if len(docnos) > 1 and not bool(np.all(docnos[1:] > docnos[:-1])):
            order = np.argsort(docnos, kind="stable")
            docnos, tfs = docnos[order], tfs[order]
    return PostingList(term, docnos.astype(np.uint32), tfs.astype(np.uint16))
