"""The torch copy of a served "head" version: the same weights as its ONNX graphs.

Grad-CAM needs gradients, so explanations run here; the latency benchmark and the parity test
compare it with ONNX Runtime. Backbones come from the installed packages (checked against the
hashes in model.json by the graph build), the head from the version's head.safetensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file

from mmgui.config import Settings
from mmgui.data.image import ImageSource
from mmgui.data.item import prepare_item
from mmgui.data.text import SubwordTokenizer
from mmgui.errors import MmguiError
from mmgui.nets.backbones import load_backbones, minilm_dir
from mmgui.nets.genre_model import CalibratedHead, GenreHead, GenreModel, HeadConfig
from mmgui.versions import ModelKind, read_card


@dataclass
class TorchGenreModel:
    model: GenreModel
    poster_size: tuple[int, int]
    tokenizer: SubwordTokenizer
    settings: Settings  # the limits inputs are prepared under: the served predictor's

    def inputs(
        self, poster: ImageSource | None, overview: str | None, title: str | None = None
    ) -> tuple[torch.Tensor, ...]:
        """The model's five input tensors for one item, prepared exactly as serving does."""
        item = prepare_item(poster, overview, title, self.poster_size, self.settings)
        width, height = self.poster_size
        if item.poster is None:
            image = torch.zeros(1, 3, height, width)
        else:
            image = torch.from_numpy(item.poster)[None]
        ids, mask = self.tokenizer([item.text or ""])
        return (
            image,
            torch.from_numpy(ids),
            torch.from_numpy(mask),
            torch.tensor([float(item.poster is not None)]),
            torch.tensor([float(item.text is not None)]),
        )


def load_torch_genre_model(version: Path, settings: Settings) -> TorchGenreModel:
    """The torch copy of a head version, preparing its inputs under `settings`' limits."""
    card = read_card(version)
    if card.kind is not ModelKind.HEAD or card.backbones is None or card.head is None:
        raise MmguiError(f"{version}: only 'head' versions have a torch copy for explanations")
    backbones = card.backbones
    head = GenreHead(HeadConfig.from_dict(card.head))
    head.load_state_dict(load_file(Path(version) / "head.safetensors"))
    poster, overview = load_backbones(backbones)
    if backbones.in_version:  # fully finetuned: the version's own weights
        folder = Path(version) / backbones.in_version
        poster.load_state_dict(load_file(folder / "poster.safetensors"))
        overview.load_state_dict(load_file(folder / "overview.safetensors"))
    model = GenreModel(poster, overview, CalibratedHead(head, card.temperature)).eval()
    tokenizer = SubwordTokenizer(minilm_dir() / "tokenizer.json", backbones.max_tokens)
    return TorchGenreModel(model, backbones.poster_size, tokenizer, settings)
