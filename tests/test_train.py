"""Answer preprocessing, training examples, and a real (tiny) fine-tuning run with save, reload and resume."""

import json

import numpy as np
import pytest
import torch
from sentence_transformers import SentenceTransformer

import inbedder_st
from inbedder_st.train.answer_cleaning import prepare, without_stopwords
from inbedder_st.train.examples import IGNORE, build_examples
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.records import QARecord

# Short, real-looking QA records: enough to see the loss fall in a few steps.
RECORDS = [
    QARecord("I adopted a kitten last week and she sleeps all day.", "What animal is mentioned?", "a kitten"),
    QARecord("The train to Paris was cancelled because of the storm.", "Where was the train going?", "to Paris"),
    QARecord("My phone battery dies after two hours, it's so annoying.", "What is the problem?", "the battery"),
    QARecord("We had pizza and ice cream for Tom's birthday.", "What did they eat?", "pizza and ice cream"),
    QARecord("The concert in Berlin was amazing, the crowd loved it.", "Where was the concert?", "in Berlin"),
    QARecord("I can't log in to my bank account since yesterday.", "What does the user need?", "access to the account"),
    QARecord("Our dog barked at the mailman all morning.", "What animal is mentioned?", "the dog"),
    QARecord("She was furious that the package arrived broken.", "How does she feel?", "she is furious"),
] * 2


def test_stopwords_leave_answers_and_all_stopword_answers_are_kept_whole(nltk_stopwords):
    assert without_stopwords("  the   Eiffel Tower ") == "Eiffel Tower"
    records, stats = prepare([QARecord("x", "Is it?", "no"), QARecord(" a  b ", "q", "The cat")])
    assert [r.output for r in records] == ["no", "cat"]
    assert stats.all_stopwords == 1 and records[1].input == "a b"


def test_examples_put_the_input_first_and_train_only_the_answer(default_model):
    tokenizer = default_model.tokenizer
    long_passage = "word " * 300
    records = [QARecord(long_passage, "What is repeated?", "word"), RECORDS[0]]
    examples, truncated = build_examples(records, tokenizer, default_model[0].template, max_length=64)
    assert truncated == 1 and len(examples[0].input_ids) == 64
    for example in examples:
        answer = [i for i, label in zip(example.input_ids, example.labels) if label != IGNORE]
        assert answer[-1] == tokenizer.eos_token_id and example.labels[: -len(answer)] == [IGNORE] * (
            len(example.labels) - len(answer)
        )
    text = tokenizer.decode(examples[0].input_ids)
    assert text.startswith("### Input:\nword word") and text.endswith("### Response:word<|im_end|>")


def small_config(tmp_path, **overrides):
    settings = dict(output_dir=str(tmp_path), max_steps=4, batch_size=4, grad_accum=1, learning_rate=1e-3,
                    eval_size=4, save_steps=2, eval_steps=2, max_length=64, lora_dropout=0.0)  # fmt: skip
    settings.update(overrides)
    return TrainConfig(**settings)


@pytest.fixture
def fresh_base():
    return inbedder_st.load_model(fine_tuned=False, device="cpu")


def test_a_few_lora_steps_lower_the_loss_and_the_saved_model_reloads(fresh_base, tmp_path, nltk_stopwords):
    from inbedder_st.train.run import run_training

    data = tmp_path / "qa.jsonl"
    data.write_text("\n".join(json.dumps({"input": r.input, "instruction": r.instruction, "output": r.output}) for r in RECORDS))
    recipe = run_training(fresh_base, [str(data)], small_config(tmp_path / "model", max_steps=6))
    result = recipe["result"]
    assert result["eval_loss_after"] < result["eval_loss_before"]
    assert recipe["mix"]["answers"]["records"] == len(RECORDS)
    folder = tmp_path / "model"
    assert (folder / "adapter" / "adapter_model.safetensors").is_file()
    texts = ["My cat is sick.", "The flight was delayed."]
    trained = fresh_base.encode(texts, prompt="What animal is mentioned?")
    for reloaded in (SentenceTransformer(str(folder), trust_remote_code=True), inbedder_st.load_model(str(folder))):
        assert np.abs(reloaded.encode(texts, prompt="What animal is mentioned?") - trained).max() <= 1e-5


def test_a_resumed_run_ends_where_an_uninterrupted_one_does(tmp_path, monkeypatch):
    import inbedder_st.train.loop as loop

    def run(folder):
        module = inbedder_st.load_model(fine_tuned=False, device="cpu")[0]
        train(module, RECORDS, small_config(folder, max_steps=4), show_progress_bar=False)
        return module.model.state_dict()

    straight = run(tmp_path / "straight")

    real_save = loop._save_checkpoint

    def save_then_crash(folder, model, optimizer, scheduler, step, *rest):
        real_save(folder, model, optimizer, scheduler, step, *rest)
        raise KeyboardInterrupt  # the run dies right after its step-2 checkpoint

    monkeypatch.setattr(loop, "_save_checkpoint", save_then_crash)
    with pytest.raises(KeyboardInterrupt):
        run(tmp_path / "resumed")
    monkeypatch.setattr(loop, "_save_checkpoint", real_save)
    assert json.loads((tmp_path / "resumed" / "checkpoint" / "state.json").read_text())["step"] == 2
    resumed = run(tmp_path / "resumed")
    log = [json.loads(line) for line in (tmp_path / "resumed" / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "loss" in e] == [1, 2, 3, 4]  # the resumed session logs steps 3 and 4 only
    for name, tensor in straight.items():
        torch.testing.assert_close(resumed[name], tensor, atol=1e-5, rtol=1e-4)
