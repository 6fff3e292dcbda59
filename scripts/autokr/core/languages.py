"""Whisper language codes and their NLLB-200 counterparts, in one table.

Users name languages by Whisper's short codes (``ja``, ``ko``). Where a short
code is ambiguous for NLLB (Chinese scripts, say) a full NLLB code
(``zho_Hant``) is accepted too.
"""

from __future__ import annotations

from dataclasses import dataclass

from autokr.core.errors import ConfigError

#: Every language that both Whisper and NLLB-200 know: Whisper code -> NLLB code.
#: Where NLLB has several variants, the one with the most speakers is chosen.
WHISPER_TO_NLLB: dict[str, str] = {
    "af": "afr_Latn", "am": "amh_Ethi", "ar": "arb_Arab", "as": "asm_Beng",
    "az": "azj_Latn", "ba": "bak_Cyrl", "be": "bel_Cyrl", "bg": "bul_Cyrl",
    "bn": "ben_Beng", "bo": "bod_Tibt", "bs": "bos_Latn", "ca": "cat_Latn",
    "cs": "ces_Latn", "cy": "cym_Latn", "da": "dan_Latn", "de": "deu_Latn",
    "el": "ell_Grek", "en": "eng_Latn", "es": "spa_Latn", "et": "est_Latn",
    "eu": "eus_Latn", "fa": "pes_Arab", "fi": "fin_Latn", "fo": "fao_Latn",
    "fr": "fra_Latn", "gl": "glg_Latn", "gu": "guj_Gujr", "ha": "hau_Latn",
    "he": "heb_Hebr", "hi": "hin_Deva", "hr": "hrv_Latn", "ht": "hat_Latn",
    "hu": "hun_Latn", "hy": "hye_Armn", "id": "ind_Latn", "is": "isl_Latn",
    "it": "ita_Latn", "ja": "jpn_Jpan", "jw": "jav_Latn", "ka": "kat_Geor",
    "kk": "kaz_Cyrl", "km": "khm_Khmr", "kn": "kan_Knda", "ko": "kor_Hang",
    "lb": "ltz_Latn", "ln": "lin_Latn", "lo": "lao_Laoo", "lt": "lit_Latn",
    "lv": "lvs_Latn", "mg": "plt_Latn", "mi": "mri_Latn", "mk": "mkd_Cyrl",
    "ml": "mal_Mlym", "mn": "khk_Cyrl", "mr": "mar_Deva", "ms": "zsm_Latn",
    "mt": "mlt_Latn", "my": "mya_Mymr", "ne": "npi_Deva", "nl": "nld_Latn",
    "nn": "nno_Latn", "no": "nob_Latn", "oc": "oci_Latn", "pa": "pan_Guru",
    "pl": "pol_Latn", "ps": "pbt_Arab", "pt": "por_Latn", "ro": "ron_Latn",
    "ru": "rus_Cyrl", "sa": "san_Deva", "sd": "snd_Arab", "si": "sin_Sinh",
    "sk": "slk_Latn", "sl": "slv_Latn", "sn": "sna_Latn", "so": "som_Latn",
    "sq": "als_Latn", "sr": "srp_Cyrl", "su": "sun_Latn", "sv": "swe_Latn",
    "sw": "swh_Latn", "ta": "tam_Taml", "te": "tel_Telu", "tg": "tgk_Cyrl",
    "th": "tha_Thai", "tk": "tuk_Latn", "tl": "tgl_Latn", "tr": "tur_Latn",
    "tt": "tat_Cyrl", "uk": "ukr_Cyrl", "ur": "urd_Arab", "uz": "uzn_Latn",
    "vi": "vie_Latn", "yi": "ydd_Hebr", "yo": "yor_Latn", "yue": "yue_Hant",
    "zh": "zho_Hans",
}  # fmt: skip

