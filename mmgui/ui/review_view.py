"""What the Review tab shows of an item, of the editor's progress and of their own trail:
plain formatting of the queue's views, so the tab module holds layout and wiring alone."""

from __future__ import annotations

from PIL import Image

from mmgui.config import Settings
from mmgui.data.image import load_image
from mmgui.genres import GENRES
from mmgui.serve.cursor import QueueCursor
from mmgui.store.enums import DecisionAction
from mmgui.store.views import ItemView, RecentDecision

ANY_GENRE = "(any genre)"  # the genre filter's choice that filters on no genre
POSTER_DISPLAY = (760, 760)
BROWSER_FORMATS = (".jpg", ".jpeg", ".png", ".webp", ".gif")
GENRE_KEYS = "abcdefghijklmnopqr"  # review_keys.js toggles GENRES[i] with GENRE_KEYS[i]
HISTORY_COLUMNS = [
    "when (UTC)", "who", "action", "before", "after", "model", "seconds", "comment",
]  # fmt: skip
RECENT_COLUMNS = ["when (UTC)", "item", "action", "labels after"]
KEYS_HELP = """| key | does |
|---|---|
| Enter | save: *accept* if you changed nothing, else *correct* |
| s / x | skip / discard |
| z | undo your last decision |
| ← / → | previous / next item (unsaved toggles are kept as a draft) |
| a … r | toggle the genres in the order shown (the key is on each toggle) |
| ? | show or hide this help |

Keys typed into a text field (search, comment) are left alone."""
PAST = {
    DecisionAction.ACCEPT: "Accepted",
    DecisionAction.CORRECT: "Corrected",
    DecisionAction.SKIP: "Skipped",
    DecisionAction.DISCARD: "Discarded",
}
UNDECIDED = (DecisionAction.SKIP, DecisionAction.DISCARD)


def genre_filter(choice: str) -> str | None:
    """The genre the queue is filtered on for a choice of the genre dropdown (None: any)."""
    return None if choice == ANY_GENRE else choice


def progress_line(cursor: QueueCursor, remaining: int) -> str:
    """Where the editor is: what is left in the view and what they did since they sat down."""
    scope = " · ".join(
        filter(
            None, [cursor.view, cursor.status, cursor.genre, cursor.search and f"“{cursor.search}”"]
        )
    )
    if cursor.item_id is None:
        where = "end of the queue"
    else:
        where = f"#{max(1, cursor.offset + cursor.pos - cursor.left + 1)} in this order"
    skipped = sum(cursor.decided.get(action, 0) for action in UNDECIDED)
    return (
        f"**{remaining}** in this view ({scope}) · {where} · you: **{cursor.done} done**"
        f"{f', {skipped} skipped or discarded' if skipped else ''} since you opened it, "
        f"{cursor.per_minute:.1f} per minute"
    )


def saved_note(item: ItemView) -> str:
    action = item.history[0].action
    if action in UNDECIDED:
        return f"{PAST[action]} “{item.title}”."
    labels = ", ".join(item.labels or []) or "no genres"
    return f"{PAST.get(action, action)} “{item.title}”: {labels}."


def choices(item: ItemView) -> list[tuple[str, str]]:
    choices = []
    for key, genre in zip(GENRE_KEYS, GENRES, strict=True):
        prob = item.genre_probs.get(genre)
        if prob is None:
            choices.append((f"[{key}] {genre}", genre))
        else:
            mark = " ★" if prob >= item.thresholds[genre] else ""
            choices.append((f"[{key}] {genre} · {prob:.0%}{mark}", genre))
    return choices


def poster_image(item: ItemView, settings: Settings) -> str | Image.Image | None:
    """The item's picture for the screen: the media file itself when a browser shows it as it
    is (no decode and re-encode on the way to the next item), else scaled down (a big upload
    is not sent whole) or converted (TIFF, BMP)."""
    if item.poster is None:
        return None
    if item.poster.suffix.lower() in BROWSER_FORMATS:
        with Image.open(item.poster) as header:  # reads the header only
            if max(header.size) <= max(POSTER_DISPLAY):
                return str(item.poster)
    image = load_image(item.poster, settings.max_image_pixels, settings.max_image_bytes)
    image.thumbnail(POSTER_DISPLAY)
    return image


def details(item: ItemView) -> str:
    lines = [f"### {item.title or item.external_id}", f"`{item.external_id}` · {item.status}"]
    if item.overview:
        lines.append(item.overview)
    if item.genre_probs:
        lines.append(
            f"**Model {item.model_version}** (★ = above its threshold): " + confidence(item)
        )
    if item.original_labels is not None and item.original_labels != item.labels:
        lines.append(f"Source labels: {', '.join(item.original_labels) or 'none'}")
    return "\n\n".join(lines)


def confidence(item: ItemView) -> str:
    """The model's confidence in the current labels: the probability of each label, and the
    genres it predicts that are not labels."""
    if item.labels is None:
        return "no labels yet; the toggles start from the model's tags."
    held = [f"{g} {item.genre_probs[g]:.0%}" for g in item.labels] or ["(no genres)"]
    extra = [f"{g} {item.genre_probs[g]:.0%}" for g in item.predicted if g not in item.labels]
    text = "gives the current labels " + ", ".join(held)
    return text + (f"; also predicts {', '.join(extra)}" if extra else "")


def history_rows(item: ItemView) -> list[list]:
    return [
        [
            f"{d.created_at:%Y-%m-%d %H:%M:%S}",
            d.username,
            d.action,
            "—" if d.labels_before is None else ", ".join(d.labels_before) or "none",
            ", ".join(d.labels_after) or "none",
            d.model_version or "",
            "" if d.seconds_spent is None else f"{d.seconds_spent:.1f}",
            d.comment or "",
        ]
        for d in item.history
    ]


def recent_rows(decisions: list[RecentDecision]) -> list[list]:
    return [
        [
            f"{r.decision.created_at:%Y-%m-%d %H:%M:%S}",
            r.title or r.external_id,
            r.decision.action,
            ", ".join(r.decision.labels_after) or "none",
        ]
        for r in decisions
    ]
