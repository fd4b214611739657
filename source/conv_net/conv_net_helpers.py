"""Helpers for the ``conv_net`` notebook (released to students).

Layers (``affine``, ``relu``, ``softmax_loss``, a fast max pool and *naive* loop versions of
the convolution and the max pool, to compare your fast convolution with), gradient checking
(``rel_error``, ``eval_numerical_gradient``, ``eval_numerical_gradient_array``), the digits
data set (it ships with scikit-learn: nothing is downloaded), a small ``Solver`` that trains
a model with SGD, SGD with momentum or Adam, and plotting helpers.

API conventions, as in the notebook: images are ``(N, C, H, W)``, filters ``(F, C, HH, WW)``;
every ``*_forward`` returns ``(out, cache)`` and every ``*_backward`` takes ``(dout, cache)``.
Everything uses only numpy and matplotlib (scikit-learn only to read the digits), and no
function modifies its inputs.
"""
from __future__ import annotations

import contextlib
import sys
import time
from typing import Callable

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss",
    "conv_forward_naive", "conv_backward_naive",
    "max_pool_forward_naive", "max_pool_backward_naive",
    "max_pool_forward_fast", "max_pool_backward_fast",
    "rel_error", "eval_numerical_gradient", "eval_numerical_gradient_array",
    "load_digits_data", "Solver", "sgd", "sgd_momentum", "adam", "best_time",
    "plot_training_history", "show_filters", "plot_speed_comparison",
]


# ------------------------------------------------------------------- simple layers

def affine_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray):
    """Fully connected layer: ``out = x.reshape(N, D) @ w + b``.

    - x: (N, d_1, ..., d_k), flattened row-major to (N, D) with D = d_1 * ... * d_k
    - w: (D, M); b: (M,)

    Returns (out, cache): out (N, M); cache = (x, w, b).
    """
    out = x.reshape(x.shape[0], -1) @ w + b
    return out, (x, w, b)


def affine_backward(dout: np.ndarray, cache):
    """Backward pass of ``affine_forward``.

    - dout: (N, M) upstream gradient; cache: from affine_forward.

    Returns (dx, dw, db): dx shaped like x (N, d_1, ..., d_k), dw (D, M), db (M,).
    """
    x, w, _ = cache
    dx = (dout @ w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T @ dout
    db = dout.sum(axis=0)
    return dx, dw, db


def relu_forward(x: np.ndarray):
    """ReLU, ``max(0, x)``, on an array of any shape. Returns (out, cache), out shaped like x."""
    return np.maximum(x, 0), x


def relu_backward(dout: np.ndarray, cache):
    """Backward pass of ``relu_forward``: dout (any shape) -> dx of the same shape."""
    x = cache
    return np.where(x > 0, dout, 0.0)


def softmax_loss(x: np.ndarray, y: np.ndarray):
    """Softmax cross-entropy loss, averaged over the minibatch.

    - x: (N, K) class scores; y: (N,) integer labels, 0 <= y[i] < K.

    Returns (loss, dx): loss a float, dx (N, K) the gradient of the loss w.r.t. x.
    """
    shifted = x - x.max(axis=1, keepdims=True)           # for numerical stability
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    N = x.shape[0]
    loss = float(-log_probs[np.arange(N), y].mean())
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    return loss, dx / N


# ------------------------------------------------- naive convolution and max pool

def conv_forward_naive(x: np.ndarray, w: np.ndarray, b: np.ndarray, conv_param: dict):
    """Convolution forward pass with explicit loops (slow, but simple and correct).

    - x: (N, C, H, W); w: (F, C, HH, WW); b: (F,)
    - conv_param: {'stride': int, 'pad': int} (zero padding on all four sides)

    Returns (out, cache): out (N, F, H', W') with H' = 1 + (H + 2*pad - HH) // stride,
    W' = 1 + (W + 2*pad - WW) // stride; cache = (x, w, b, conv_param).
    """
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho, Wo = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for r in range(Ho):
                for s in range(Wo):
                    window = xp[n, :, r * stride:r * stride + HH, s * stride:s * stride + WW]
                    out[n, f, r, s] = np.sum(window * w[f]) + b[f]
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout: np.ndarray, cache):
    """Convolution backward pass with explicit loops.

    - dout: (N, F, H', W'); cache: from conv_forward_naive.

    Returns (dx, dw, db) with shapes (N, C, H, W), (F, C, HH, WW), (F,).
    """
    x, w, _, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, Ho, Wo = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(N):
        for f in range(F):
            for r in range(Ho):
                for s in range(Wo):
                    rows = slice(r * stride, r * stride + HH)
                    cols = slice(s * stride, s * stride + WW)
                    dw[f] += dout[n, f, r, s] * xp[n, :, rows, cols]
                    dxp[n, :, rows, cols] += dout[n, f, r, s] * w[f]
    db = dout.sum(axis=(0, 2, 3))
    dx = dxp[:, :, pad:pad + H, pad:pad + W]
    return dx, dw, db