#: All 202 NLLB-200 language codes, as the NLLB tokenizer lists them (kept here so
#: that validating the config does not import transformers).
NLLB_CODES = frozenset(
    """
    ace_Arab ace_Latn acm_Arab acq_Arab aeb_Arab afr_Latn ajp_Arab aka_Latn amh_Ethi
    apc_Arab arb_Arab ars_Arab ary_Arab arz_Arab asm_Beng ast_Latn awa_Deva ayr_Latn
    azb_Arab azj_Latn bak_Cyrl bam_Latn ban_Latn bel_Cyrl bem_Latn ben_Beng bho_Deva
    bjn_Arab bjn_Latn bod_Tibt bos_Latn bug_Latn bul_Cyrl cat_Latn ceb_Latn ces_Latn
    cjk_Latn ckb_Arab crh_Latn cym_Latn dan_Latn deu_Latn dik_Latn dyu_Latn dzo_Tibt
    ell_Grek eng_Latn epo_Latn est_Latn eus_Latn ewe_Latn fao_Latn pes_Arab fij_Latn
    fin_Latn fon_Latn fra_Latn fur_Latn fuv_Latn gla_Latn gle_Latn glg_Latn grn_Latn
    guj_Gujr hat_Latn hau_Latn heb_Hebr hin_Deva hne_Deva hrv_Latn hun_Latn hye_Armn
    ibo_Latn ilo_Latn ind_Latn isl_Latn ita_Latn jav_Latn jpn_Jpan kab_Latn kac_Latn
    kam_Latn kan_Knda kas_Arab kas_Deva kat_Geor knc_Arab knc_Latn kaz_Cyrl kbp_Latn
    kea_Latn khm_Khmr kik_Latn kin_Latn kir_Cyrl kmb_Latn kon_Latn kor_Hang kmr_Latn
    lao_Laoo lvs_Latn lij_Latn lim_Latn lin_Latn lit_Latn lmo_Latn ltg_Latn ltz_Latn
    lua_Latn lug_Latn luo_Latn lus_Latn mag_Deva mai_Deva mal_Mlym mar_Deva min_Latn
    mkd_Cyrl plt_Latn mlt_Latn mni_Beng khk_Cyrl mos_Latn mri_Latn zsm_Latn mya_Mymr
    nld_Latn nno_Latn nob_Latn npi_Deva nso_Latn nus_Latn nya_Latn oci_Latn gaz_Latn
    ory_Orya pag_Latn pan_Guru pap_Latn pol_Latn por_Latn prs_Arab pbt_Arab quy_Latn
    ron_Latn run_Latn rus_Cyrl sag_Latn san_Deva sat_Beng scn_Latn shn_Mymr sin_Sinh
    slk_Latn slv_Latn smo_Latn sna_Latn snd_Arab som_Latn sot_Latn spa_Latn als_Latn
    srd_Latn srp_Cyrl ssw_Latn sun_Latn swe_Latn swh_Latn szl_Latn tam_Taml tat_Cyrl
    tel_Telu tgk_Cyrl tgl_Latn tha_Thai tir_Ethi taq_Latn taq_Tfng tpi_Latn tsn_Latn
    tso_Latn tuk_Latn tum_Latn tur_Latn twi_Latn tzm_Tfng uig_Arab ukr_Cyrl umb_Latn
    urd_Arab uzn_Latn vec_Latn vie_Latn war_Latn wol_Latn xho_Latn ydd_Hebr yor_Latn
    yue_Hant zho_Hans zho_Hant zul_Latn
    """.split()
)

#: Whisper languages that NLLB-200 cannot translate from or into.
WHISPER_ONLY = frozenset({"br", "haw", "la"})

#: Where NLLB has a variant that Whisper's short code cannot name, the
#: Whisper code that transcribes it.
_NLLB_TO_WHISPER_EXTRA: dict[str, str] = {"zho_Hant": "zh"}

AUTO = "auto"


@dataclass(frozen=True)
class Language:
    """One language as the workflow uses it.

    ``label`` is what the user wrote and what names the subtitle file
    (``ep.01.ko.srt``); ``whisper`` is the code Whisper takes, or None when
    Whisper cannot transcribe it; ``nllb`` is the NLLB-200 code, or None when
    NLLB cannot translate it.
    """

    label: str
    whisper: str | None
    nllb: str | None


def language(code: str) -> Language:
    """Resolve a Whisper short code or a full NLLB code; raise ConfigError otherwise."""
    if code in WHISPER_TO_NLLB:
        return Language(code, code, WHISPER_TO_NLLB[code])
    if code in WHISPER_ONLY:
        return Language(code, code, None)
    if code in NLLB_CODES:
        whisper = _NLLB_TO_WHISPER_EXTRA.get(code) or next(
            (w for w, n in WHISPER_TO_NLLB.items() if n == code), None
        )
        return Language(code, whisper, code)
    raise ConfigError(
        f"unknown language {code!r}: use a Whisper code such as 'ja' or 'ko', "
        "or a full NLLB-200 code such as 'zho_Hant'"
    )


