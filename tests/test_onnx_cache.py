"""Exported ONNX models kept between runs: read back only when they give the torch network's outputs."""

import pytest
import torch

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

from polyface.detect import onnx_cache, ort  # noqa: E402
from polyface.detect.nets import load_nets  # noqa: E402


@pytest.fixture()
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv(onnx_cache.CACHE_ENV, str(tmp_path))
    return tmp_path / "onnx"


@pytest.fixture(scope="module")
def nets():
    return load_nets("cpu")


def _rnet(nets) -> ort.OrtNet:
    return ort.OrtNet(nets[1], torch.zeros(2, 3, 24, 24), ["reg", "logits"])


def _same_as_torch(net: ort.OrtNet, torch_net) -> bool:
    x = torch.rand(5, 3, 24, 24, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        want = torch_net(x)
    return all(torch.allclose(a, b, atol=1e-4) for a, b in zip(net(x), want))


def _no_export(*args, **kwargs):
    raise AssertionError("exported again")


def test_a_model_is_kept_and_read_back_without_exporting(cache, nets, monkeypatch):
    first = _rnet(nets)
    files = list(cache.glob("rnet-*.onnx"))
    assert not first.from_cache and len(files) == 1 and files[0].stat().st_size > 100_000
    monkeypatch.setattr(ort, "export", _no_export)
    second = _rnet(nets)
    assert second.from_cache and _same_as_torch(second, nets[1])


def test_other_weights_get_a_model_of_their_own(cache, nets):
    _rnet(nets)
    other = load_nets("cpu")[1]
    with torch.no_grad():
        other.conv1.weight.mul_(1.5)
    net = ort.OrtNet(other, torch.zeros(2, 3, 24, 24), ["reg", "logits"])
    assert not net.from_cache and len(list(cache.glob("rnet-*.onnx"))) == 2 and _same_as_torch(net, other)


@pytest.mark.parametrize("damage", ["garbage", "empty", "another network", "too large"])
def test_a_damaged_or_wrong_model_is_exported_again(cache, nets, monkeypatch, damage):
    _rnet(nets)
    (path,) = cache.glob("rnet-*.onnx")
    if damage == "garbage":
        path.write_bytes(b"\x08\x07not a model" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    elif damage == "another network":  # a valid model with the same inputs and outputs, other weights
        other = load_nets("cpu")[1]
        with torch.no_grad():
            other.dense5_2.bias.add_(0.5)
        path.write_bytes(ort.export(other, torch.zeros(2, 3, 24, 24), ["reg", "logits"], {0: "batch"}))
    else:
        monkeypatch.setattr(onnx_cache, "MAX_MODEL_BYTES", 1000)
    net = _rnet(nets)
    assert not net.from_cache and _same_as_torch(net, nets[1])
    monkeypatch.undo()  # the limit as it is, and the cache where it was
    monkeypatch.setenv(onnx_cache.CACHE_ENV, str(cache.parent))
    monkeypatch.setattr(ort, "export", _no_export)
    assert _rnet(nets).from_cache  # rewritten, and read back next time


def test_no_cache_where_it_is_off_or_cannot_be_written(tmp_path, nets, monkeypatch):
    monkeypatch.setenv(onnx_cache.CACHE_ENV, "")
    assert onnx_cache.cache_dir() is None
    assert not _rnet(nets).from_cache
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder would be")
    monkeypatch.setenv(onnx_cache.CACHE_ENV, str(blocker))
    net = _rnet(nets)
    assert not net.from_cache and _same_as_torch(net, nets[1]) and blocker.read_text().startswith("a file")


def test_default_folder_follows_xdg(monkeypatch, tmp_path):
    monkeypatch.delenv(onnx_cache.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert onnx_cache.cache_dir() == tmp_path / "polyface" / "onnx"


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    """The XDG spec: a relative path in $XDG_CACHE_HOME is invalid and must be ignored."""
    monkeypatch.delenv(onnx_cache.CACHE_ENV, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    assert onnx_cache.cache_dir() == tmp_path / ".cache" / "polyface" / "onnx"