def _pool_sizes(x: np.ndarray, pool_param: dict):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    return ph, pw, stride, 1 + (H - ph) // stride, 1 + (W - pw) // stride


def max_pool_forward_naive(x: np.ndarray, pool_param: dict):
    """Max pooling forward pass with explicit loops.

    - x: (N, C, H, W); pool_param: {'pool_height', 'pool_width', 'stride'} (no padding)

    Returns (out, cache): out (N, C, H', W'), H' = 1 + (H - pool_height) // stride,
    W' = 1 + (W - pool_width) // stride; cache = (x, pool_param).
    """
    ph, pw, stride, Ho, Wo = _pool_sizes(x, pool_param)
    N, C = x.shape[:2]
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for s in range(Wo):
                    out[n, c, r, s] = x[n, c, r * stride:r * stride + ph, s * stride:s * stride + pw].max()
    return out, (x, pool_param)


def max_pool_backward_naive(dout: np.ndarray, cache):
    """Max pooling backward pass with explicit loops.

    - dout: (N, C, H', W'); cache: from max_pool_forward_naive (or _fast).

    Returns dx (N, C, H, W): each window's gradient goes to its maximum (the first one,
    in row-major order, if tied); overlapping windows add up.
    """
    x, pool_param = cache
    ph, pw, stride, Ho, Wo = _pool_sizes(x, pool_param)
    N, C = x.shape[:2]
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for r in range(Ho):
                for s in range(Wo):
                    window = x[n, c, r * stride:r * stride + ph, s * stride:s * stride + pw]
                    i, j = divmod(int(np.argmax(window)), pw)
                    dx[n, c, r * stride + i, s * stride + j] += dout[n, c, r, s]
    return dx


# -------------------------------------------------------------------- fast max pool

def _pool_taps(x: np.ndarray, pool_param: dict):
    """Yield (i, j, view) for every tap of the pooling window, in row-major order: view
    (N, C, H', W') holds x[n, c, r*stride + i, s*stride + j] for every window (r, s)."""
    ph, pw, stride, Ho, Wo = _pool_sizes(x, pool_param)
    for i in range(ph):
        for j in range(pw):
            yield i, j, x[:, :, i:i + stride * (Ho - 1) + 1:stride, j:j + stride * (Wo - 1) + 1:stride]


def max_pool_forward_fast(x: np.ndarray, pool_param: dict):
    """Vectorized max pooling forward pass; same API and results as max_pool_forward_naive.

    - x: (N, C, H, W); pool_param: {'pool_height', 'pool_width', 'stride'} (no padding;
      windows may overlap and need not tile).

    Loops over the pool_height * pool_width taps of the window only: each tap is a strided
    view of x with one entry per window, and the output is their elementwise maximum.
    Returns (out, cache): out (N, C, H', W'); cache = (x, pool_param).
    """
    out = None
    for _, _, tap in _pool_taps(x, pool_param):
        out = tap.copy() if out is None else np.maximum(out, tap, out=out)
    return out, (x, pool_param)


