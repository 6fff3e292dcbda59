import pytest
import yaml

from autokr.core.config import SCHEMA, load_schema, source_label, target_codes, validate_config
from autokr.core.errors import ConfigError


def test_shipped_config_is_valid_and_matches_schema_defaults():
    shipped = yaml.safe_load((SCHEMA.parent / "config.yaml").read_text(encoding="utf-8"))
    assert validate_config(shipped) == validate_config({})


def test_defaults_are_filled_in_nested_groups():
    config = validate_config({"translate": {"beam_size": 2}})
    assert config["translate"]["beam_size"] == 2
    assert config["translate"]["model"] == "facebook/nllb-200-distilled-600M"
    assert config["transcribe"]["model"] == "large-v3"
    assert config["transcribe"]["vad"] is True
    assert config["transcribe"]["condition_on_previous_text"] is False
    assert config["source_language"] == "ja"
    assert target_codes(config) == ["ko"]


def test_every_key_has_a_default_a_type_and_a_description():
    def walk(schema, path):
        for key, sub in schema.get("properties", {}).items():
            assert "default" in sub, f"{path}{key} has no default"
            assert "description" in sub, f"{path}{key} has no description"
            assert {"type", "enum", "oneOf"} & set(sub), f"{path}{key} has no type"
            if sub.get("type") == "object":
                walk(sub, f"{path}{key}.")

    walk(load_schema(), "")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"translate": {"batch_size": "x"}}, "translate.batch_size: 'x' is not of type 'integer'"),
        ({"transcribe": {"modle": "base"}}, "transcribe.modle: unknown key"),
        ({"colour": 1}, "colour: unknown key"),
        ({"target_language": "xx"}, "target_language: unknown language 'xx'"),
        ({"source_language": "klingon"}, "source_language: unknown language 'klingon'"),
        ({"target_language": ["ko", "ko"]}, "target_language"),
        ({"target_language": "ja"}, "target_language: 'ja' is also the source language"),
        ({"transcribe": {"device": "gpu"}}, "transcribe.device: 'gpu' is not one of"),
        ({"keep_audio": "yes"}, "keep_audio: 'yes' is not of type 'boolean'"),
    ],
)
def test_bad_config_is_one_line_naming_the_key(config, message):
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_several_targets_and_auto_source():
    config = validate_config({"source_language": "auto", "target_language": ["ko", "zho_Hant"]})
    assert target_codes(config) == ["ko", "zho_Hant"]
    assert source_label(config) == "orig"


def test_a_step_by_hand_checks_only_the_languages_it_reads():
    # transcribe a Korean video by hand: the default target (ko) is none of its business.
    from argparse import ArgumentParser

    from autokr.core.config import add_config_options, config_from_options

    keys = ["source_language", "transcribe"]
    parser = ArgumentParser()
    add_config_options(parser, keys)
    config = config_from_options(parser.parse_args(["--source-language", "ko"]), keys)
    assert config["source_language"] == "ko"
    # translate by hand names its target: the same language both sides is refused.
    keys = ["source_language", "translate"]
    parser = ArgumentParser()
    add_config_options(parser, keys)
    args = parser.parse_args(["--source-language", "ko"])
    with pytest.raises(ConfigError, match="'ko' is also the source language"):
        config_from_options(args, keys, base={"target_language": "ko"})
    english = config_from_options(args, keys, base={"target_language": "en"})
    assert english["target_language"] == "en"


def test_params_do_not_depend_on_the_order_of_a_config_file():
    from autokr.core.config import output_settings

    one = validate_config({"translate": {"beam_size": 2, "max_length": 100}})
    other = validate_config({"translate": {"max_length": 100, "beam_size": 2}})
    assert list(output_settings(one, "translate")) == list(output_settings(other, "translate"))
