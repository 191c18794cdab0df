import pytest

from ttscale.errors import InputError
from ttscale.tiny import tokenizer
from ttscale.tiny.tokenizer import (
    BOS,
    CHARS,
    EOS,
    PAD,
    decode,
    encode,
    encode_prompt,
    pack_documents,
)


def test_vocabulary_is_fixed():
    assert (PAD, BOS, EOS) == (0, 1, 2)
    assert tokenizer.vocab_size == 3 + len(CHARS) == 81
    assert encode("\n") == [3]
    assert encode(" 0") == [4, 5]
    assert encode("Z") == [tokenizer.vocab_size - 1]


@pytest.mark.parametrize("text", ["", CHARS, "F0391=17*23\n", "A12+34+56=102\n", "x: (a<b)?#;.,-"])
def test_round_trip(text):
    assert decode(encode(text)) == text


def test_specials_decode_to_nothing_and_prompt_starts_with_bos():
    assert encode_prompt("A1+2=") == [BOS] + encode("A1+2=")
    assert decode([BOS, *encode("ab"), EOS, PAD]) == "ab"


@pytest.mark.parametrize("bad", ["$", "é", "\t", "\x01"])
def test_bad_character_is_named(bad):
    with pytest.raises(InputError) as err:
        encode("A1" + bad + "2")
    assert repr(bad) in str(err.value) and "position 2" in str(err.value)


def test_decode_rejects_ids_outside_the_vocabulary():
    with pytest.raises(InputError, match="81"):
        decode([5, 81])
    with pytest.raises(InputError, match="-1"):
        decode([-1])


def test_pack_documents_separates_with_bos():
    packed = pack_documents(["A1=1\n", "B2\n"]).tolist()
    assert packed == [BOS, *encode("A1=1\n"), BOS, *encode("B2\n")]
    with pytest.raises(InputError, match=r"documents\[1\]"):
        pack_documents(["ok\n", "bad$"])