def max_pool_backward_fast(dout: np.ndarray, cache):
    """Vectorized max pooling backward pass; same API and results as max_pool_backward_naive.

    - dout: (N, C, H', W'); cache: from max_pool_forward_fast (or _naive).

    Returns dx (N, C, H, W): each window's gradient goes to its maximum, the first one in
    row-major order if tied (the taps are visited in that order and a window is taken by
    the first tap that equals its maximum); overlapping windows add up.
    """
    x, pool_param = cache
    out, _ = max_pool_forward_fast(x, pool_param)
    dx = np.zeros_like(x)
    taken = np.zeros(out.shape, dtype=bool)
    dx_taps = {(i, j): view for i, j, view in _pool_taps(dx, pool_param)}
    for i, j, tap in _pool_taps(x, pool_param):
        wins = (tap == out) & ~taken
        dx_taps[i, j] += np.where(wins, dout, 0.0)     # a view of dx: adds in place
        taken |= wins
    return dx


# --------------------------------------------------------------- gradient checking

def rel_error(x, y) -> float:
    """Maximum relative error ``max(|x - y| / max(1e-8, |x| + |y|))``; x, y broadcastable."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


def _numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float, verbose: bool, name: str = ""):
    """Centred differences of the scalar f() w.r.t. every entry of x (nudged in place, restored)."""
    if not np.issubdtype(x.dtype, np.floating):
        raise TypeError(f"{name or 'x'} must be a float array, got dtype {x.dtype}")
    grad = np.zeros_like(x)
    for ix in np.ndindex(*x.shape):
        old = x[ix]
        x[ix] = old + h
        fp = float(f())
        x[ix] = old - h
        fm = float(f())
        x[ix] = old
        grad[ix] = (fp - fm) / (2 * h)
        if verbose:
            print(name, ix, grad[ix])
    return grad


def eval_numerical_gradient(f: Callable, x, verbose: bool = False, h: float = 1e-5):
    """Numerical gradient of a scalar function, by centred differences.

    - f: function of one argument, returning a float: called as f(x).
    - x: a float array (any shape), or a dict of float arrays (e.g. ``model.params``).
      Every entry is nudged by +-h in place and restored, so x is unchanged afterwards.

    Returns an array shaped like x, or, for a dict, a dict with the same keys and shapes.
    """
    if isinstance(x, dict):
        return {k: _numerical_gradient(lambda: f(x), v, h, verbose, k) for k, v in x.items()}
    return _numerical_gradient(lambda: f(x), x, h, verbose)


def eval_numerical_gradient_array(f: Callable[[np.ndarray], np.ndarray], x: np.ndarray,
                                  df: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Centred-difference gradient of ``sum(f(x) * df)`` with respect to x.

    - f: takes an array shaped like x, returns an array shaped like df.
    - x: float array of any shape (nudged in place and restored).
    - df: upstream gradient, shaped like f(x).

    Returns an array shaped like x.
    """
    return _numerical_gradient(lambda: np.sum(np.asarray(f(x)) * df), x, h, False)


# -------------------------------------------------------------------------- data

def load_digits_data(seed: int = 0, num_val: int = 200, num_test: int = 200) -> dict:
    """The 1,797 8x8 handwritten digits that ship with scikit-learn (no download).

    Pixels (0..16) are scaled to [0, 1] and the mean training image is subtracted. The
    images are shuffled with ``seed`` and split into test (num_test), validation (num_val)
    and training (the rest, 1,397 by default).

    Returns a dict: X_train (N_train, 1, 8, 8) float64, y_train (N_train,) int64, X_val,
    y_val, X_test, y_test likewise, and mean_image (1, 8, 8), the mean that was subtracted.
    """
    from sklearn.datasets import load_digits  # imported here: it takes a second or two

    digits = load_digits()
    X = digits.images.astype(np.float64)[:, None, :, :] / 16.0
    y = digits.target.astype(np.int64)
    order = np.random.default_rng(seed).permutation(len(y))
    test, val, train = np.split(order, [num_test, num_test + num_val])
    mean_image = X[train].mean(axis=0)
    data = {"mean_image": mean_image}
    for name, idx in (("train", train), ("val", val), ("test", test)):
        data[f"X_{name}"] = X[idx] - mean_image
        data[f"y_{name}"] = y[idx]
    return data


