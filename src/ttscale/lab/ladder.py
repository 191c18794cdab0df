"""The lab's presets: which models to train, which tasks to sample, how much.

A ladder varies both model size N and training tokens D, so that training
compute TC = 6·N·D (plus attention) spans more than two orders of magnitude and
contains "overtraining" pairs: a smaller model trained on more tokens to the
same TC as a larger one (the scaling-policy technique).

Every model is trained on one mixture of the three task forms (factoring,
direct sums, scratchpad sums); the prompt's first letter selects the form, so
chain of thought is measured on the same models with and without a scratchpad.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ttscale.errors import InputError
from ttscale.tiny.model import TinyConfig
from ttscale.tiny.tokenizer import vocab_size
from ttscale.tiny.trainer import DEFAULT_HYPER, TrainHyper
from ttscale.lab.compression import CompressionPreset
from ttscale.lab.lab_techniques import lab_techniques
from ttscale.lab.mixture import (  # noqa: F401  (the ladder's task forms, read from here by the lab)
    FACTOR,
    MIXTURE_WEIGHTS,
    SHORT_NAMES,
    SUMS,
    SUMS_COT,
    TRAIN_MIXTURE,
    mixture_key,
)
from ttscale.techniques import TechniqueSpec
from ttscale.types import SamplingConfig

# Performance levels of the iso-curves. Fixed rather than chosen from the data
# so that every technique is read at the same levels (a level outside a
# technique's measured range gets a null curve, never an extrapolated one).
LEVELS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9)


@dataclass(frozen=True)
class Rung:
    """One model of the ladder."""

    name: str
    config: TinyConfig
    train_tokens: int


# Preset fields the stored test samples do not depend on (left out of the run plan).
# Compression variants are stored under their own model names, so the ladder's samples do not depend on them.
ANALYSIS_ONLY = ("n_boot", "n_calibration_problems", "n_search_problems", "value_calibration_problems",
                 "compression")


@dataclass(frozen=True)
class LabPreset:
    name: str
    rungs: tuple[Rung, ...]
    n_samples: int
    n_problems: int
    sampling: SamplingConfig
    batch_size: int
    n_boot: int
    # Problems of the "calib" split sampled for strategies that choose a
    # threshold there (cascades); never used to score anything.
    n_calibration_problems: int
    # Tree search (run live, not replayed): test problems of the scratchpad
    # task searched per model (0: none), and calib problems sampled to train
    # each model's learned value model (0: the log-probability scorer only).
    n_search_problems: int = 0
    value_calibration_problems: int = 0
    hyper: TrainHyper = DEFAULT_HYPER  # optimiser settings of every rung
    # Quantized, pruned, distilled and early-exit variants of the trained rungs (lab/compression.py);
    # None: the lab maps the test-time techniques only.
    compression: CompressionPreset | None = None

    def plan(self, seed: int) -> dict:
        """Everything that determines the stored samples (the run's identity).

        Analysis settings (``n_boot``) are left out: changing them re-analyses
        the same samples instead of refusing the stored run. So is the
        calibration count: the calibration split is a run of its own with its
        own plan, and the test samples do not depend on it (so stores made
        before the field existed still resume). Nor the tree-search counts:
        search results are stored under content hashes of their own.
        """
        sampled = {k: v for k, v in asdict(self).items() if k not in ANALYSIS_ONLY}
        return {"preset": sampled, "seed": seed, "tasks": list(TRAIN_MIXTURE), "data": mixture_key()}

    def techniques(self) -> tuple[TechniqueSpec, ...]:
        return lab_techniques(self.n_samples)


def _rung(d_model: int, n_layers: int, tokens: int) -> Rung:
    heads = max(1, d_model // 32)
    config = TinyConfig(
        d_model=d_model,
        n_layers=n_layers,
        n_heads=heads,
        d_ff=4 * d_model,
        context_length=64,
        vocab_size=vocab_size,
    )
    return Rung(name=f"tiny-d{d_model}-l{n_layers}-{tokens // 1000}k", config=config, train_tokens=tokens)


def _rungs(*shapes: tuple[int, int, int]) -> tuple[Rung, ...]:
    """Rungs from (d_model, n_layers, training tokens), in ladder order."""
    return tuple(_rung(*shape) for shape in shapes)


# The longest reference completion is 35 characters (two-digit sums of five
# numbers with a scratchpad); a few more let a malformed one show.
_SAMPLING = SamplingConfig(temperature=1.0, top_p=1.0, max_new_tokens=40)

# Batch 16: these character tasks need many optimizer steps more than large
# batches (at batch 64 a d64 model learned only the output format in 1.2M
# tokens; at batch 16 it learned the scratchpad sums).
PRESETS: dict[str, LabPreset] = {
    "smoke": LabPreset(
        name="smoke",
        rungs=_rungs((16, 1, 30_000), (16, 1, 90_000), (32, 1, 60_000), (32, 2, 120_000), (48, 2, 160_000)),
        n_samples=8, n_problems=24, sampling=_SAMPLING, batch_size=16,
        n_boot=100, n_calibration_problems=16, n_search_problems=24,
        compression=CompressionPreset(
            quantize_parents=("tiny-d48-l2-160k",), quantize=((8, 32), (4, 32), (2, 32)),
            prune_parent="tiny-d48-l2-160k", prune_fractions=(0.5,), layer_drops=(1,), retrain_tokens=16_384,
            teacher="tiny-d48-l2-160k", students=((32, 1, 16_384),),
            exit_parent="tiny-d48-l2-160k", exit_layers=(1,), exit_tokens=16_384, exit_thresholds=(0.5, 0.9),
            n_samples=8, calibration_windows=16),
    ),
    # 13 rungs from 4e9 to 5e12 FLOPs (3.1 OOM), three overtrained pairs at
    # equal TC (d32-l3 2.5M / d48-l3 1.2M, d32-l3 4M / d64-l3 1.1M, d48-l3 5M /
    # d64-l3 3M). Accuracy grows rung by rung: the d32-l3 rungs and the d48/d64
    # ones above them are spaced so that no adjacent pair differs by more than
    # ~25 points on any form at k = 1, pass@64 or maj@64 (benchmarks/bench_ladder.py
    # prints the table and the spread over training seeds). About 550 core-seconds of
    # training (two workers: ~5 minutes); no value models (they cost minutes and
    # rank prefixes worse than the model's own log-probability).
    "default": LabPreset(
        name="default",
        rungs=_rungs(
            (32, 1, 40_000), (32, 1, 200_000), (32, 2, 400_000), (32, 2, 1_000_000), (32, 3, 1_500_000),
            (32, 3, 2_500_000),  # overtrained: the TC of d48-l3 at 1.2M tokens
            (48, 3, 1_200_000),
            (32, 3, 4_000_000),  # overtrained: the TC of d64-l3 at 1.1M tokens
            (64, 3, 1_100_000), (32, 3, 6_500_000),
            (48, 3, 5_000_000),  # overtrained: the TC of d64-l3 at 3M tokens
            (64, 3, 3_000_000), (64, 3, 5_000_000),
        ),
        n_samples=64, n_problems=200, sampling=_SAMPLING, batch_size=16,
        # 50 tree-search problems per model (100 before the compression variants joined; the searches only
        # ever showed that width and expansions buy nothing on these models, and the lab keeps to 15 min).
        n_boot=300, n_calibration_problems=100, n_search_problems=50, value_calibration_problems=0,
        # Variants of the three d64 rungs (quantized) and of the top one (pruned, distilled into a d32-l3
        # student, given exit heads), 8 samples per problem on the scratchpad sums.
        compression=CompressionPreset(
            quantize_parents=("tiny-d64-l3-1100k", "tiny-d64-l3-3000k", "tiny-d64-l3-5000k"),
            quantize=((8, 32), (4, 32), (3, 32), (2, 32), (4, 128)),
            prune_parent="tiny-d64-l3-5000k", prune_fractions=(0.5, 0.75), layer_drops=(1,),
            retrain_tokens=262_144,
            teacher="tiny-d64-l3-5000k", students=((32, 3, 1_048_576),),
            exit_parent="tiny-d64-l3-5000k", exit_layers=(1, 2), exit_tokens=262_144,
            exit_thresholds=(0.5, 0.7, 0.9), n_samples=8),
    ),
    "full": LabPreset(
        name="full",
        rungs=_rungs((32, 1, 2_000_000), (32, 2, 4_000_000), (64, 2, 4_000_000), (32, 2, 16_000_000),
                     (64, 2, 16_000_000), (128, 3, 8_000_000), (128, 4, 24_000_000), (256, 4, 16_000_000)),
        n_samples=128, n_problems=250, sampling=_SAMPLING, batch_size=16,
        n_boot=1000, n_calibration_problems=150, n_search_problems=250, value_calibration_problems=4000,
    ),
}


def get_preset(name: str) -> LabPreset:
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"--preset: unknown preset {name!r} (choose one of: {', '.join(PRESETS)})") from None
