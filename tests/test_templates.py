import pytest

from inbedder_st.templates import ALPACA, QA, fill, resolve_template, split_template


def test_qa_template_is_the_papers_and_puts_the_input_first():
    assert QA == "### Input:\n{input}\n\n### Instruction:\n{instruction}\n\n### Response:"
    segments = split_template(QA)
    assert segments.input_first
    assert (segments.prefix, segments.middle, segments.suffix) == (
        "### Input:\n",
        "\n\n### Instruction:\n",
        "\n\n### Response:",
    )


def test_alpaca_puts_the_instruction_first():
    assert not split_template(ALPACA).input_first
    assert fill(ALPACA, "TEXT", "Q?") == "### Instruction:\nQ?\n\n### Input:\nTEXT\n\n### Response:"


def test_custom_template_string():
    template = "Q: {instruction} T: {input} A:"
    assert resolve_template(template) == template
    assert fill(template, "x", "why") == "Q: why T: x A:"


@pytest.mark.parametrize("bad", ["nonsense", "{input} only", "{input} {input} {instruction}"])
def test_bad_templates_list_the_valid_choices(bad):
    with pytest.raises(ValueError, match="alpaca.*chat.*qa|exactly once"):
        resolve_template(bad)


def test_chat_template_renders_the_backbones_chat_format(default_model):
    template = resolve_template("chat", default_model.tokenizer)
    assert template.startswith("<|im_start|>system") and template.rstrip().endswith("<|im_start|>assistant")
    assert split_template(template).input_first