# -------------------------------------------------------------- update rules

def sgd(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """Vanilla SGD: ``w - learning_rate * dw``. config: learning_rate (default 1e-2)."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    return w - config["learning_rate"] * dw, config


def sgd_momentum(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """SGD with momentum: ``v = momentum * v - learning_rate * dw; w + v``.

    config: learning_rate (1e-2), momentum (0.9), velocity (kept between calls).
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    config["velocity"] = v
    return w + v, config


def adam(w: np.ndarray, dw: np.ndarray, config: dict | None = None):
    """Adam (Kingma and Ba, 2015) with bias correction.

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), and the
    moving averages m, v and the step count t, kept between calls.
    """
    config = {} if config is None else config
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    b1, b2 = config["beta1"], config["beta2"]
    t = config.get("t", 0) + 1
    m = b1 * config.get("m", np.zeros_like(w)) + (1 - b1) * dw
    v = b2 * config.get("v", np.zeros_like(w)) + (1 - b2) * dw * dw
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    config.update(m=m, v=v, t=t)
    return w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"]), config


_UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "adam": adam}


# ------------------------------------------------------------------------ solver

class Solver:
    """Minibatch training of a classification model.

    The model needs ``model.params`` (a dict of arrays) and ``model.loss(X, y=None)``,
    returning the scores (N, classes) when y is None and (loss, grads) otherwise, where
    grads has the same keys and shapes as params.

    - data: dict with X_train, y_train, X_val, y_val.
    - update_rule: 'sgd', 'sgd_momentum' or 'adam'; optim_config: its settings
      (e.g. {'learning_rate': 1e-3}), copied for every parameter.
    - lr_decay: the learning rate is multiplied by this after every epoch.
    - batch_size, num_epochs: minibatch size and number of passes over the training set.
    - num_train_samples: training images used to measure the train accuracy each epoch
      (None: all); num_val_samples: likewise for validation.
    - time_limit: stop after the iteration that crosses this many seconds (None: no limit).
    - verbose: one progress line per epoch, rewritten in place ('\\r') while it runs, then
      the epoch's loss and accuracies.
    - seed: seeds the minibatch sampling.
    - blas_threads: BLAS threads while training (default 1: the small matrix products of
      a small net run faster on one thread than shared out; None leaves numpy's setting).
      Needs threadpoolctl, which scikit-learn installs; without it this does nothing.

    After ``train()`` the model holds the parameters of the epoch with the best validation
    accuracy. History: loss_history (per iteration), train_acc_history and
    val_acc_history (per epoch, starting with epoch 0 before any update), best_val_acc,
    train_seconds.
    """

    def __init__(self, model, data: dict, update_rule: str = "adam", optim_config: dict | None = None,
                 lr_decay: float = 1.0, batch_size: int = 100, num_epochs: int = 10,
                 num_train_samples: int | None = 1000, num_val_samples: int | None = None,
                 time_limit: float | None = None, verbose: bool = True, seed: int = 0,
                 blas_threads: int | None = 1):
        if update_rule not in _UPDATE_RULES:
            raise ValueError(f"unknown update_rule {update_rule!r}; use one of {sorted(_UPDATE_RULES)}")
        self.model = model
        self.X_train, self.y_train = data["X_train"], data["y_train"]
        self.X_val, self.y_val = data["X_val"], data["y_val"]
        self.update = _UPDATE_RULES[update_rule]
        self.optim_config = dict(optim_config or {})
        self.lr_decay = lr_decay
        self.batch_size = batch_size
        self.num_epochs = num_epochs
        self.num_train_samples = num_train_samples
        self.num_val_samples = num_val_samples
        self.time_limit = time_limit
        self.verbose = verbose
        self.blas_threads = blas_threads
        self.rng = np.random.default_rng(seed)
        self._reset()

    def _reset(self) -> None:
        self.epoch = 0
        self.best_val_acc = 0.0
        self.best_params = {}
        self.loss_history, self.train_acc_history, self.val_acc_history = [], [], []
        self.configs = {k: dict(self.optim_config) for k in self.model.params}
        self.train_seconds = 0.0

    def _step(self) -> float:
        idx = self.rng.choice(len(self.y_train), self.batch_size, replace=False)
        loss, grads = self.model.loss(self.X_train[idx], self.y_train[idx])
        for k, w in self.model.params.items():
            self.model.params[k], self.configs[k] = self.update(w, grads[k], self.configs[k])
        return float(loss)

    def check_accuracy(self, X: np.ndarray, y: np.ndarray, num_samples: int | None = None,
                       batch_size: int = 200) -> float:
        """Fraction of X (N, ...) that the model labels as y (N,); on a random subset of
        num_samples images if given, scored in batches of batch_size."""
        if num_samples is not None and num_samples < len(y):
            idx = self.rng.choice(len(y), num_samples, replace=False)
            X, y = X[idx], y[idx]
        preds = [np.argmax(self.model.loss(X[i:i + batch_size]), axis=1) for i in range(0, len(y), batch_size)]
        return float(np.mean(np.concatenate(preds) == y))

    def _record_epoch(self) -> None:
        train_acc = self.check_accuracy(self.X_train, self.y_train, self.num_train_samples)
        val_acc = self.check_accuracy(self.X_val, self.y_val, self.num_val_samples)
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        if val_acc > self.best_val_acc or not self.best_params:
            self.best_val_acc = val_acc
            self.best_params = {k: v.copy() for k, v in self.model.params.items()}

    def _progress(self, it: int, per_epoch: int, loss: float, start: float, end: str = "") -> None:
        done = it / per_epoch
        bar = "#" * int(20 * done) + "." * (20 - int(20 * done))
        sys.stdout.write(f"\repoch {self.epoch + 1}/{self.num_epochs} [{bar}] {it}/{per_epoch}  "
                         f"loss {loss:.4f}  {time.perf_counter() - start:5.1f} s{end}")
        sys.stdout.flush()

    def train(self) -> None:
        """Run the optimization (see the class docstring)."""
        with blas_threads(self.blas_threads):
            self._train()

    def _train(self) -> None:
        self._reset()
        start = time.perf_counter()
        per_epoch = max(len(self.y_train) // self.batch_size, 1)
        self._record_epoch()
        if self.verbose:
            print(f"epoch 0/{self.num_epochs}: train acc {self.train_acc_history[-1]:.3f}, "
                  f"val acc {self.val_acc_history[-1]:.3f}")
        out_of_time = False
        shown = 0.0
        for self.epoch in range(self.num_epochs):
            for it in range(1, per_epoch + 1):
                self.loss_history.append(self._step())
                now = time.perf_counter()
                out_of_time = self.time_limit is not None and now - start > self.time_limit
                if self.verbose and (now - shown > 0.25 or it == per_epoch or out_of_time):
                    self._progress(it, per_epoch, self.loss_history[-1], start)
                    shown = now
                if out_of_time:
                    break
            for k in self.configs:
                if "learning_rate" in self.configs[k]:
                    self.configs[k]["learning_rate"] *= self.lr_decay
            self._record_epoch()
            if self.verbose:
                print(f"  train acc {self.train_acc_history[-1]:.3f}, val acc {self.val_acc_history[-1]:.3f}")
            if out_of_time:
                if self.verbose:
                    print(f"stopped: time limit of {self.time_limit} s reached")
                break
        self.epoch += 1
        self.train_seconds = time.perf_counter() - start
        self.model.params.update(self.best_params)
        if self.verbose:
            print(f"done in {self.train_seconds:.1f} s; best val acc {self.best_val_acc:.3f} "
                  "(the model now holds those parameters)")


# -------------------------------------------------------------------- timing and plots

def blas_threads(n: int | None):
    """A context in which numpy's BLAS uses at most ``n`` threads (None: numpy's setting).
    Needs threadpoolctl, which scikit-learn installs; without it this does nothing."""
    if n is None:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return contextlib.nullcontext()
    return threadpool_limits(limits=n, user_api="blas")


def best_time(fn: Callable[[], object], repeat: int = 3) -> float:
    """Best wall-clock seconds of ``repeat`` calls of fn(), with one BLAS thread: on a busy
    machine, BLAS threads waiting for each other make a fast layer look slow."""
    best = float("inf")
    with blas_threads(1):
        for _ in range(repeat):
            start = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - start)
    return best


