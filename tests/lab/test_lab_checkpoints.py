import pytest
import torch
from lab_documents import sums_documents

from ttscale.tiny import checkpoints
from ttscale.tiny.checkpoints import load_or_train


class CountingDocs:
    def __init__(self):
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return sums_documents()


def cached(tiny_config, tmp_path, docs, **kw):
    args = {"train_tokens": 256, "seed": 1, "documents_fn": docs, "data_key": "sums", "cache_dir": tmp_path, "batch_size": 4}
    return load_or_train(tiny_config, **{**args, **kw})


def test_cache_hit_returns_identical_weights_without_training(tiny_config, tmp_path):
    docs = CountingDocs()
    first = cached(tiny_config, tmp_path, docs, name="a")
    seen = []
    second = cached(tiny_config, tmp_path, docs, name="b", progress=seen.append)
    assert docs.calls == 1 and not first.cached and second.cached
    assert seen == [first.card.train_tokens]
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, second.model.state_dict()[k])
    assert second.card.name == "b" and second.card.train_flops == first.card.train_flops
    assert second.loss_curve == first.loss_curve and second.final_loss == first.final_loss
    # anything that changes the weights changes the key
    cached(tiny_config, tmp_path, docs, seed=2)
    cached(tiny_config, tmp_path, docs, data_key="other")
    cached(tiny_config, tmp_path, docs, threads=2)  # another reduction order: other weights
    assert docs.calls == 4
    assert len(list(tmp_path.glob("*.pt"))) == 4


def test_training_trains_on_the_fixed_thread_count_and_restores_the_callers(tiny_config, tmp_path):
    seen = []
    torch.set_num_threads(2)
    try:
        cached(tiny_config, tmp_path, CountingDocs(), progress=lambda _t: seen.append(torch.get_num_threads()))
        assert set(seen) == {checkpoints.TRAIN_THREADS} and torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(1)


def test_killed_training_leaves_no_checkpoint(tiny_config, tmp_path):
    def die(_tokens):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        cached(tiny_config, tmp_path, CountingDocs(), progress=die)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_write_leaves_no_checkpoint(tiny_config, tmp_path, monkeypatch):
    def half_save(obj, f):
        f.write(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoints.torch, "save", half_save)
    with pytest.raises(KeyboardInterrupt):
        cached(tiny_config, tmp_path, CountingDocs())
    assert list(tmp_path.iterdir()) == []


def test_unreadable_checkpoint_is_retrained(tiny_config, tmp_path):
    docs = CountingDocs()
    first = cached(tiny_config, tmp_path, docs)
    (path,) = tmp_path.glob("*.pt")
    path.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match="unreadable"):
        again = cached(tiny_config, tmp_path, docs)
    assert docs.calls == 2 and not again.cached
    for k, v in first.model.state_dict().items():
        assert torch.equal(v, again.model.state_dict()[k])
