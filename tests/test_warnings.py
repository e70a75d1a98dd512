"""No deprecation noise from our calls into transformers / peft (issue 15, item 4).

transformers 5.24 renamed the key/value cache argument of every model's forward from ``past_key_values`` to
``cache``; the old name warns twice (a FutureWarning and a logged "deprecated" line). Checked in this process
on tiny causal (Llama) and seq2seq (T5) models, and in a fresh ``python -W error::FutureWarning`` process on the
real default model, where transformers' once-per-process log lines cannot have been used up by other tests.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings

import pytest

import inbedder_st
from conftest import REPO
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.records import QARecord
from tiny_models import build_llama, build_t5

TEXTS = ["I love cat!", "Where is my refund?"]
RECORDS = [QARecord("I adopted a kitten.", "What animal?", "kitten"), QARecord("The train to Paris.", "Where?", "Paris")] * 3


class Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def exercise(model, tmp_path) -> None:
    """encode (no generation and generation poolings), answer, encode_multi where it applies, a training step."""
    module = model[0]
    model.encode(TEXTS, prompt="Why?")
    inbedder_st.answer(model, TEXTS, prompt="Why?")
    if module.family == "causal":
        inbedder_st.encode_multi(model, TEXTS, ["Why?", "What?"])
    module.pooling = "avg_gen"
    model.encode(TEXTS, prompt="Why?")
    config = TrainConfig(
        output_dir=str(tmp_path), max_steps=1, batch_size=2, grad_accum=1, eval_size=2, save_steps=10, eval_steps=10,
        max_length=64, lora_r=2,
    )  # fmt: skip
    train(module, RECORDS, config, show_progress_bar=False)


@pytest.mark.parametrize("build", [build_llama, build_t5], ids=["llama", "t5"])
def test_tiny_models_run_without_warnings(build, tmp_path):
    model = inbedder_st.load_model(str(build(tmp_path / "model")), device="cpu")
    logged = Records()
    logging.getLogger("transformers").addHandler(logged)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exercise(model, tmp_path / "train")
    finally:
        logging.getLogger("transformers").removeHandler(logged)
    noise = [f"{w.category.__name__}: {w.message} ({w.filename})" for w in caught]
    noise += [m for m in logged.messages if "deprecat" in m.lower()]
    assert not noise, noise


SCRIPT = """
import tempfile, warnings
import inbedder_st
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.records import QARecord
model = inbedder_st.load_model(device="cpu")
texts = ["I'm furious, you charged me twice!", "Thanks, my refund arrived."]
model.encode(texts, prompt="How does the customer feel?")
print(inbedder_st.answer(model, texts, prompt="What does the customer need?"))
inbedder_st.encode_multi(model, texts, ["How does the customer feel?", "What does the customer need?"])
model[0].pooling = "avg_gen"
model.encode(texts, prompt="How does the customer feel?")
records = [QARecord("I adopted a kitten.", "What animal?", "kitten"), QARecord("The train to Paris.", "Where?", "Paris")] * 3
train(model[0], records, TrainConfig(output_dir=tempfile.mkdtemp(), max_steps=1, batch_size=2, grad_accum=1,
      eval_size=2, save_steps=10, eval_steps=10, max_length=64), show_progress_bar=False)
print("done")
"""


def test_a_demo_sized_run_on_the_default_model_is_silent():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    env["TRANSFORMERS_VERBOSITY"] = "warning"
    run = subprocess.run(
        [sys.executable, "-W", "error::FutureWarning", "-c", SCRIPT],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0 and run.stdout.strip().endswith("done"), run.stderr[-3000:]
    assert "deprecat" not in run.stderr.lower(), run.stderr[-3000:]
    assert "Warning" not in run.stderr, run.stderr[-3000:]
