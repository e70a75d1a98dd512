"""Prompt templates, split into fixed segments around the text and the instruction.

A template is a plain string with exactly one ``{input}`` and one ``{instruction}``. Splitting it into
segments lets us tokenize the fixed parts once and cut only the input text when a prompt is too long
(docs/design.md, "Segment-wise tokenization").
"""

from __future__ import annotations

from dataclasses import dataclass

INPUT = "{input}"
INSTRUCTION = "{instruction}"

# The paper's QA template (input first, then the question); the InBedder default.
QA = "### Input:\n{input}\n\n### Instruction:\n{instruction}\n\n### Response:"
# The Alpaca order used by the paper's baselines and, by mistake, by its current training script.
ALPACA = "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
# The user turn rendered through the backbone's own chat template (the paper's chat baselines).
CHAT_USER_MESSAGE = (
    "Your task is to give an answer according to the instruction and input. Please keep your answer short."
    "\n\nInput: {input}\n\nInstruction: {instruction}"
)

NAMED_TEMPLATES = {"qa": QA, "alpaca": ALPACA, "chat": None}  # "chat" is rendered per tokenizer


@dataclass(frozen=True)
class Segments:
    """A template as ``first_fixed + A + middle + B + suffix`` where A, B are the input and instruction."""

    prefix: str
    middle: str
    suffix: str
    input_first: bool


def resolve_template(template: str, tokenizer=None) -> str:
    """Turn a template name ("qa", "alpaca", "chat") or a custom string into a concrete template string."""
    if template in NAMED_TEMPLATES and NAMED_TEMPLATES[template] is not None:
        return NAMED_TEMPLATES[template]
    if template == "chat":
        return render_chat_template(tokenizer)
    if INPUT in template and INSTRUCTION in template:
        split_template(template)  # validates
        return template
    raise ValueError(
        f"Unknown template {template!r}. Valid choices: {sorted(NAMED_TEMPLATES)} "
        "or a string containing '{input}' and '{instruction}' exactly once each."
    )


def split_template(template: str) -> Segments:
    """Split a concrete template into its fixed segments."""
    if template.count(INPUT) != 1 or template.count(INSTRUCTION) != 1:
        raise ValueError(
            f"A template needs '{{input}}' and '{{instruction}}' exactly once each; got {template!r}."
        )
    input_at, instruction_at = template.index(INPUT), template.index(INSTRUCTION)
    first, second = (INPUT, INSTRUCTION) if input_at < instruction_at else (INSTRUCTION, INPUT)
    prefix, rest = template.split(first)
    middle, suffix = rest.split(second)
    return Segments(prefix=prefix, middle=middle, suffix=suffix, input_first=input_at < instruction_at)


def render_chat_template(tokenizer) -> str:
    """Render the backbone's chat template around the paper's chat-baseline user message."""
    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        raise ValueError("template='chat' needs a tokenizer with a chat template; use 'qa' or 'alpaca' instead.")
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": CHAT_USER_MESSAGE}], tokenize=False, add_generation_prompt=True
    )
    split_template(rendered)
    return rendered


def fill(template: str, text: str, instruction: str) -> str:
    """The whole prompt as one string (for display and for independent reference checks)."""
    segments = split_template(template)
    first, second = (text, instruction) if segments.input_first else (instruction, text)
    return segments.prefix + first + segments.middle + second + segments.suffix
