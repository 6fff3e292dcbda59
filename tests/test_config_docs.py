"""docs/config.md is generated from config/schema.yaml and never drifts from it."""

from write_config_docs import (
    CONFIG_DOC,
    SCHEMA,
    config_reference,
    format_value,
    load_schema,
    write_config_docs,
)


def test_config_reference_is_current():
    written = CONFIG_DOC.read_text(encoding="utf-8")
    assert written == config_reference(load_schema()), (
        "docs/config.md is stale: run `make docs` (scripts/write_config_docs.py)"
    )


def test_every_schema_key_has_a_row_with_its_default_and_description():
    def keys(schema, path):
        for key, sub in schema.get("properties", {}).items():
            yield f"{path}{key}", sub
            yield from keys(sub, f"{path}{key}.")

    schema = load_schema()
    reference = config_reference(schema)
    rows = {
        line.split("|")[1].strip(): line
        for line in reference.splitlines()
        if line.startswith("| `")
    }
    for name, sub in keys(schema, ""):
        if "." not in name and "properties" in sub:  # a section: a heading, then its keys
            assert f"## {name}\n\n{sub['description']}\n" in reference
            continue
        row = rows[f"`{name}`"]
        assert f"| `{format_value(sub['default'])}` |" in row, row
        assert " ".join(sub["description"].split())[:40] in row, row


def test_a_changed_default_shows_and_check_reports_the_stale_page(tmp_path):
    schema_text = SCHEMA.read_text(encoding="utf-8")
    changed = tmp_path / "schema.yaml"
    changed.write_text(schema_text.replace("default: 4\n", "default: 9\n", 1), "utf-8")
    page = tmp_path / "config.md"
    page.write_text(CONFIG_DOC.read_text(encoding="utf-8"), "utf-8")

    assert write_config_docs(changed, page, check=True) is False
    assert page.read_text(encoding="utf-8") == CONFIG_DOC.read_text(encoding="utf-8")
    assert write_config_docs(changed, page) is False
    assert "| `9` |" in page.read_text(encoding="utf-8")
    assert write_config_docs(changed, page, check=True) is True
