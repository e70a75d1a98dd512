"""Robustness (dci/dii) of the shipped default against an earlier adapter, on the dev FewRel family.

The earlier adapter is read from git into a folder and swapped in through ``default.ADAPTER_DIR`` (its merged
model is cached under its own digest), so both models go through the same ``inbedder evaluate --robustness``:

    mkdir -p out/old-adapter && for f in adapter_config.json adapter_model.safetensors training_recipe.json; do
      git show 5b8af8b:inbedder_st/weights/inbedder-smollm2-135m-lora/$f > out/old-adapter/$f; done
    python benchmarks/robustness_default.py --output out/robust/new
    python benchmarks/robustness_default.py --adapter out/old-adapter --output out/robust/old

About 40 minutes per model on 2 CPU cores (640 texts x 31 instructions, one encode_multi pass).
"""

import argparse
from pathlib import Path

from inbedder_st import default, evaluation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, help="an adapter folder to use instead of the shipped one")
    parser.add_argument("--tasks", nargs="+", default=["FewRelRelationClustering"])
    parser.add_argument("--output", required=True)
    args = parser.parse_args()
    if args.adapter:
        default.ADAPTER_DIR = args.adapter
    output = Path(args.output)
    evaluation.run("default", args.tasks, output, robustness=True, embedding_cache=output / "embedding-cache")


if __name__ == "__main__":
    main()
