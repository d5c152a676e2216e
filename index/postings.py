"""Postings from tokens: build them in bulk or patch them for a changed set of paragraphs.

A posting list is two parallel arrays: docnos (uint32, ascending) and term frequencies
(uint16). No I/O here.

Bulk inversion works in two steps so that the per-token work can run in worker processes:
`chunk_postings` turns a run of consecutive documents into postings with chunk-local term ids
(one dictionary lookup per token, the rest numpy), and a `PostingsBuilder` maps each chunk's few
thousand distinct terms to global ids and merges the chunks with numpy, never looping in Python
over postings.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U32 = npt.NDArray[np.uint32]
U16 = npt.NDArray[np.uint16]
I64 = npt.NDArray[np.int64]
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


@dataclass(frozen=True)
class ChunkPostings:
    """The postings of a run of consecutive documents, grouped by chunk-local term id.

    Term `i` (`terms[i]`) has the postings `starts[i]:starts[i + 1]` of `docs` (document index
    within the chunk, ascending) and `tfs`.
    """

    terms: list[str]
    starts: I64  # len(terms) + 1 offsets
    docs: U32
    tfs: U16
    lengths: U32  # tokens per document (BM25 document length)

    @property
    def documents(self) -> int:
        return len(self.lengths)


def term_frequencies(tokens: Iterable[str]) -> Counter[str]:
    return Counter(tokens)


def chunk_postings(docs: Sequence[Sequence[str]]) -> ChunkPostings:
    """Postings of `docs` (token lists of consecutive documents)."""
    lengths = np.fromiter(map(len, docs), dtype=np.uint32, count=len(docs))
    flat = list(itertools.chain.from_iterable(docs))
    terms = list(dict.fromkeys(flat))
    ids = {t: i for i, t in enumerate(terms)}
    n_docs = max(len(docs), 1)
    tid = np.fromiter(map(ids.__getitem__, flat), dtype=np.int64, count=len(flat))
    doc = np.repeat(np.arange(len(docs), dtype=np.int64), lengths)
    # one key per token, term-major: sorting groups a term's postings, in document order
    keys, counts = np.unique(tid * n_docs + doc, return_counts=True)
    term_of = keys // n_docs
    starts = np.searchsorted(term_of, np.arange(len(terms) + 1))
    return ChunkPostings(
        terms=terms,
        starts=starts.astype(np.int64),
        docs=(keys - term_of * n_docs).astype(np.uint32),
        tfs=np.minimum(counts, TF_MAX).astype(np.uint16),
        lengths=lengths,
    )


class PostingsBuilder:
    """Merges chunks (added in ascending docno order) into posting lists, in term order."""

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._docnos: list[U32] = []
        self._tfs: list[U16] = []
        self._seg_term: list[U32] = []  # one segment per (chunk, term)
        self._seg_len: list[I64] = []
        self._last_docno = -1

    @property
    def postings(self) -> int:
        return sum(len(d) for d in self._docnos)

    def add(self, chunk: ChunkPostings, first_docno: int) -> None:
        """Add `chunk`, whose document i is `first_docno + i`."""
        if not len(chunk.docs):
            return
        if first_docno <= self._last_docno:
            raise ValueError("chunks must come in ascending docno order")
        self._last_docno = first_docno + chunk.documents - 1
        vocab = self._vocab
        gids = np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in chunk.terms),
            dtype=np.uint32,
            count=len(chunk.terms),
        )
        self._docnos.append(chunk.docs + np.uint32(first_docno))
        self._tfs.append(chunk.tfs)
        self._seg_term.append(gids)
        self._seg_len.append(np.diff(chunk.starts))

    def lists(self) -> Iterator[PostingList]:
        """Every posting list, in term order; the builder is emptied."""
        if not self._docnos:
            return
        docnos = np.concatenate(self._docnos)
        tfs = np.concatenate(self._tfs)
        seg_term = np.concatenate(self._seg_term)
        seg_len = np.concatenate(self._seg_len)
        terms = list(self._vocab)
        self.__init__()  # type: ignore[misc]
        seg_start = np.cumsum(seg_len) - seg_len
        # Segments by term, chunks in order (a stable sort): each term's docnos stay ascending.
        order = np.argsort(seg_term, kind="stable")
        seg_term, seg_len, seg_start = seg_term[order], seg_len[order], seg_start[order]
        new_start = np.cumsum(seg_len) - seg_len
        take = np.repeat(seg_start - new_start, seg_len) + np.arange(len(docnos))
        docnos, tfs = docnos[take], tfs[take]
        del take
        first = np.flatnonzero(np.r_[True, seg_term[1:] != seg_term[:-1]])
        bounds = np.r_[new_start[first], len(docnos)].tolist()
        gids = seg_term[first].tolist()
        for rank in sorted(range(len(gids)), key=lambda r: terms[gids[r]]):
            start, end = bounds[rank], bounds[rank + 1]
            yield PostingList(terms[gids[rank]], docnos[start:end], tfs[start:end])


def invert(docs: Iterable[tuple[int, list[str]]]) -> Iterator[PostingList]:
    """All posting lists of (docno, tokens) pairs, in term order; docnos may come in any order."""
    pairs = sorted(docs, key=lambda d: d[0])
    if not pairs:
        return
    docnos = np.fromiter((d for d, _ in pairs), dtype=np.int64, count=len(pairs))
    if len(docnos) > 1 and not bool(np.all(docnos[1:] > docnos[:-1])):
        raise ValueError("docnos must be distinct")
    chunk = chunk_postings([toks for _, toks in pairs])
    for i, term in enumerate(chunk.terms):
        start, end = chunk.starts[i], chunk.starts[i + 1]
        yield PostingList(
            term, docnos[chunk.docs[start:end]].astype(np.uint32), chunk.tfs[start:end]
        )


def patch(old: PostingList | None, removed: U32, added: PostingList | None) -> PostingList:
    """`old` without the docnos in `removed`, plus `added` (whose docnos are all new)."""
    if old is None:
        docnos, tfs = np.zeros(0, np.uint32), np.zeros(0, np.uint16)
        term = added.term if added is not None else ""
    else:
        docnos, tfs, term = old.docnos, old.tfs, old.term
        if len(removed) and len(docnos):
            pos = _present(docnos, np.asarray(removed, dtype=np.uint32))
            if len(pos):
                docnos, tfs = np.delete(docnos, pos), np.delete(tfs, pos)
    if added is not None:
        docnos = np.concatenate((docnos, added.docnos))
        tfs = np.concatenate((tfs, added.tfs))
        if len(docnos) > 1 and not bool(np.all(docnos[1:] > docnos[:-1])):
            order = np.argsort(docnos, kind="stable")
            docnos, tfs = docnos[order], tfs[order]
    return PostingList(term, docnos.astype(np.uint32), tfs.astype(np.uint16))


def _present(sorted_docnos: U32, wanted: U32) -> npt.NDArray[np.intp]:
    """Positions in `sorted_docnos` of the values of `wanted` it holds."""
    pos = np.searchsorted(sorted_docnos, wanted)
    inside = pos < len(sorted_docnos)
    pos, vals = pos[inside], wanted[inside]
    return pos[sorted_docnos[pos] == vals]