def source_language(code: str) -> Language | None:
    """The language to transcribe, or None for ``auto`` (Whisper detects it)."""
    if code == AUTO:
        return None
    lang = language(code)
    if lang.whisper is None:
        raise ConfigError(f"Whisper cannot transcribe {code!r}")
    return lang


def target_language(code: str) -> Language:
    """A language to translate into."""
    lang = language(code)
    if lang.nllb is None:
        raise ConfigError(f"NLLB-200 cannot translate into {code!r}")
    return lang


def nllb_code_for_detected(whisper_code: str) -> str:
    """NLLB code for a language Whisper detected; raise ConfigError if NLLB lacks it."""
    lang = language(whisper_code)
    if lang.nllb is None:
        raise ConfigError(f"detected language {whisper_code!r} cannot be translated by NLLB-200")
    return lang.nllb


#: Scripts written without spaces between words.
_NO_SPACE_SCRIPTS = frozenset({"Jpan", "Hans", "Hant", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"})


def uses_spaces(nllb_code: str) -> bool:
    """True when the language puts spaces between words (Korean does, Japanese does not)."""
    return nllb_code.split("_")[-1] not in _NO_SPACE_SCRIPTS


#: ISO 639-2 codes that audio tracks are tagged with where they differ from the
#: NLLB code's ISO 639-3 part: bibliographic forms and macrolanguages.
_TRACK_TAGS: dict[str, tuple[str, ...]] = {
    "ar": ("ara",), "fa": ("per", "fas"), "ms": ("may", "msa"), "lv": ("lav",),
    "uz": ("uzb",), "mn": ("mon",), "ne": ("nep",), "sw": ("swa",), "az": ("aze",),
    "ps": ("pus",), "sq": ("alb", "sqi"), "mg": ("mlg",), "yi": ("yid",),
    "no": ("nor",), "fr": ("fre",), "de": ("ger",), "zh": ("chi",), "nl": ("dut",),
    "el": ("gre",), "cs": ("cze",), "sk": ("slo",), "ro": ("rum",), "cy": ("wel",),
    "hy": ("arm",), "ka": ("geo",), "is": ("ice",), "mk": ("mac",), "my": ("bur",),
    "eu": ("baq",), "bo": ("tib",), "mi": ("mao",), "et": ("est",),
}  # fmt: skip


def track_tags(code: str) -> frozenset[str]:
    """The language tags an audio track in ``code`` may carry (``ja``: ja, jpn)."""
    lang = language(code)
    tags = {lang.label.lower()}
    if lang.whisper:
        tags |= {lang.whisper, *_TRACK_TAGS.get(lang.whisper, ())}
    if lang.nllb:
        tags.add(lang.nllb.split("_")[0])
    return frozenset(tags)


#: English names of the Whisper languages, for the titles of subtitle tracks.
_NAMES: dict[str, str] = {
    "af": "Afrikaans", "am": "Amharic", "ar": "Arabic", "as": "Assamese", "az": "Azerbaijani",
    "ba": "Bashkir", "be": "Belarusian", "bg": "Bulgarian", "bn": "Bengali", "bo": "Tibetan",
    "br": "Breton", "bs": "Bosnian", "ca": "Catalan", "cs": "Czech", "cy": "Welsh",
    "da": "Danish", "de": "German", "el": "Greek", "en": "English", "es": "Spanish",
    "et": "Estonian", "eu": "Basque", "fa": "Persian", "fi": "Finnish", "fo": "Faroese",
    "fr": "French", "gl": "Galician", "gu": "Gujarati", "ha": "Hausa", "haw": "Hawaiian",
    "he": "Hebrew", "hi": "Hindi", "hr": "Croatian", "ht": "Haitian Creole", "hu": "Hungarian",
    "hy": "Armenian", "id": "Indonesian", "is": "Icelandic", "it": "Italian", "ja": "Japanese",
    "jw": "Javanese", "ka": "Georgian", "kk": "Kazakh", "km": "Khmer", "kn": "Kannada",
    "ko": "Korean", "la": "Latin", "lb": "Luxembourgish", "ln": "Lingala", "lo": "Lao",
    "lt": "Lithuanian", "lv": "Latvian", "mg": "Malagasy", "mi": "Maori", "mk": "Macedonian",
    "ml": "Malayalam", "mn": "Mongolian", "mr": "Marathi", "ms": "Malay", "mt": "Maltese",
    "my": "Burmese", "ne": "Nepali", "nl": "Dutch", "nn": "Norwegian Nynorsk", "no": "Norwegian",
    "oc": "Occitan", "pa": "Punjabi", "pl": "Polish", "ps": "Pashto", "pt": "Portuguese",
    "ro": "Romanian", "ru": "Russian", "sa": "Sanskrit", "sd": "Sindhi", "si": "Sinhala",
    "sk": "Slovak", "sl": "Slovenian", "sn": "Shona", "so": "Somali", "sq": "Albanian",
    "sr": "Serbian", "su": "Sundanese", "sv": "Swedish", "sw": "Swahili", "ta": "Tamil",
    "te": "Telugu", "tg": "Tajik", "th": "Thai", "tk": "Turkmen", "tl": "Tagalog",
    "tr": "Turkish", "tt": "Tatar", "uk": "Ukrainian", "ur": "Urdu", "uz": "Uzbek",
    "vi": "Vietnamese", "yi": "Yiddish", "yo": "Yoruba", "yue": "Cantonese",
    "zh": "Chinese (Simplified)",
}  # fmt: skip
_VARIANT_NAMES = {"zho_Hant": "Chinese (Traditional)"}

#: Where the tag players read in a file name is not the Whisper code: ISO 639-1
#: for Javanese, and the script for Chinese, which autokr writes in either.
_PLAYER_TAGS = {"jw": "jv", "zh": "zh-Hans"}

#: ISO 639-2 codes of the Whisper languages that NLLB-200 lacks, for Matroska's
#: Language element.
_MATROSKA_TAGS = {"br": "bre", "haw": "haw", "la": "lat"}


def _is_variant(lang: Language) -> bool:
    """True for an NLLB code that Whisper's short code does not name (``zho_Hant``)."""
    return bool(lang.whisper and lang.nllb and WHISPER_TO_NLLB.get(lang.whisper) != lang.nllb)


def player_tag(code: str) -> str:
    """The language tag players read in a subtitle file's name (``ep.01.ko.srt``).

    ISO 639-1 where the language has one, with a BCP-47 script subtag where
    autokr tells scripts apart (``zh-Hans``, ``zh-Hant``); ISO 639-3 otherwise,
    with the script where NLLB-200 writes the language in several (``kas-Deva``).
    Never a Whisper-only or NLLB-only spelling such as ``jw`` or ``kor_Hang``.
    """
    lang = language(code)
    if lang.whisper and not _is_variant(lang):
        return _PLAYER_TAGS.get(lang.whisper, lang.whisper)
    base, script = str(lang.nllb).split("_")
    if lang.whisper:
        return f"{_PLAYER_TAGS.get(lang.whisper, lang.whisper).split('-')[0]}-{script}"
    scripts = sum(1 for other in NLLB_CODES if other.startswith(f"{base}_"))
    return f"{base}-{script}" if scripts > 1 else base


def matroska_tag(code: str) -> str:
    """The ISO 639-2 (bibliographic) code a Matroska track in ``code`` is tagged with (``kor``)."""
    lang = language(code)
    if lang.whisper in _MATROSKA_TAGS:
        return _MATROSKA_TAGS[lang.whisper]
    if lang.whisper in _TRACK_TAGS:
        return _TRACK_TAGS[lang.whisper][0]
    return lang.nllb.split("_")[0] if lang.nllb else "und"


def language_name(code: str) -> str:
    """The language's English name (``Korean``), or its NLLB code where autokr has no name."""
    lang = language(code)
    if lang.nllb in _VARIANT_NAMES:
        return _VARIANT_NAMES[lang.nllb]
    if lang.whisper and not _is_variant(lang):
        return _NAMES[lang.whisper]
    return lang.label


def subtitle_tags(code: str) -> frozenset[str]:
    """Every tag (lower case) a subtitle file name or track may give for ``code``:
    ``ko``, ``kor``, ``korean``, ``kor_hang`` ..."""
    tags = {*track_tags(code), player_tag(code), matroska_tag(code), language_name(code)}
    return frozenset(tag.lower() for tag in tags)
