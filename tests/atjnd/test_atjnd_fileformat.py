"""The learned codec's file: a round trip, its exact overhead, and every damage refused."""
import pytest

from jndlc_helpers.atjnd import fileformat as FF

HEADER = FF.Header("mean-scale-hyperprior", "mse", 5, 64, 96, 1.375, "0123456789abcdef", 321, 517)
STRINGS = [b"\x01\x02" * 700, b"\xff" * 40]


def test_round_trip_and_exact_overhead():
    data = FF.pack(HEADER, STRINGS)
    header, strings = FF.unpack(data)
    assert header == HEADER and strings == STRINGS
    assert len(data) == sum(map(len, STRINGS)) + FF.header_size(HEADER, STRINGS)
    # magic .. digest 22, two 2-byte sizes, a count, a 2- and a 1-byte length, the CRC
    assert FF.header_size(HEADER, STRINGS) == 22 + 2 + 2 + 1 + 2 + 1 + 4
    assert header.latent_shape() == (6, 9)


def test_a_step_must_be_what_the_file_can_hold():
    with pytest.raises(ValueError, match="half-precision"):
        FF.pack(FF.Header(**{**HEADER.__dict__, "step": 1.0001}), STRINGS)


@pytest.mark.parametrize("cut", [0, 3, 10, 30, 100, -1])
def test_truncated_files_are_refused(cut):
    data = FF.pack(HEADER, STRINGS)
    with pytest.raises(FF.FormatError, match="truncated|magic|checksum"):
        FF.unpack(data[:cut])


def test_a_flipped_byte_is_refused():
    data = bytearray(FF.pack(HEADER, STRINGS))
    data[500] ^= 0x10
    with pytest.raises(FF.FormatError, match="corrupt"):
        FF.unpack(bytes(data))


def test_another_format_or_version_is_refused():
    with pytest.raises(FF.FormatError, match="not a jndlc file"):
        FF.unpack(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    data = bytearray(FF.pack(HEADER, STRINGS))
    data[4] = 9
    with pytest.raises(FF.FormatError, match="version 9"):
        FF.unpack(bytes(data))
