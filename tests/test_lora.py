"""LoRA merging by hand (inbedder_st.lora) on a tiny Llama: equal to peft's own merge, and two adapters stacked
into one merge to the same weights as the two merged in turn (how a run on top of the default is shipped)."""

import json

import pytest
import torch
from safetensors.torch import load_file
from tiny_models import build_llama
from transformers import AutoModelForCausalLM

from inbedder_st.lora import merge_lora, stack_adapters

# peft 0.21 reads transformers' deprecated `is_gradient_checkpointing` in get_peft_model (as in train/loop.py)
pytestmark = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")


@pytest.fixture(scope="module")
def llama_folder(tmp_path_factory):
    return build_llama(tmp_path_factory.mktemp("llama"))


def random_adapter(base_folder, folder, rank, alpha, targets, seed):
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(seed)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_folder),
                           LoraConfig(r=rank, lora_alpha=alpha, target_modules=targets, task_type="CAUSAL_LM"))  # fmt: skip
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:  # peft starts B at zero (a no-op adapter)
                parameter.normal_(std=0.5)
    model.save_pretrained(folder)  # adapter_config.json + adapter_model.safetensors
    return model


def weights(model):
    return {name: tensor.clone() for name, tensor in model.state_dict().items()}


def test_merge_lora_equals_peft_merge(llama_folder, tmp_path):
    peft_model = random_adapter(llama_folder, tmp_path / "a", 2, 8, ["q_proj", "down_proj"], seed=1)
    expected = weights(peft_model.merge_and_unload())
    merged = weights(merge_lora(AutoModelForCausalLM.from_pretrained(llama_folder), tmp_path / "a"))
    assert merged.keys() == expected.keys()
    for name in expected:
        torch.testing.assert_close(merged[name], expected[name], atol=1e-5, rtol=1e-5)


def test_two_stacked_adapters_merge_like_the_two_in_turn(llama_folder, tmp_path):
    targets = ["q_proj", "v_proj", "up_proj"]
    random_adapter(llama_folder, tmp_path / "first", 2, 8, targets, seed=1)  # scale 4
    random_adapter(llama_folder, tmp_path / "second", 3, 3, targets, seed=2)  # scale 1
    base = weights(AutoModelForCausalLM.from_pretrained(llama_folder))
    in_turn = weights(merge_lora(merge_lora(AutoModelForCausalLM.from_pretrained(llama_folder), tmp_path / "first"),
                                 tmp_path / "second"))  # fmt: skip
    stack_adapters(tmp_path / "first", tmp_path / "second", tmp_path / "stacked")
    stacked = weights(merge_lora(AutoModelForCausalLM.from_pretrained(llama_folder), tmp_path / "stacked"))
    changed = [name for name in base if not torch.equal(in_turn[name], base[name])]
    assert len(changed) == 2 * 3  # 2 layers x 3 targets
    for name in base:
        torch.testing.assert_close(stacked[name], in_turn[name], atol=1e-5, rtol=1e-5)


def test_adapters_of_different_layers_or_not_plain_lora_are_not_stacked(llama_folder, tmp_path):
    random_adapter(llama_folder, tmp_path / "q", 2, 4, ["q_proj"], seed=1)
    random_adapter(llama_folder, tmp_path / "v", 2, 4, ["v_proj"], seed=2)
    with pytest.raises(ValueError, match="adapt different layers.*q_proj|adapt different layers.*v_proj"):
        stack_adapters(tmp_path / "q", tmp_path / "v", tmp_path / "stacked")
    config = tmp_path / "v" / "adapter_config.json"
    config.write_text(json.dumps({**json.loads(config.read_text()), "use_dora": True}))
    with pytest.raises(ValueError, match="is not a plain LoRA adapter"):
        stack_adapters(tmp_path / "v", tmp_path / "v", tmp_path / "stacked")  # a DoRA adapter is not merged as LoRA


def test_a_run_trained_on_top_of_an_adapter_ships_as_one_fp16_adapter(llama_folder, tmp_path):
    from inbedder_st.train.ship import ship_adapter

    targets = ["k_proj", "gate_proj"]
    random_adapter(llama_folder, tmp_path / "shipped", 2, 4, targets, seed=3)
    (tmp_path / "shipped" / "training_recipe.json").write_text('{"base": "backbone"}')
    random_adapter(llama_folder, tmp_path / "run" / "adapter", 2, 4, targets, seed=4)
    (tmp_path / "run" / "training_recipe.json").write_text('{"base": "backbone + shipped"}')
    in_turn = weights(merge_lora(merge_lora(AutoModelForCausalLM.from_pretrained(llama_folder), tmp_path / "shipped"),
                                 tmp_path / "run" / "adapter"))  # fmt: skip
    target = ship_adapter(tmp_path / "run", tmp_path / "shipped", on_top_of=tmp_path / "shipped")  # replaces it
    recipe = json.loads((target / "training_recipe.json").read_text())
    assert recipe == {"base": "backbone + shipped", "on_top_of": {"base": "backbone"}}
    assert json.loads((target / "adapter_config.json").read_text())["r"] == 4
    assert {t.dtype for t in load_file(target / "adapter_model.safetensors").values()} == {torch.float16}
    shipped = weights(merge_lora(AutoModelForCausalLM.from_pretrained(llama_folder), target))
    for name in in_turn:
        torch.testing.assert_close(shipped[name], in_turn[name], atol=2e-3, rtol=2e-3)  # fp16 storage
