"""Training mechanics on a tiny OPT (dropout on): resume with RNG states, grouped and bucketed batches, the
contrastive term, best-step selection, and a 3-step `inbedder train` with labeled data end to end."""

import json
from collections import Counter

import pytest
import torch
from conftest import SHARED_DATA, shared_file
from tiny_models import build_opt

import inbedder_st
from inbedder_st.answer_space import dropped_token_mask
from inbedder_st.train import batching, objective
from inbedder_st.train import loop as loop_module
from inbedder_st.train.examples import Example, build_examples
from inbedder_st.train.labeled import WORDINGS_FILE
from inbedder_st.train.loop import TrainConfig, train
from inbedder_st.train.records import QARecord

LISTED = WORDINGS_FILE.with_name("wordings_listed.json")

RECORDS = [
    QARecord(f"I feel {mood} today, number {i}.", question, answer, source="toy", aspect="emotion", style=style)
    for i in range(6)
    for mood, answer in (("great", "joy"), ("awful", "sadness"))
    for question, style in (("How does the writer feel?", "open"), ("Is the writer happy?", "yes_no"))
]  # 24 records; each question asked of 12 texts with 2 answers


@pytest.fixture(scope="module")
def opt_folder(tmp_path_factory):
    return build_opt(tmp_path_factory.mktemp("opt"))  # OPT's config has dropout 0.1


def config(folder, **overrides):
    settings = dict(output_dir=str(folder), max_steps=4, batch_size=4, grad_accum=2, learning_rate=5e-3, eval_size=0,
                    save_steps=2, eval_steps=2, max_length=96, lora_dropout=0.2, log_steps=1, keep="last")  # fmt: skip
    settings.update(overrides)
    return TrainConfig(**settings)


def run(opt_folder, folder, **overrides):
    module = inbedder_st.load_model(str(opt_folder), device="cpu")[0]
    train(module, RECORDS, config(folder, **overrides), show_progress_bar=False)
    return module.model.state_dict()


def crash_after_first_checkpoint(monkeypatch):
    real_save = loop_module._save_checkpoint

    def save_then_crash(*args, **kwargs):
        real_save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(loop_module, "_save_checkpoint", save_then_crash)
    return real_save


