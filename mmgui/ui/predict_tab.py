"""The Predict tab: poster / title / overview in; genres, tags, Grad-CAM and word weights out."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from mmgui.data.image import load_image
from mmgui.errors import MmguiError
from mmgui.genres import GENRES
from mmgui.serve import explain as explanations
from mmgui.serve.cam_methods import CAM_METHODS
from mmgui.serve.studio import Studio, demo_examples
from mmgui.serve.summary import version_figures, version_summary
from mmgui.ui.errors import user_errors
from mmgui.ui.genre_table import genre_rows, genre_table

WORDS_LEGEND = "red raises its probability, purple lowers it"


@dataclass(frozen=True)
class ModelPanel:
    """The served version in words, and its exact figures."""

    line: gr.Markdown
    figures: gr.JSON


@dataclass(frozen=True)
class Form:
    """The movie to predict, the explanation's options, and the prediction."""

    poster: gr.File
    preview: gr.Image
    title: gr.Textbox
    overview: gr.Textbox
    method: gr.Dropdown
    extra: gr.Dropdown
    button: gr.Button
    tags: gr.Markdown
    probs: gr.Dataframe

    @property
    def inputs(self) -> list:
        return [self.poster, self.title, self.overview]


@dataclass(frozen=True)
class Explanation:
    """What drove the prediction: Grad-CAM maps of the poster, weights of the words."""

    cams: gr.Gallery
    words_caption: gr.Markdown
    words: gr.HighlightedText


def build(studio: Studio) -> None:
    model = _model_panel(studio)
    form = _form()
    explanation = _explanation()
    handlers = Handlers(studio)
    _wire(handlers, model, form, explanation)


def _model_panel(studio: Studio) -> ModelPanel:
    # Callables, not strings: Gradio re-evaluates them on every page load, so the line follows
    # a promotion or rollback instead of the version served at start-up.
    line = gr.Markdown(lambda: version_summary(studio.predictor.card))
    with gr.Accordion("Exact figures of the served version", open=False):
        figures = gr.JSON(
            lambda: version_figures(studio.predictor.card), label="model.json metrics"
        )
    return ModelPanel(line, figures)


def _form() -> Form:
    with gr.Row():
        with gr.Column():
            # A file input, not gr.Image: the upload reaches our safe loader untouched, so a
            # corrupt, huge or non-image file gets our message instead of a PIL error.
            poster = gr.File(
                label="Poster", file_types=["image"], type="filepath", elem_id="poster-upload"
            )
            preview = gr.Image(label="Poster preview", interactive=False, height=260)
            title = gr.Textbox(label="Title", max_lines=1)
            overview = gr.Textbox(label="Overview", lines=6)
            with gr.Row():
                method = gr.Dropdown(list(CAM_METHODS), value="gradcam", label="CAM method")
                extra = gr.Dropdown(list(GENRES), multiselect=True, label="Also explain")
            button = gr.Button("Predict", variant="primary")
        with gr.Column():
            tags = gr.Markdown()
            probs = genre_table("Genre probabilities (a genre is a tag at or above its threshold)")
    return Form(poster, preview, title, overview, method, extra, button, tags, probs)


def _explanation() -> Explanation:
    with gr.Row():
        cams = gr.Gallery(
            format="jpeg",  # webp costs ~20 ms a map to encode, jpeg under 1
            label="What in the poster drove each genre",
            columns=3,
            height="auto",
            object_fit="contain",
        )
        with gr.Column():
            words_caption = gr.Markdown(f"**Word weights** ({WORDS_LEGEND})")
            words = gr.HighlightedText(
                label="Word weights", show_label=False, combine_adjacent=False, show_legend=True
            )
    return Explanation(cams, words_caption, words)


class Handlers:
    """The tab's event handlers on `studio`; their names are the events' default API names."""

    def __init__(self, studio: Studio) -> None:
        self.studio = studio

    def show_preview(self, poster_path: str | None):
        if not poster_path:
            return None
        try:
            settings = self.studio.settings
            return load_image(poster_path, settings.max_image_pixels, settings.max_image_bytes)
        except MmguiError as err:
            gr.Warning(str(err))
            return None

    @user_errors
    def predict(self, poster_path: str | None, title_text: str, overview_text: str):
        prediction = self.studio.predict(poster_path, overview_text, title_text)
        for notice in prediction.notices:
            gr.Warning(notice)
        tag_text = ", ".join(prediction.tags) or "no genre passes its threshold"
        header = f"**Tags:** {tag_text}  \n_model {prediction.model_version}_"
        card = self.studio.predictor.card
        return (
            header,
            genre_rows(prediction.genre_probs, prediction.tags, card.thresholds),
            version_summary(card),
            version_figures(card),
        )

    @user_errors
    def explain(self, poster_path, title_text, overview_text, method_name, extra_genres):
        explanation = explanations.explain(
            self.studio, poster_path, overview_text, title_text, method_name, extra_genres
        )
        for notice in explanation.notices:
            gr.Info(notice)
        gallery = [(view.overlay, view.caption) for view in explanation.cams]
        weights = [(f"{word} ", weight) for word, weight in explanation.words] or None
        caption = f"**How each word moves {explanation.top_genre}** ({WORDS_LEGEND})"
        caption += "".join(f"  \n_{notice}_" for notice in explanation.notices)
        return gallery, caption, weights

    def predict_and_explain(self, poster_path, title_text, overview_text):
        return (
            self.show_preview(poster_path),
            *self.predict(poster_path, title_text, overview_text),
            *self.explain(poster_path, title_text, overview_text, "gradcam", []),
        )


def _wire(handlers: Handlers, model: ModelPanel, form: Form, explanation: Explanation) -> None:
    inputs = form.inputs
    prediction = [form.tags, form.probs, model.line, model.figures]
    explained = [explanation.cams, explanation.words_caption, explanation.words]
    form.poster.change(
        handlers.show_preview, [form.poster], [form.preview], api_name=False, show_progress="hidden"
    )
    # Each event has its own queue, so /predict never waits behind an explanation; explanations
    # run one at a time (on a 2-core CPU two at once only take twice as long each).
    form.button.click(handlers.predict, inputs, prediction, api_name="predict").then(
        handlers.explain,
        [*inputs, form.method, form.extra],
        explained,
        api_name="explain",
        concurrency_limit=1,
        concurrency_id="explain",
    )
    examples = demo_examples()
    gr.Examples(
        examples,
        inputs,
        outputs=[form.preview, *prediction, *explained],
        fn=handlers.predict_and_explain,
        run_on_click=True,
        cache_examples=False,
        example_labels=[title_text for _, title_text, _ in examples],
        label="Demo movies: one click predicts and explains",
        api_name="run_example",
    )
