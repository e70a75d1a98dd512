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


def qa_file(folder):
    """RECORDS as a QA .jsonl file, the form `inbedder train --data` reads."""
    data = folder / "qa.jsonl"
    data.write_text("\n".join(json.dumps({"input": r.input, "instruction": r.instruction, "output": r.output}) for r in RECORDS))
    return data


@pytest.fixture
def fresh_base():
    return inbedder_st.load_model(fine_tuned=False, device="cpu")


def test_a_few_lora_steps_lower_the_loss_and_the_saved_model_reloads(fresh_base, tmp_path, nltk_stopwords):
    from inbedder_st.train.run import run_training

    data = qa_file(tmp_path)
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


def test_keep_evaluated_keeps_every_evaluated_step_and_exports_one_as_a_model(fresh_base, tmp_path, nltk_stopwords, capsys):
    from safetensors.torch import load_file

    from inbedder_st.cli import main
    from inbedder_st.lora import merge_lora
    from inbedder_st.train.run import run_training
    from inbedder_st.train.steps import evaluated_steps, export_step

    data = qa_file(tmp_path)
    run = tmp_path / "run"
    run_training(fresh_base, [str(data)], small_config(run, max_steps=4, keep="last", keep_evaluated=True))
    steps = evaluated_steps(run)
    assert list(steps) == [0, 2, 4] and all("eval_loss" in metrics for metrics in steps.values())

    texts, prompt = ["My cat is sick.", "The flight was delayed."], "What animal is mentioned?"
    saved = fresh_base.encode(texts, prompt=prompt)  # trained in place: step 4, the last
    last = inbedder_st.load_model(str(export_step(run, 4, tmp_path / "step4")), device="cpu")
    assert np.abs(last.encode(texts, prompt=prompt) - saved).max() <= 1e-5

    second = inbedder_st.load_model(str(export_step(run, 2, tmp_path / "step2")), device="cpu")
    by_hand = inbedder_st.load_model(fine_tuned=False, device="cpu")  # the base with step 2's adapter merged
    merge_lora(by_hand[0].model, tmp_path / "step2" / "adapter")
    expected = by_hand.encode(texts, prompt=prompt)
    # fp32 rounding of taking one adapter out and merging another in: 1.4e-5 on an AVX2-only CPU, 10x under the gap below
    assert np.abs(second.encode(texts, prompt=prompt) - expected).max() <= 1e-4
    assert np.abs(expected - saved).max() > 1e-3  # steps 2 and 4 differ, so the comparison above can fail
    assert json.loads((tmp_path / "step2" / "training_recipe.json").read_text())["exported_step"]["step"] == 2
    assert sorted(load_file(tmp_path / "step2" / "adapter" / "adapter_model.safetensors"))[0].endswith(".lora_A.weight")

    with pytest.raises(ValueError, match=r"no evaluated step 3; steps kept: \[0, 2, 4\]"):
        export_step(run, 3, tmp_path / "step3")
    with pytest.raises(ValueError, match="not empty"):
        export_step(run, 2, tmp_path / "step2")
    assert main(["export-step", str(run), "--step", "3", "--output", str(tmp_path / "x")]) == 2
    capsys.readouterr()
    assert main(["export-step", str(run)]) == 0
    assert [line.split(":")[0] for line in capsys.readouterr().out.splitlines()] == ["step 0", "step 2", "step 4"]


def test_export_step_of_a_full_fine_tuning_run_loads_that_steps_weights(tmp_path):
    from safetensors.torch import load_file

    from inbedder_st.train.steps import export_step

    module = inbedder_st.load_model(fine_tuned=False, device="cpu")
    run = tmp_path / "run"
    config = small_config(run, max_steps=2, eval_steps=1, lora=False, keep="last", keep_evaluated=True)
    train(module[0], RECORDS, config, show_progress_bar=False)
    module.save(str(run))
    first = load_file(run / "evaluated" / "step-1" / "trainable.safetensors")
    exported = inbedder_st.load_model(str(export_step(run, 1, tmp_path / "step1")), device="cpu")[0].model
    name = "model.layers.0.self_attn.q_proj.weight"
    torch.testing.assert_close(exported.state_dict()[name], first[name])
    assert not torch.equal(first[name], module[0].model.state_dict()[name])  # step 2 moved it on
