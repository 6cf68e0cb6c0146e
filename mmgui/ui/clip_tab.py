"""The Clip tab: a clip (+ title / overview) in; emotion line, trajectory, genres and
keyframes with Grad-CAM out."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from mmgui.config import Settings, shipped_path
from mmgui.serve.explain import keyframe_cams
from mmgui.serve.review import ReviewService
from mmgui.serve.studio import Studio
from mmgui.ui import clip_plots
from mmgui.ui.errors import user_errors
from mmgui.ui.genre_table import genre_rows, genre_table
from mmgui.ui.users import current_user

EXAMPLE_CLIP = shipped_path("assets") / "clips" / "caminandes_10s_noaudio.mp4"
NO_CLIP = "Upload a clip first (a video file: mp4, webm, mkv, mov …)."


def require_clip(clip_path: str | None, title_text: str, overview_text: str) -> list[dict]:
    """The Analyse button's validator: one message on the clip input when there is none."""
    return [gr.validate(bool(clip_path), NO_CLIP), gr.validate(True, ""), gr.validate(True, "")]


@dataclass(frozen=True)
class Form:
    """The clip to analyse, with the title and overview that guide it."""

    clip: gr.File
    player: gr.Video
    title: gr.Textbox
    overview: gr.Textbox
    button: gr.Button

    @property
    def inputs(self) -> list:
        return [self.clip, self.title, self.overview]


@dataclass(frozen=True)
class Results:
    """The analysis, the state it leaves for the queue, and the button that sends it there."""

    summary: gr.Markdown
    line: gr.Plot
    path: gr.Plot
    genres: gr.Dataframe
    cams: gr.Gallery
    send: gr.Button
    sent: gr.Markdown
    analysed: gr.State  # (clip path, analysis, title, overview) of the last analysis

    @property
    def outputs(self) -> list:
        """What `analyse` returns, in its order."""
        return [self.summary, self.line, self.path, self.genres, self.cams, self.analysed,
                self.sent]  # fmt: skip


def build(studio: Studio, review: ReviewService) -> None:
    _limits(studio.settings)
    form, results = _layout()
    _wire(form, results, _analyser(studio), _sender(review))


def _limits(settings: Settings) -> None:
    gr.Markdown(
        f"Clips up to {settings.clip_max_duration_s:.0f} s and {settings.max_upload_mb:g} MB. "
        f"The emotion line gives valence and arousal in [-1, 1] per {settings.clip_segment_s:g} s "
        "segment; the training-free line is uncalibrated (no ground truth ships), so read it "
        "as *more* or *less*, not as a measurement."
    )


def _layout() -> tuple[Form, Results]:
    with gr.Row():
        with gr.Column(scale=1):
            # A file input, not gr.Video: the upload reaches our own decoder untouched, so a
            # corrupt or non-video file gets our message.
            clip = gr.File(
                label="Clip", file_types=["video"], type="filepath", elem_id="clip-upload"
            )
            # Plays the upload as it is (no re-encoding: format=None); what the browser cannot
            # play still analyses, since our own decoder reads it.
            player = gr.Video(
                label="Clip player", interactive=False, format=None, height=240,
                elem_id="clip-player",
            )  # fmt: skip
            title = gr.Textbox(label="Title", max_lines=1)
            overview = gr.Textbox(label="Overview (guides which keyframes count)", lines=4)
            button = gr.Button("Analyse", variant="primary")
        with gr.Column(scale=2):
            summary = gr.Markdown()
            line = gr.Plot(label="Emotion line")
    with gr.Row():
        path = gr.Plot(label="Valence–arousal trajectory")
        genres = genre_table("Clip genres (a genre is a tag at or above its threshold)")
    cams = gr.Gallery(
        label="Keyframes: Grad-CAM for the top genre", columns=4, height=300, format="jpeg"
    )
    with gr.Row():
        send = gr.Button("Send to the review queue")
        sent = gr.Markdown()
    analysed = gr.State(None)
    form = Form(clip, player, title, overview, button)
    return form, Results(summary, line, path, genres, cams, send, sent, analysed)


def _analyser(studio: Studio) -> Callable:
    """The Analyse handler: the clip's analysis and its keyframes' maps, as `Results.outputs`."""

    # A gr.Progress() default is how Gradio hands a handler its progress bar (hence noqa).
    @user_errors
    def analyse(clip_path, title_text, overview_text, progress=gr.Progress()):  # noqa: B008
        if not clip_path:
            raise gr.Error(NO_CLIP)
        progress(0.05, desc="Decoding, emotion line, genres")
        analysis = studio.analyse_clip(clip_path, overview_text, title_text)
        progress(0.6, desc="Grad-CAM on the keyframes")
        views = keyframe_cams(studio, analysis, overview_text, title_text)
        for notice in analysis.notices:
            gr.Warning(notice)
        tags = ", ".join(analysis.tags) or "no genre passes its threshold"
        header = (
            f"**Tags:** {tags}  \n{analysis.duration:.1f} s of video in {analysis.seconds:.2f} s"
            f" ({analysis.duration / max(analysis.seconds, 1e-6):.0f}× real time); "
            f"_model {analysis.model_version}, emotion line {analysis.affect_model}_"
        )
        gallery = [(view.overlay, view.caption) for view in views]
        return (
            header,
            clip_plots.emotion_line(analysis),
            clip_plots.trajectory(analysis),
            genre_rows(analysis.genre_probs, analysis.tags, studio.predictor.card.thresholds),
            gallery,
            (clip_path, analysis, title_text, overview_text),
            "",
        )

    return analyse


def _sender(review: ReviewService) -> Callable:
    """The handler that puts the last analysed clip in the review queue."""

    def send_to_queue(last, request: gr.Request):
        if last is None:
            raise gr.Error("analyse a clip first")
        clip_path, analysis, title_text, overview_text = last
        username = current_user(request)
        item_id = review.catalogue.add_clip(
            clip_path, analysis, title_text, overview_text, username
        )
        item = review.item(item_id)
        return (
            f"In the review queue as `{item.external_id}` (“{item.title}”), "
            "with the clip genres as its prediction."
        )

    return send_to_queue


def _wire(form: Form, results: Results, analyse: Callable, send_to_queue: Callable) -> None:
    inputs, outputs = form.inputs, results.outputs
    results.send.click(
        send_to_queue, [results.analysed], [results.sent], api_name="send_clip_to_queue"
    )
    form.clip.change(
        lambda path: path, [form.clip], [form.player], api_name=False, show_progress="hidden"
    )
    # One clear message on the clip input instead of an error badge on every panel; a failure
    # while decoding shows on the summary alone.
    form.button.click(
        analyse,
        inputs,
        outputs,
        api_name="analyse_clip",
        validator=require_clip,
        show_progress_on=[results.summary],
    )
    if EXAMPLE_CLIP.exists():
        gr.Examples(
            [[str(EXAMPLE_CLIP), "Caminandes: Llama Drama", ""]],
            inputs,
            outputs=outputs,
            fn=analyse,
            run_on_click=True,
            cache_examples=False,
            label="Demo clip (Blender Foundation, CC BY 3.0)",
            api_name="run_clip_example",
        )
