"""The torch port of dlib's face-recognition ResNet: equal to dlib's own descriptors, batched, differentiable."""

from __future__ import annotations

import numpy as np
import pytest

from models.config import ModelConfig
from models.embedding import cosine_similarity
from models.embedding.dlib_native import DlibNativeEmbedder
from models.embedding.dlib_torch import DlibTorchEmbedder, load_dlib_resnet, padded_add
from models.errors import ConfigError, ImageError, ModelNotFoundError
from models.registry import create

TOL = 2e-6  # float32 sums in a different order; measured max |torch - dlib| is about 2e-7 to 5e-7


def dlib_descriptors(recognizer, chips) -> np.ndarray:
    return np.array([np.asarray(recognizer.compute_face_descriptor(np.ascontiguousarray(c))) for c in chips])


def test_matches_dlib_on_astronaut(torch_embedder, dlib_recognizer, astronaut_chip):
    ours = torch_embedder.embed(astronaut_chip[None])
    theirs = dlib_descriptors(dlib_recognizer, [astronaut_chip])
    assert ours.shape == (1, 128) and ours.dtype == np.float32
    assert np.abs(ours - theirs).max() < TOL
    assert 1.0 < np.linalg.norm(ours) < 2.0  # dlib descriptors are not unit-norm


def test_matches_dlib_on_development_photos(torch_embedder, dlib_recognizer, face_chips):
    chips = np.stack(list(face_chips.values()))
    ours = torch_embedder.embed(chips)
    theirs = dlib_descriptors(dlib_recognizer, chips)
    diff = np.abs(ours - theirs).max()
    print(f"max |torch - dlib| over {len(chips)} development faces: {diff:.2e}")
    assert diff < TOL


def test_native_backend_equals_dlib_and_torch(dlib_recognizer, torch_embedder, astronaut_chip):
    native = create("embedder", ModelConfig(device="cpu"), "dlib")
    assert isinstance(native, DlibNativeEmbedder) and native.template == "dlib150"
    crops = np.stack([astronaut_chip, astronaut_chip[:, ::-1].copy()])
    out = native.embed(crops)
    np.testing.assert_allclose(out, dlib_descriptors(dlib_recognizer, crops), atol=1e-6)
    assert np.abs(out - torch_embedder.embed(crops)).max() < TOL


def test_batch_of_20_equals_one_by_one(torch_embedder, astronaut_chip):
    rng = np.random.default_rng(0)
    crops = np.stack([astronaut_chip] * 20)
    # vary the crops: shifts, flips and noise, so a batch mix-up would show
    for i in range(1, 20):
        c = np.roll(astronaut_chip, shift=(i % 5 - 2, i % 7 - 3), axis=(0, 1))
        if i % 2:
            c = c[:, ::-1]
        crops[i] = np.clip(c.astype(int) + rng.integers(-8, 9, c.shape), 0, 255)
    batch = torch_embedder.embed(crops)
    single = np.concatenate([torch_embedder.embed(c[None]) for c in crops])
    assert batch.shape == (20, 128)
    assert np.abs(batch - single).max() < 1e-5
    assert len({tuple(np.round(r, 4)) for r in batch}) == 20  # all different
    small = DlibTorchEmbedder(config=ModelConfig(device="cpu"), batch_size=7)  # shares the cached module
    assert small.module is torch_embedder.module
    assert np.abs(small.embed(crops) - batch).max() < 1e-5


def test_same_person_scores_higher_than_different(torch_embedder, face_chips, face_pairs, faces_dir):
    names = list(face_chips)
    emb = dict(zip(names, torch_embedder.embed(np.stack([face_chips[n] for n in names]))))
    genuine, impostor = [], []
    for a, b, label in face_pairs:
        ka, kb = str(a.relative_to(faces_dir)), str(b.relative_to(faces_dir))
        if ka in emb and kb in emb:
            (genuine if label == 1 else impostor).append(cosine_similarity(emb[ka], emb[kb])[0])
    assert len(genuine) >= 5 and len(impostor) >= 20
    print(f"genuine cosine mean {np.mean(genuine):.3f} (n={len(genuine)}), "
          f"impostor {np.mean(impostor):.3f} (n={len(impostor)})")
    assert np.mean(genuine) > np.mean(impostor) + 0.05
    # the default threshold separates most pairs
    accuracy = (np.sum(np.array(genuine) >= torch_embedder.threshold)
                + np.sum(np.array(impostor) < torch_embedder.threshold)) / (len(genuine) + len(impostor))
    assert accuracy > 0.9


