"""Plotly figures for the Clip tab: the emotion line over time and the valence–arousal path.

Plotly hover boxes cannot show images, so the keyframe thumbnails sit in a strip under the
emotion line, each at its segment's time; hovering a point shows the time and both values.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from mmgui.serve.clip import ClipAnalysis

THUMBNAIL_WIDTH = 192
MAX_THUMBNAILS = 8
# The strip, in fractions of the plot area's height, below the time axis and its title.
STRIP_TOP, STRIP_HEIGHT = -0.24, 0.42


def emotion_line(analysis: ClipAnalysis) -> go.Figure:
    times = [(s.t_start + s.t_end) / 2 for s in analysis.segments]
    figure = go.Figure()
    for name, values, colour in (
        ("valence", [s.valence for s in analysis.segments], "#2a9d8f"),
        ("arousal", [s.arousal for s in analysis.segments], "#e76f51"),
    ):
        figure.add_trace(
            go.Scatter(
                x=times,
                y=values,
                name=name,
                mode="lines+markers",
                line={"color": colour, "shape": "spline"},
                hovertemplate=f"t = %{{x:.1f}} s<br>{name} %{{y:+.2f}}<extra></extra>",
            )
        )
    figure.update_layout(
        title=f"Emotion line — {analysis.affect_model}",
        xaxis={"title": "time (s)", "range": [0, analysis.duration]},
        yaxis={"title": "[-1, 1]", "range": [-1.05, 1.05]},
        hovermode="x unified",
        margin={"b": 230},
        images=_thumbnails(analysis),
        height=560,
    )
    return figure


def _thumbnails(analysis: ClipAnalysis) -> list[dict]:
    """At most `MAX_THUMBNAILS` keyframes in a strip under the time axis, each as wide as its
    share of the axis: one per 2 s segment would be a row of 12-pixel stamps on a long clip."""
    count = min(len(analysis.keyframes), MAX_THUMBNAILS)
    span = analysis.duration / max(count, 1)
    images = []
    for slot in range(count):
        index = int((slot + 0.5) * len(analysis.keyframes) / count)  # the slot's middle
        images.append(
            {
                "source": _data_uri(analysis.keyframes[index]),
                "xref": "x",
                "yref": "paper",
                "x": slot * span,
                "y": STRIP_TOP,
                "sizex": span * 0.96,
                "sizey": STRIP_HEIGHT,
                "xanchor": "left",
                "yanchor": "top",
                "sizing": "contain",
                "layer": "above",
            }
        )
    return images


def _data_uri(keyframe: np.ndarray) -> str:
    image = Image.fromarray(keyframe)
    image.thumbnail((THUMBNAIL_WIDTH, THUMBNAIL_WIDTH))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def trajectory(analysis: ClipAnalysis) -> go.Figure:
    """The clip's path through the valence–arousal plane, coloured by time."""
    segments = analysis.segments
    figure = go.Figure(
        go.Scatter(
            x=[s.valence for s in segments],
            y=[s.arousal for s in segments],
            mode="lines+markers",
            marker={
                "color": [s.t_start for s in segments],
                "colorscale": "Viridis",
                "size": 9,
                "colorbar": {"title": "s"},
            },
            line={"color": "#999"},
            customdata=[[s.t_start, s.t_end] for s in segments],
            hovertemplate="%{customdata[0]:.0f}–%{customdata[1]:.0f} s<br>"
            "valence %{x:+.2f}<br>arousal %{y:+.2f}<extra></extra>",
        )
    )
    figure.add_hline(y=0, line={"color": "#ccc"})
    figure.add_vline(x=0, line={"color": "#ccc"})
    figure.update_layout(
        title="Valence–arousal trajectory",
        xaxis={"title": "valence", "range": [-1.05, 1.05]},
        yaxis={"title": "arousal", "range": [-1.05, 1.05]},
        height=430,
    )
    return figure