@pytest.mark.parametrize("restore_rng", [True, False])
def test_a_resumed_run_with_dropout_equals_an_uninterrupted_one_only_with_rng_states(opt_folder, tmp_path, monkeypatch, restore_rng):
    straight = run(opt_folder, tmp_path / "straight")
    real_save = crash_after_first_checkpoint(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        run(opt_folder, tmp_path / "resumed")
    monkeypatch.setattr(loop_module, "_save_checkpoint", real_save)
    if not restore_rng:  # what the loop did before: the test must catch it
        monkeypatch.setattr(loop_module.rng, "load", lambda path: None)
    resumed = run(opt_folder, tmp_path / "resumed")
    same = all(torch.allclose(resumed[name], tensor, atol=1e-6, rtol=1e-5) for name, tensor in straight.items())
    assert same == restore_rng


def _examples(lengths_and_groups):
    return [Example(input_ids=[1] * n, labels=[1] * n, group=g, answer=g % 2) for n, g in lengths_and_groups]


def test_batches_are_seeded_length_bucketed_and_grouped_by_question():
    examples = _examples([(5 + (i * 37) % 90, -1) for i in range(400)])
    bucketed = batching.epoch_batches(examples, 8, seed=1, epoch=0)
    assert bucketed == batching.epoch_batches(examples, 8, seed=1, epoch=0) != batching.epoch_batches(examples, 8, seed=1, epoch=1)
    plain = batching.epoch_batches(examples, 8, seed=1, epoch=0, bucket=False)

    def padding(batches):
        return sum(max(len(examples[i].input_ids) for i in b) * len(b) - sum(len(examples[i].input_ids) for i in b) for b in batches)

    assert padding(bucketed) < padding(plain) / 5
    assert sorted(i for b in bucketed for i in b) == list(range(400))
    grouped = _examples([(10, i % 10 if i < 200 else -1) for i in range(400)])
    def intact_runs(batches):  # runs of 4 same-question examples inside one batch
        return sum(n // 4 for b in batches for g, n in Counter(grouped[i].group for i in b).items() if g >= 0)

    assert intact_runs(batching.epoch_batches(grouped, 8, seed=1, epoch=0, group_size=4)) == 50  # 200 / 4: every run
    assert intact_runs(batching.epoch_batches(grouped, 8, seed=1, epoch=0, group_size=1)) < 5


def test_the_contrastive_term_pulls_same_answers_together_within_a_question():
    groups, answers = torch.tensor([0, 0, 0, 0, 1, -1]), torch.tensor([0, 0, 1, 1, 2, 3])
    aligned = torch.tensor([[1.0, 0], [1, 0], [0, 1], [0, 1], [1, 0], [1, 0]])
    crossed = torch.tensor([[1.0, 0], [0, 1], [1, 0], [0, 1], [1, 0], [1, 0]])
    low = objective.supervised_contrastive(aligned, groups, answers, 0.1)
    high = objective.supervised_contrastive(crossed, groups, answers, 0.1)
    expected = -torch.log(torch.tensor(1.0) / (1 + 2 * torch.exp(torch.tensor(-10.0))))  # positive at cos 1, two negatives at 0
    torch.testing.assert_close(low, expected)
    assert high > low + 5
    none = objective.supervised_contrastive(aligned, torch.full((6,), -1), answers, 0.1)
    assert float(none) == 0.0
    states = aligned.clone().requires_grad_()
    objective.supervised_contrastive(states, torch.full((6,), -1), answers, 0.1).backward()
    assert torch.isfinite(states.grad).all()


def test_the_contrastive_weight_changes_the_loss_and_training(opt_folder, tmp_path):
    module = inbedder_st.load_model(str(opt_folder), device="cpu")[0]
    examples, _ = build_examples(RECORDS, module.tokenizer, module.template, 96)
    assert batching.assign_groups(RECORDS, examples) == 2
    batch = batching.device_batch(examples[:12], module.pad_id, torch.device("cpu"))
    module.model.eval()
    plain, answer, zero = objective.training_losses(module.model, batch, 0.0)
    total, answer_again, contrastive = objective.training_losses(module.model, batch, 0.5)
    assert float(zero.detach()) == 0 and float(contrastive.detach()) > 0
    torch.testing.assert_close(answer, answer_again)
    torch.testing.assert_close(total, answer + 0.5 * contrastive)
    off = run(opt_folder, tmp_path / "off", max_steps=2)
    on = run(opt_folder, tmp_path / "on", max_steps=2, contrastive_weight=1.0, group_size=4)
    assert any(not torch.equal(on[n], off[n]) for n in off)
    log = [json.loads(line) for line in (tmp_path / "on" / "train_log.jsonl").read_text().splitlines()]
    assert all("contrastive_loss" in e for e in log if "loss" in e)


def test_the_contrastive_term_can_act_on_the_answer_dist_embedding_that_encode_returns(opt_folder, tmp_path):
    model = inbedder_st.load_model(str(opt_folder), device="cpu", pooling="answer_dist")
    module = model[0]
    module.model.eval()
    records = RECORDS[:4] + RECORDS[12:14]  # two questions, two answers each
    examples, _ = build_examples(records, module.tokenizer, module.template, 96)
    batch = batching.device_batch(examples, module.pad_id, torch.device("cpu"))
    vocab = module.model.get_output_embeddings().weight.shape[0]
    readout = objective.answer_dist_readout(module.model, dropped_token_mask(module.tokenizer, vocab, "punctuation"), 2.0)
    with torch.no_grad():
        _, states = objective.causal_forward(module.model, batch, with_state=True)
        trained = readout(states.float())
    served = torch.stack([torch.as_tensor(model.encode([r.input], prompt=r.instruction))[0] for r in records])
    torch.testing.assert_close(torch.nn.functional.normalize(trained, dim=-1), torch.nn.functional.normalize(served, dim=-1),
                               atol=1e-4, rtol=1e-4)  # fmt: skip
    with pytest.raises(ValueError, match="contrastive_readout"):
        run(opt_folder, tmp_path / "bad", max_steps=1, contrastive_weight=1.0, contrastive_readout="answer_sparse")
    on_state = run(opt_folder, tmp_path / "state", max_steps=2, contrastive_weight=1.0, group_size=4)
    on_dist = run(opt_folder, tmp_path / "dist", max_steps=2, contrastive_weight=1.0, group_size=4, contrastive_readout="answer_dist")
    assert any(not torch.equal(on_state[n], on_dist[n]) for n in on_state)


def test_the_step_with_the_lowest_validation_loss_is_kept(opt_folder, tmp_path, monkeypatch):
    scripted = iter([5.0, 3.0, 4.0, 4.0])  # steps 0, 2, 4, and the final evaluation

    def fake_metrics(*args, **kwargs):
        return {"validation_loss": next(scripted)}

    monkeypatch.setattr(loop_module, "validation_metrics", fake_metrics)
    module = inbedder_st.load_model(str(opt_folder), device="cpu")[0]
    result = train(module, RECORDS, config(tmp_path, keep="best", lora=False), show_progress_bar=False, validation_records=RECORDS[:4])
    assert result.best_step == 2 and result.best_validation_loss == 3.0 and result.validation_loss_before == 5.0
    best = json.loads((tmp_path / "best" / "state.json").read_text())
    assert best["step"] == 2
    from safetensors.torch import load_file

    kept = load_file(tmp_path / "best" / "trainable.safetensors")
    last = load_file(tmp_path / "checkpoint" / "trainable.safetensors")
    weights = dict(module.model.named_parameters())
    name = next(iter(kept))
    torch.testing.assert_close(weights[name].detach(), kept[name])
    assert not torch.equal(kept[name], last[name])


def test_a_run_stopped_between_evaluations_keeps_its_last_step_when_that_scores_best(opt_folder, tmp_path, monkeypatch):
    """Run 11 stopped at its time limit at step 199 with validation loss 1.16 and still kept step 100 (1.49):
    the final evaluation must compete with the evaluated steps."""
    scripted = iter([5.0, 2.0])  # step 0, and the final evaluation after the time limit stops step 1

    def fake_metrics(*args, **kwargs):
        return {"validation_loss": next(scripted)}

    monkeypatch.setattr(loop_module, "validation_metrics", fake_metrics)
    module = inbedder_st.load_model(str(opt_folder), device="cpu")[0]
    settings = config(tmp_path, keep="best", lora=False, time_limit_s=0.0)
    result = train(module, RECORDS, settings, show_progress_bar=False, validation_records=RECORDS[:4])
    assert result.stopped_at_time_limit and result.steps == 1
    assert result.best_step == 1 and result.best_validation_loss == 2.0
    from safetensors.torch import load_file

    last = load_file(tmp_path / "checkpoint" / "trainable.safetensors")
    weights = dict(module.model.named_parameters())
    assert all(torch.equal(weights[name].detach(), last[name]) for name in last)


def test_inbedder_train_with_labeled_data_runs_end_to_end(opt_folder, tmp_path):
    shared_file("labeled/tweeteval/emotion/train_text.txt")
    shared_file("qa/boolq_val.jsonl")
    from inbedder_st.cli import main

    output = tmp_path / "run"
    code = main(["train", "--data", "shared", "labeled", "--base", str(opt_folder), "--output", str(output), "--device", "cpu",
                 "--labeled-data", str(SHARED_DATA), "--limit-per-source", "20", "--labeled-per-source", "20",
                 "--max-steps", "3", "--batch-size", "8", "--grad-accum", "1", "--max-length", "512", "--eval-size", "8",
                 "--eval-steps", "2", "--save-steps", "2", "--validation-per-aspect", "3", "--contrastive-weight", "0.5", "--bf16",
                 "--extra-wordings", str(LISTED)])  # fmt: skip
    assert code == 0
    recipe = json.loads((output / "training_recipe.json").read_text())
    mix = recipe["mix"]
    assert list(mix["labeled"]["extra_wordings_sha256"]) == ["wordings_listed.json"]
    assert mix["qa_share"] >= 0.5 and "labeled" in recipe["data_files"]
    assert set(mix["labeled"]["trained"]["per_style"]) == {"open", "yes_no", "either_or", "implicit"}
    assert recipe["result"]["steps"] == 3 and recipe["result"]["validation_records"] > 10
    assert recipe["config"]["bf16"] and recipe["config"]["contrastive_weight"] == 0.5
    assert (output / "best" / "state.json").is_file() and (output / "adapter" / "adapter_model.safetensors").is_file()
    log = [json.loads(line) for line in (output / "train_log.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "validation_loss" in e] == [0, 2, 3]
    assert inbedder_st.load_model(str(output), device="cpu").encode(["I love it"], prompt="How does the author feel?").shape[0] == 1


@pytest.mark.parametrize(
    "extra, data, message",
    [
        ("/no/such/wordings.json", "labeled", "cannot read --extra-wordings file '/no/such/wordings.json'"),
        ("LISTED", "shared", "add 'labeled' to --data"),
        ("BAD", "labeled", "--extra-wordings: BAD: aspect 'colour' is neither in the wordings"),
    ],
)
def test_bad_extra_wordings_fail_before_the_model_loads(extra, data, message, tmp_path, capsys):
    from inbedder_st.cli import main

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"aspects": {"colour": {"train": {"open": ["What colour?"]}}}}))
    extra = {"LISTED": str(LISTED), "BAD": str(bad)}.get(extra, extra)
    code = main(["train", "--data", data, "--base", "/no/such/model", "--output", str(tmp_path / "run"), "--extra-wordings", extra])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message.replace("BAD", str(bad)) in err and len(err.splitlines()) == 1


def test_the_cached_prompt_tokenizer_gives_the_same_examples(opt_folder):
    from inbedder_st.prompt_ids import PromptTokenizer
    from inbedder_st.train.examples import CachedPromptTokenizer

    module = inbedder_st.load_model(str(opt_folder), device="cpu")[0]
    plain = PromptTokenizer(module.tokenizer, module.template, 96)
    cached = CachedPromptTokenizer(module.tokenizer, module.template, 96)
    cached.prefetch_records(RECORDS)
    for text in {field for r in RECORDS for field in (r.input, r.instruction, r.output)} | {"", "not prefetched"}:
        assert cached.ids_of(text) == plain.ids_of(text)
