"""The lab: a tiny transformer trained and sampled on this machine, with every FLOP counted.

- ``tokenizer``   fixed character vocabulary (PAD, BOS, EOS + task characters)
- ``model``       TinyGPT (pre-norm, rotary, tied embeddings, KV cache) and its ModelCard
- ``trainer``     packed-stream AdamW training; exact training FLOPs via ``ttscale.flops``
- ``checkpoints`` hash-keyed checkpoint cache with atomic writes (``load_or_train``)
- ``sampler``     batched KV-cached pool sampling (prefill once per prompt), per-sample seeds
- ``ladder`` / ``pipeline``  which models to train and the end-to-end lab run
"""
