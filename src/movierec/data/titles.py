"""Forgiving title matching: find a movie the way a person types it.

MovieLens writes ``Matrix, The (1999)`` and ``Haine, La (1995)``; people type "the matrix",
"La Haine" or "Toy Story (1995)". Every title is reduced once to a few *keys* (vectorized,
with pandas string methods), so a lookup is a dict hit and a search a few n-gram index
lookups, however large the catalog:

- accents folded to ASCII, lower case, ``&`` read as ``and``;
- a trailing article that MovieLens moved (``, The``, ``, La``, ``, Das``, ``, L'`` ...) goes
  back in front, then a leading English article (the/a/an) is dropped, so "Matrix, The",
  "The Matrix" and "matrix" share a key; foreign articles stay ("das boot", "la haine");
- apostrophes and periods vanish ("A.I." -> "ai"), other punctuation becomes a space;
- the year in parentheses is kept apart and only narrows the match when given;
- alternate titles in parentheses ("Seven (a.k.a. Se7en)", "Hate (Haine, La)") are keys too.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from functools import cached_property

import numpy as np
import pandas as pd

from ..errors import UnknownIdError
from .catalog import YEAR_SUFFIX, Catalog

# Articles MovieLens moves behind a comma ("Boot, Das"); only English ones are dropped from keys.
_MOVED_ARTICLES = "the|a|an|le|la|les|l'|il|lo|gli|i|el|los|las|das|der|die|un|une|una|uno"
# One list of regex steps, applied by pandas to the whole catalog and by `re` to one query,
# so both sides of a lookup are normalized by the same rules.
_STEPS: tuple[tuple[str, str], ...] = (
    (rf"^(.*?),\s*({_MOVED_ARTICLES})\s*$", r"\2 \1"),  # "matrix, the" -> "the matrix"
    (r"^l'\s+", "l'"),
    ("&", " and "),
    (r"['’`.]", ""),  # "schindler's" -> "schindlers", "a.i." -> "ai"
    (r"[^a-z0-9]+", " "),
    (r"^ | $", ""),
    (r"^(?:the|a|an) ", ""),  # "the matrix" -> "matrix" (a lone "the" stays: no space after it)
)
_COMPILED = tuple((re.compile(pattern), repl) for pattern, repl in _STEPS)
_YEAR_RE = re.compile(YEAR_SUFFIX)
_PAREN = r"\(([^()]*)\)"
_N_CANDIDATES = 5


def normalize(titles: pd.Series) -> pd.Series:
    """Match keys of title segments (no year), vectorized: see the module docstring."""
    s = titles.astype(str).str.normalize("NFKD").str.encode("ascii", "ignore").str.decode("ascii")
    s = s.str.lower().str.strip()
    for pattern, repl in _STEPS:
        s = s.str.replace(pattern, repl, regex=True)
    return s


def normalize_one(title: str) -> str:
    """:func:`normalize` for a single string, without pandas overhead (lookups take microseconds)."""
    s = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower().strip()
    for pattern, repl in _COMPILED:
        s = pattern.sub(repl, s)
    return s


_MOVED_BACK = re.compile(rf"^(.*?), ({_MOVED_ARTICLES})$", re.IGNORECASE)


def short_title(title: str) -> str:
    """A title as people say it, for labels: "Matrix, The (1999)" -> "The Matrix".

    Drops the year and alternate titles in parentheses and puts a moved article back in front.
    """
    main = re.sub(r"\s+\([^()]*\)", "", _split_year_one(title)[0]).strip() or title
    match = _MOVED_BACK.match(main)
    if match:
        article = match.group(2)
        main = f"{article}{'' if article.endswith(chr(39)) else ' '}{match.group(1)}"
    return main


def split_year(titles: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Titles without their trailing ``(YYYY)``, and the year (0 when absent)."""
    titles = titles.astype(str).str.strip()
    year = pd.to_numeric(titles.str.extract(YEAR_SUFFIX, expand=False), errors="coerce").fillna(0)
    return titles.str.replace(YEAR_SUFFIX, "", regex=True), year.to_numpy(np.int64)


