import pytest
from faster_whisper.tokenizer import _LANGUAGE_CODES as WHISPER_CODES
from transformers.models.nllb.tokenization_nllb import FAIRSEQ_LANGUAGE_CODES

from autokr.core import languages
from autokr.core.errors import ConfigError


def test_table_covers_every_whisper_language_nllb_knows():
    assert set(WHISPER_CODES) == set(languages.WHISPER_TO_NLLB) | languages.WHISPER_ONLY
    assert set(languages.WHISPER_TO_NLLB.values()) <= set(FAIRSEQ_LANGUAGE_CODES)
    assert set(FAIRSEQ_LANGUAGE_CODES) == languages.NLLB_CODES


def test_short_codes_map_to_nllb():
    assert languages.language("ja") == languages.Language("ja", "ja", "jpn_Jpan")
    assert languages.target_language("ko").nllb == "kor_Hang"
    assert languages.language("zh").nllb == "zho_Hans"


def test_full_nllb_code_settles_an_ambiguous_short_code():
    lang = languages.target_language("zho_Hant")
    assert (lang.label, lang.whisper, lang.nllb) == ("zho_Hant", "zh", "zho_Hant")
    # A source given as an NLLB code is still transcribed with Whisper's code.
    assert languages.source_language("jpn_Jpan").whisper == "ja"


def test_auto_source_is_detected():
    assert languages.source_language("auto") is None
    assert languages.nllb_code_for_detected("en") == "eng_Latn"


@pytest.mark.parametrize(
    ("call", "code", "message"),
    [
        (languages.language, "xx", "unknown language 'xx'"),
        (languages.target_language, "la", "NLLB-200 cannot translate into 'la'"),
        (languages.source_language, "kor_Latn", "unknown language"),
        (languages.source_language, "ace_Arab", "Whisper cannot transcribe"),
    ],
)
def test_unknown_or_unsupported_language_is_a_config_error(call, code, message):
    with pytest.raises(ConfigError, match=message):
        call(code)