def plot_training_history(solver: Solver) -> Figure:
    """Training loss per iteration (with a moving average) and train/val accuracy per epoch.

    Returns the matplotlib Figure.
    """
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 3.8))
    loss = np.asarray(solver.loss_history)
    ax_loss.plot(loss, ".", markersize=2, alpha=0.4, label="minibatch")
    k = max(1, len(loss) // 20)
    if len(loss) >= k:
        smooth = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax_loss.plot(np.arange(k - 1, len(loss)), smooth, label=f"mean of {k}")
    ax_loss.set(xlabel="iteration", ylabel="training loss", title="Training loss")
    ax_loss.legend()
    epochs = np.arange(len(solver.train_acc_history))
    ax_acc.plot(epochs, solver.train_acc_history, "o-", label="train")
    ax_acc.plot(epochs, solver.val_acc_history, "o-", label="val")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="Classification accuracy", ylim=(0, 1.02))
    ax_acc.legend(loc="lower right")
    fig.tight_layout()
    return fig


def show_filters(W1: np.ndarray, title: str = "First-layer filters") -> Figure:
    """Show the filters W1 (F, C, HH, WW) of a first conv layer, one small image each:
    grayscale for C == 1, RGB for C == 3, the mean over channels otherwise. Each filter is
    rescaled on its own to its full range. Returns the Figure."""
    W1 = np.asarray(W1, dtype=np.float64)
    imgs = W1.transpose(0, 2, 3, 1)
    if imgs.shape[3] not in (1, 3):
        imgs = imgs.mean(axis=3, keepdims=True)
    F = imgs.shape[0]
    cols = int(np.ceil(np.sqrt(F)))
    rows = int(np.ceil(F / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(0.9 * cols + 0.4, 0.9 * rows + 0.6), squeeze=False)
    for idx, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if idx >= F:
            continue
        img = imgs[idx]
        lo, hi = img.min(), img.max()
        img = (img - lo) / max(hi - lo, 1e-12)
        if img.shape[2] == 1:
            ax.imshow(img[:, :, 0], cmap="gray", interpolation="nearest", vmin=0, vmax=1)
        else:
            ax.imshow(img, interpolation="nearest")
    fig.suptitle(title)
    return fig


def plot_speed_comparison(labels: list[str], naive_seconds: list[float], fast_seconds: list[float]) -> Figure:
    """Bar plot (log scale) of naive and fast run times, one pair of bars per label,
    each pair annotated with its speedup. Returns the Figure."""
    pos = np.arange(len(labels))
    fig, ax = plt.subplots(figsize=(max(6.0, 1.8 * len(labels)), 3.8))
    ax.bar(pos - 0.2, naive_seconds, 0.4, label="naive")
    ax.bar(pos + 0.2, fast_seconds, 0.4, label="fast")
    for p, slow, fast in zip(pos, naive_seconds, fast_seconds):
        ax.annotate(f"{slow / fast:.0f}x", (p + 0.2, fast), ha="center", va="bottom",
                    xytext=(0, 3), textcoords="offset points")
    ax.set_yscale("log")
    ax.set_xticks(pos, labels)
    ax.set(ylabel="seconds (log scale)", title="Naive loops vs your fast convolution")
    ax.legend()
    fig.tight_layout()
    return fig
