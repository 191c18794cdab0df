"""The lab's tiny models: a character-level decoder (model.py) with its tokenizer, a batched KV-cached
sampler, a seeded trainer that counts its FLOPs, and checkpoints cached by content. Below the backends
that wrap them (backends/tiny.py) and the lab that trains a ladder of them."""
