"""The genre vocabulary: the 18 standard TMDB genres, in one place.

Every model, metric and table orders genres as `GENRES` does; a genre's index here is its
column in every probability array the project produces.
"""

from __future__ import annotations

GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Family",
    "Fantasy",
    "History",
    "Horror",
    "Music",
    "Mystery",
    "Romance",
    "Science Fiction",
    "Thriller",
    "War",
    "Western",
)

GENRE_INDEX: dict[str, int] = {name: i for i, name in enumerate(GENRES)}

# Names TMDB puts in `genres` that are not genres of the vocabulary: the sources drop them.
IGNORED_TMDB_NAMES: frozenset[str] = frozenset({"TV Movie", "Foreign"})


def genre_vector(names: list[str] | tuple[str, ...] | set[str]) -> list[int]:
    """A 0/1 list over `GENRES` for these genre names; names outside the vocabulary are ignored."""
    present = set(names)
    return [1 if genre in present else 0 for genre in GENRES]


def genre_mask(names: list[str] | tuple[str, ...] | set[str]) -> int:
    """Genres as one integer, bit `i` for `GENRES[i]` (how the store keeps label sets)."""
    return sum(1 << GENRE_INDEX[name] for name in set(names) if name in GENRE_INDEX)


def genres_of_mask(mask: int | None) -> list[str]:
    """The genre names of a mask, in vocabulary order (an empty list for None)."""
    return [genre for i, genre in enumerate(GENRES) if mask and mask >> i & 1]