def _split_year_one(title: str) -> tuple[str, int]:
    match = _YEAR_RE.search(title)
    return (title[: match.start()], int(match.group(1))) if match else (title, 0)


class TitleIndex:
    """Title -> movie lookups over a :class:`Catalog`.

    ``counts`` (ratings per catalog row, optional) breaks ties in :meth:`search` in favour of
    well-known movies. Lookups never loop over the catalog: :meth:`find` is a dict hit and
    :meth:`search` a few :class:`NgramIndex` posting lists (0.3 ms on ml-latest-small, where
    a scan of every key took 3 ms).
    """

    def __init__(self, catalog: Catalog, counts: np.ndarray | None = None):
        self.catalog = catalog
        n = len(catalog)
        self.counts = np.zeros(n, np.int64) if counts is None else np.asarray(counts, np.int64)
        if self.counts.shape != (n,):
            raise ValueError(f"counts must have one entry per catalog movie ({n}), got shape {self.counts.shape}")
        base, self._years = split_year(pd.Series(catalog.titles, dtype=object))
        main = base.str.replace(_PAREN, " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
        alts = base.str.extractall(_PAREN)[0]
        alt_rows = alts.index.get_level_values(0).to_numpy(np.int64)
        alts = alts.str.replace(r"^\s*a\.?k\.?a\.?\s*", "", regex=True)
        rows = np.arange(n, dtype=np.int64)
        # Key kinds, best first: the main title, the whole title as written, alternate titles.
        written = pd.concat([main, base, alts], ignore_index=True)
        codes, uniques = pd.factorize(written)  # main and base are mostly equal: normalize once
        keys = normalize(pd.Series(uniques, dtype=object)).to_numpy(object)[codes]
        key_rows = np.concatenate([rows, rows, alt_rows])
        kind = np.repeat(np.arange(3, dtype=np.int8), [n, n, alt_rows.size])
        frame = pd.DataFrame({"key": keys, "row": key_rows, "kind": kind})
        frame = frame[frame["key"] != ""].drop_duplicates(["key", "row"])
        key_ids, unique_keys = pd.factorize(frame["key"])
        # (key, row, kind) entries sorted by key id: key k owns _key_start[k]:_key_start[k + 1].
        order = np.argsort(key_ids, kind="stable")
        self._key_rows = frame["row"].to_numpy(np.int64)[order]
        self._key_kind = frame["kind"].to_numpy(np.int8)[order]
        self._key_start = np.searchsorted(key_ids[order], np.arange(len(unique_keys) + 1))
        self._unique_keys = [str(k) for k in unique_keys]
        self._key_id = {k: i for i, k in enumerate(self._unique_keys)}
        self._grams = NgramIndex(self._unique_keys)

    def __len__(self) -> int:
        return len(self.catalog)

    @cached_property
    def _title_rank(self) -> np.ndarray:
        """Alphabetical rank of each title: the last tie-break of :meth:`search`."""
        return pd.Series(self.catalog.titles, dtype=object).rank(method="first").to_numpy(np.int64)

    # -- exact lookup ------------------------------------------------------------------------
    def find(self, query: str | int) -> int:
        """The MovieLens id of the one movie ``query`` names (a title or a numeric id).

        A string of digits is read as a movie id first ("260"); a title that is only digits
        ("300") needs its year: "300 (2007)". Raises :class:`UnknownIdError` with the
        closest titles as ``candidates`` when nothing or more than one movie matches.
        """
        text = str(query).strip()
        as_id = text.isascii() and text.isdigit() and int(text) <= np.iinfo(np.int64).max  # "²" and 10^20 are no ids
        if as_id:
            row = int(self.catalog.rows(np.array([int(text)]))[0])
            if row >= 0:
                return int(self.catalog.movie_ids[row])
        if not text:
            raise UnknownIdError("expected a movie title or id, got an empty string")
        base, year = _split_year_one(text)
        key = normalize_one(base)
        key_id = self._key_id.get(key)
        if key_id is None:
            candidates = self._closest(text, key)
            what = f"no movie with id {text} or titled {text!r}" if as_id else f"no movie titled {text!r}"
            raise UnknownIdError(what + (f"; closest: {'; '.join(candidates)}" if candidates else ""), candidates)
        entries = slice(self._key_start[key_id], self._key_start[key_id + 1])
        rows, kinds = self._key_rows[entries], self._key_kind[entries]
        if year:
            matching = self._years[rows] == year
            if not matching.any():
                candidates = self._titles(np.unique(rows))
                raise UnknownIdError(
                    f"no movie titled {base.strip()!r} from {year}; did you mean: {'; '.join(candidates)}", candidates
                )
            rows, kinds = rows[matching], kinds[matching]
        best = np.unique(rows[kinds == kinds.min()])
        if best.size > 1:
            order = np.argsort(-self.counts[best], kind="stable")
            candidates = self._titles(best[order])
            raise UnknownIdError(
                f"{text!r} matches {best.size} movies: {'; '.join(candidates)}; add the year or use the movie id",
                candidates,
            )
        return int(self.catalog.movie_ids[best[0]])

    def _titles(self, rows: np.ndarray) -> list[str]:
        return [str(t) for t in self.catalog.titles[rows[:_N_CANDIDATES * 2]]]

    def _closest(self, query: str, key: str) -> list[str]:
        """Titles closest to an unmatched query: search hits first, else difflib for typos."""
        rows = self.search(query, limit=_N_CANDIDATES)
        if rows or not key:
            return self._titles(np.asarray(rows, np.int64))
        pool = self._unique_keys
        if len(pool) > 5000:  # difflib is quadratic-ish: keep keys sharing a 3-letter start
            starts = [w[:3] for w in key.split() if len(w) >= 3] or [key[:3]]
            ids = np.unique(np.concatenate([self._grams.containing(w) for w in starts]))
            pool = [pool[i] for i in ids.tolist()] or pool
        keys = difflib.get_close_matches(key, pool, n=_N_CANDIDATES, cutoff=0.6)
        if len(keys) < _N_CANDIDATES:  # a typo in the first words of a long title ("shawshenk")
            starts: dict[str, list[str]] = {}
            for k in pool:
                starts.setdefault(k[: len(key)], []).append(k)
            close = difflib.get_close_matches(key, list(starts), n=_N_CANDIDATES, cutoff=0.75)
            keys += [k for start in close for k in starts[start] if k not in keys][: _N_CANDIDATES - len(keys)]
        if not keys:
            return []
        key_ids = np.array([self._key_id[k] for k in keys], np.int64)
        rows = self._key_rows[self._entries(key_ids)]
        rows = rows[np.sort(np.unique(rows, return_index=True)[1])]  # keep closeness order
        return self._titles(rows)[:_N_CANDIDATES]

    def _entries(self, key_ids: np.ndarray) -> np.ndarray:
        """Positions of the (key, row, kind) entries of these keys, key by key."""
        lo = self._key_start[key_ids]
        lengths = self._key_start[key_ids + 1] - lo
        return np.repeat(lo - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())

    # -- search --------------------------------------------------------------------------------
    def search(self, query: str, limit: int = 20, offset: int = 0) -> list[int]:
        """Catalog rows matching ``query``, best first.

        Tiers: same title, title starts with the query, a word starts with it, every query
        word appears somewhere; within a tier, more-rated movies first, then by title.
        A ``(YYYY)`` in the query keeps that year only. An empty query lists every movie,
        most-rated first.
        """
        if limit < 0 or offset < 0:
            raise ValueError(f"limit and offset must be >= 0, got limit={limit}, offset={offset}")
        base, year = _split_year_one(str(query))
        q = normalize_one(base)
        if not q:
            rows = np.arange(len(self.catalog))
            tier = np.zeros(rows.size, np.int8)
        else:
            rows, tier = self._matches(q)
        if year:
            keep = self._years[rows] == year
            rows, tier = rows[keep], tier[keep]
        order = np.lexsort((self._title_rank[rows], -self.counts[rows], tier))
        return rows[order][offset : offset + limit].astype(np.int64).tolist()

    def _matches(self, q: str) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose keys hold every word of the normalized query ``q``, with their best tier."""
        words = q.split()
        key_ids = self._grams.containing(words[0])
        for word in words[1:]:
            key_ids = np.intersect1d(key_ids, self._grams.containing(word), assume_unique=True)
        key_tier = np.full(key_ids.size, 3, np.int8)  # every word appears somewhere
        key_tier[np.searchsorted(key_ids, self._grams.containing(" " + q))] = 2  # a word starts with q
        key_tier[np.searchsorted(key_ids, self._grams.starting(q))] = 1
        exact = self._key_id.get(q)
        if exact is not None:
            key_tier[np.searchsorted(key_ids, exact)] = 0
        entries = self._entries(key_ids)
        per_key = self._key_start[key_ids + 1] - self._key_start[key_ids]
        rows, tier = self._key_rows[entries], np.repeat(key_tier, per_key)
        order = np.lexsort((tier, rows))  # a movie with several matching keys keeps its best tier
        rows, tier = rows[order], tier[order]
        first = _first_of_runs(rows)
        return rows[first], tier[first]


def _first_of_runs(values: np.ndarray) -> np.ndarray:
    """Mask of the first element of each run of equal values (np.unique on sorted data, faster)."""
    first = np.ones(values.size, bool)
    first[1:] = values[1:] != values[:-1]
    return first


class NgramIndex:
    """Which strings contain (or start with) a given substring, without scanning them all.

    An inverted index from every gram of 1 to 4 characters to the sorted ids of the strings
    holding it, built with vectorized NumPy. A pattern of up to four characters is one
    posting list; a longer one intersects the lists of its 4-grams, shortest first, then
    confirms the few candidates left. Each string is indexed behind a start mark, so
    :meth:`starting` is a lookup too. Strings must be ASCII without control characters
    (normalized title keys are).
    """

    _START, _END, _GRAM = "\x02", "\n", 4

    def __init__(self, strings: list[str]):
        self.strings = [self._START + s for s in strings]
        raw = "".join(s + self._END for s in self.strings).encode("ascii")
        text = np.frombuffer(raw, np.uint8).astype(np.int64)
        owner = np.repeat(np.arange(len(strings), dtype=np.int64), [len(s) + 1 for s in self.strings])
        codes, owners = [], []
        for size in range(1, self._GRAM + 1):
            n = max(text.size - size + 1, 0)
            code = np.full(n, size << 32, np.int64)
            ok = np.ones(n, bool)
            for j in range(size):
                code |= text[j : j + n] << (8 * j)
                ok &= text[j : j + n] != ord(self._END)
            codes.append(code[ok])
            owners.append(owner[:n][ok])
        width = max(len(strings), 1)
        pairs = np.sort(np.concatenate(codes) * width + np.concatenate(owners))  # (gram, owner) pairs
        pairs = pairs[_first_of_runs(pairs)]
        self._owners = (pairs % width).astype(np.int32)
        gram_codes = pairs // width
        self._start = np.append(np.flatnonzero(_first_of_runs(gram_codes)), gram_codes.size)
        self._codes = gram_codes[self._start[:-1]]

    def _posting(self, gram: bytes) -> np.ndarray:
        code = (len(gram) << 32) | int.from_bytes(gram, "little")
        i = int(np.searchsorted(self._codes, code))
        if i == self._codes.size or self._codes[i] != code:
            return self._owners[:0]
        return self._owners[self._start[i] : self._start[i + 1]]

    def containing(self, pattern: str) -> np.ndarray:
        """Sorted ids of the strings containing ``pattern`` (ASCII)."""
        raw, g = pattern.encode("ascii"), self._GRAM
        if len(raw) <= g:
            return self._posting(raw)
        lists = sorted((self._posting(raw[i : i + g]) for i in range(len(raw) - g + 1)), key=len)
        ids = lists[0]
        for other in lists[1:]:
            if not ids.size:
                break
            ids = np.intersect1d(ids, other, assume_unique=True)
        keep = np.fromiter((pattern in self.strings[i] for i in ids.tolist()), bool, ids.size)
        return ids[keep]

    def starting(self, prefix: str) -> np.ndarray:
        """Sorted ids of the strings starting with ``prefix``."""
        return self.containing(self._START + prefix)
