"""The numbers of a head: base embeddings X (n x d_in) and targets Y (n x d_out) -> layers.

Pure numpy/torch, no models: ``ridge`` (closed form, the ridge strength chosen by k-fold validation on the
sample itself), ``mlp`` (two layers, cosine loss, early stopping on a held-out part of the sample) and the
targets of the two objectives (``embedding_targets``: the teacher's normalised embeddings; ``label_targets``:
answer groups as the class-mean-scaled indicator matrix of optimal scoring, whose ridge solution spans LDA's
discriminant directions).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RIDGE_GRID = (1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)  # x trace(X'X)/d_in: scale-free
FOLDS = 5


@dataclass
class Layer:
    """``activation(x @ weight.T + bias)``: the numbers of one sentence-transformers ``Dense``."""

    weight: np.ndarray  # (out_features, in_features)
    bias: np.ndarray  # (out_features,)
    activation: str = "identity"  # "identity" or "gelu"


def embedding_targets(teacher_embeddings: np.ndarray) -> np.ndarray:
    """The teacher's embeddings, L2-normalised and centred: cosine between head outputs then tracks how the
    teacher's embeddings *differ*, not the direction they all share."""
    y = np.asarray(teacher_embeddings, dtype=np.float64)
    y = y / np.maximum(np.linalg.norm(y, axis=1, keepdims=True), 1e-12)
    return y - y.mean(axis=0)


def label_targets(labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Optimal-scoring targets of LDA: column c is 1/sqrt(n_c) on the texts of group c, then centred."""
    groups = sorted(set(labels))
    index = {group: i for i, group in enumerate(groups)}
    y = np.zeros((len(labels), len(groups)))
    y[np.arange(len(labels)), [index[label] for label in labels]] = 1.0
    y /= np.sqrt(y.sum(axis=0, keepdims=True))
    return y - y.mean(axis=0), groups


def ridge(x: np.ndarray, y: np.ndarray, *, seed: int = 0) -> tuple[Layer, dict[str, float]]:
    """Least squares with an L2 penalty, the penalty picked by k-fold validation (mean cosine to the target)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    scale = np.trace(x.T @ x) / x.shape[1] / len(x)
    folds = np.array_split(np.random.default_rng(seed).permutation(len(x)), FOLDS)
    scores = []
    for strength in RIDGE_GRID:
        cosines = []
        for fold in folds:
            train = np.setdiff1d(np.arange(len(x)), fold)
            weight, bias = _ridge(x[train], y[train], strength * scale * len(train))
            cosines.append(_row_cosines(x[fold] @ weight + bias, y[fold]))
        scores.append(float(np.mean(np.concatenate(cosines))))
    best = int(np.argmax(scores))
    weight, bias = _ridge(x, y, RIDGE_GRID[best] * scale * len(x))
    return Layer(weight.T.copy(), bias), {"ridge_strength": RIDGE_GRID[best], "cv_cosine": scores[best]}


def _ridge(x: np.ndarray, y: np.ndarray, penalty: float) -> tuple[np.ndarray, np.ndarray]:
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc = x - x_mean
    weight = np.linalg.solve(xc.T @ xc + penalty * np.eye(x.shape[1]), xc.T @ (y - y_mean))
    return weight, y_mean - x_mean @ weight


def mlp(
    x: np.ndarray,
    y: np.ndarray,
    *,
    hidden: int = 512,
    seed: int = 0,
    max_epochs: int = 400,
    patience: int = 30,
    weight_decay: float = 1e-3,
) -> tuple[list[Layer], dict[str, float]]:
    """Linear -> GELU -> Linear, full-batch AdamW on 1 - cos(output, target); 20% of the sample is held out
    for early stopping and the epoch with the best held-out cosine is kept."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(x), generator=generator)
    held = order[: max(1, len(x) // 5)]
    train = order[len(held) :]
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(x.shape[1], hidden), torch.nn.GELU(), torch.nn.Linear(hidden, y.shape[1])
        )
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=weight_decay)
    best, best_state, waited = -2.0, None, 0
    for _ in range(max_epochs):
        net.train()
        optimizer.zero_grad()
        loss = 1 - torch.nn.functional.cosine_similarity(net(xt[train]), yt[train]).mean()
        loss.backward()
        optimizer.step()
        net.eval()
        with torch.no_grad():
            score = torch.nn.functional.cosine_similarity(net(xt[held]), yt[held]).mean().item()
        if score > best:
            best, best_state, waited = score, {k: v.clone() for k, v in net.state_dict().items()}, 0
        else:
            waited += 1
            if waited >= patience:
                break
    net.load_state_dict(best_state)
    first, second = net[0], net[2]
    layers = [
        Layer(first.weight.detach().numpy().copy(), first.bias.detach().numpy().copy(), "gelu"),
        Layer(second.weight.detach().numpy().copy(), second.bias.detach().numpy().copy()),
    ]
    return layers, {"held_out_cosine": best}


def forward(layers: list[Layer], x: np.ndarray) -> np.ndarray:
    """The head's output before normalisation (numpy; the same arithmetic as the Dense modules)."""
    out = np.asarray(x, dtype=np.float32)
    for layer in layers:
        out = out @ layer.weight.T.astype(np.float32) + layer.bias.astype(np.float32)
        if layer.activation == "gelu":
            import torch

            out = torch.nn.functional.gelu(torch.from_numpy(out)).numpy()
    return out


def _row_cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return np.einsum("ij,ij->i", a, b) / np.maximum(norms, 1e-12)