def test_forward_tensor_gives_input_gradients(torch_embedder, astronaut_chip):
    import torch

    x = torch_embedder.to_tensor(astronaut_chip[None]).requires_grad_(True)
    out = torch_embedder.forward_tensor(x)
    ref = torch_embedder.embed(astronaut_chip[None])
    np.testing.assert_allclose(out.detach().numpy(), ref, atol=1e-6)
    target = torch.from_numpy(ref)
    torch.nn.functional.cosine_similarity(out, target).sum().backward()
    assert x.grad is not None and x.grad.shape == (1, 3, 150, 150)
    assert float(x.grad.abs().sum()) > 0
    assert all(p.grad is None for p in torch_embedder.module.parameters())  # weights stay frozen
    with pytest.raises(ImageError):
        torch_embedder.forward_tensor(torch.zeros(1, 3, 112, 112))


def test_registry_default_and_attributes():
    emb = create("embedder", ModelConfig(device="cpu"))
    assert isinstance(emb, DlibTorchEmbedder)
    assert (emb.name, emb.template, emb.input_size) == ("dlib-torch", "dlib150", 150)
    assert 0.5 < emb.threshold < 1.0
    assert create("embedder", ModelConfig(device="cpu"), threshold=0.9).threshold == 0.9
    info = DlibTorchEmbedder.describe(ModelConfig(device="cpu"), "dlib-torch")
    assert info.available and info.source.endswith(".dat")


def test_embedder_path_of_another_backend_is_ignored(tmp_path):
    # FACEX_EMBEDDER_PATH belongs to the configured backend (here arcface), not to dlib-torch
    config = ModelConfig(device="cpu", embedder="arcface", paths={"embedder": str(tmp_path / "w600k_r50.onnx")})
    assert create("embedder", config, "dlib-torch").model_path.name.endswith(".dat")
    assert DlibTorchEmbedder.describe(config, "dlib-torch").available
    config = ModelConfig(device="cpu", embedder="dlib-torch", paths={"embedder": str(tmp_path / "x.dat")})
    with pytest.raises(ModelNotFoundError, match="x.dat"):
        create("embedder", config)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((2, 112, 112, 3), np.uint8),  # wrong size (an ArcFace crop)
        np.zeros((2, 150, 150, 3), np.float32),  # wrong dtype
        np.zeros((2, 150, 150, 4), np.uint8),  # RGBA
        np.zeros((150, 150), np.uint8),  # grey
        "not an image",
    ],
)
def test_bad_input_raises_image_error(torch_embedder, bad):
    with pytest.raises(ImageError, match="expects"):
        torch_embedder.embed(bad)


def test_empty_batch(torch_embedder):
    assert torch_embedder.embed(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)


def test_missing_or_bad_model_file(tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        DlibTorchEmbedder(tmp_path / "nothing.dat", config=ModelConfig(device="cpu"))
    with pytest.raises(ConfigError):
        create("embedder", ModelConfig(device="cpu"), "dlib-torch", colour="blue")


def test_padded_add_matches_dlib_semantics():
    import torch

    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 4, 4, 4), 2.0)
    out = padded_add(a, b)
    assert out.shape == (1, 4, 4, 4)
    assert float(out[0, 0, 0, 0]) == 3.0  # both present (top-left aligned)
    assert float(out[0, 0, 3, 3]) == 2.0  # only b
    assert float(out[0, 3, 0, 0]) == 2.0  # channel only in b


def test_module_structure(dlib_model_path):
    module = load_dlib_resnet(dlib_model_path)
    convs = [m for m in module.modules() if type(m).__name__ == "Conv2d"]
    assert len(convs) == 29 and convs[0].kernel_size == (7, 7)
    assert len(module.blocks) == 14 and sum(b.downsample for b in module.blocks) == 4
    assert module.fc.in_features == 256 and module.fc.out_features == 128 and module.fc.bias is None


def test_accepts_non_contiguous_views_and_lists(torch_embedder, astronaut_chip):
    mirrored = np.stack([astronaut_chip, astronaut_chip])[:, :, ::-1]  # negative strides
    expected = torch_embedder.embed(np.ascontiguousarray(mirrored))
    np.testing.assert_allclose(torch_embedder.embed(mirrored), expected, atol=1e-6)
    np.testing.assert_allclose(torch_embedder.embed([m for m in mirrored]), expected, atol=1e-6)
