import pytest
import torch
from lab_documents import sums_documents

from ttscale import flops
from ttscale.errors import InputError
from ttscale.tiny.trainer import TrainHyper, batches, lr_at, train


def weights(result):
    return {k: v.clone() for k, v in result.model.state_dict().items()}


def test_same_seed_gives_identical_weights(tiny_config):
    a = train(tiny_config, sums_documents, train_tokens=640, seed=3, batch_size=4, threads=1)
    b = train(tiny_config, sums_documents, train_tokens=640, seed=3, batch_size=4, threads=1)
    c = train(tiny_config, sums_documents, train_tokens=640, seed=4, batch_size=4, threads=1)
    wa, wb, wc = weights(a), weights(b), weights(c)
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a.loss_curve == b.loss_curve


def test_loss_decreases_on_a_learnable_corpus():
    from ttscale.tiny.model import TinyConfig

    config = TinyConfig(d_model=32, n_layers=1, n_heads=2, d_ff=64, context_length=32)
    result = train(config, sums_documents(), train_tokens=24_000, seed=0, batch_size=16,
                   hyper=TrainHyper(lr=1e-2))
    first = sum(loss for _, loss in result.loss_curve[:5]) / 5
    assert first > 3.5  # about log(81) at initialisation
    assert result.final_loss < 0.6 * first


def test_card_carries_tokens_and_exact_flops(tiny_config):
    seen = []
    result = train(tiny_config, sums_documents, train_tokens=300, seed=0, batch_size=4, progress=seen.append)
    # 300 tokens round up to 3 steps of 4 x 32 tokens
    assert result.steps == 3 and result.card.train_tokens == 384 and sum(seen) == 384
    assert result.card.train_flops == flops.train_flops(result.card, 384, tiny_config.context_length)
    assert result.achieved_flops_per_second == pytest.approx(result.card.train_flops / result.wall_seconds)
    assert len(result.loss_curve) == 3 and result.loss_curve[-1][0] == 384
    assert not result.model.training


def test_batches_are_packed_shifted_windows():
    docs = ["A1=1\n"] * 20
    (x1, y1), (x2, _) = [b for _, b in zip(range(2), batches(docs, batch_size=2, seq_len=4))]
    assert x1.shape == (2, 4) and x1[0, 0].item() == 1  # starts with BOS
    assert torch.equal(x1.flatten()[1:], y1.flatten()[:-1])
    assert x2.flatten()[0] == y1.flatten()[-1]  # the stream continues


def test_running_out_of_documents_is_an_input_error(tiny_config):
    with pytest.raises(InputError, match="documents"):
        train(tiny_config, ["A1=1\n"] * 3, train_tokens=1000, seed=0, batch_size=4)


def test_lr_schedule_warms_up_then_decays():
    hyper = TrainHyper(lr=1.0, min_lr_ratio=0.1, warmup_fraction=0.1)
    lrs = [lr_at(s, 100, hyper) for s in range(100)]
    assert lrs[0] == pytest.approx(0.1) and max(lrs) == pytest.approx(1.0)
    assert lrs[-1] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(lrs[10:], lrs[11:]))
