"""Tests for autograder/reference.py against independent oracles.

Oracles here are deliberately naive: explicit Python loops over every index
(forward passes) and centered finite differences (backward passes). They share
no code with the reference beyond ``output_size`` being checked on its own.
"""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from autograder.assignments.conv_layers.reference import (
    conv_backward,
    conv_forward,
    max_pool_backward,
    max_pool_forward,
    output_size,
)

SETTINGS = settings(max_examples=25, deadline=None)


# --------------------------------------------------------------------------- oracles

def naive_conv_forward(x, w, b, stride, pad):
    """Definition: out[n,f,i,j] = b[f] + sum_{c,ki,kj} xpad[n,c,i*s+ki,j*s+kj] * w[f,c,ki,kj]."""
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    Ho = (H + 2 * pad - HH) // stride + 1
    Wo = (W + 2 * pad - WW) // stride + 1
    out = np.zeros((N, F, Ho, Wo))
    for n in range(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    total = b[f]
                    for c in range(C):
                        for ki in range(HH):
                            for kj in range(WW):
                                r, s = i * stride + ki - pad, j * stride + kj - pad
                                if 0 <= r < H and 0 <= s < W:  # outside = zero padding
                                    total += x[n, c, r, s] * w[f, c, ki, kj]
                    out[n, f, i, j] = total
    return out


def naive_max_pool(x, ph, pw, stride):
    N, C, H, W = x.shape
    Ho, Wo = (H - ph) // stride + 1, (W - pw) // stride + 1
    out = np.zeros((N, C, Ho, Wo))
    for n in range(N):
        for c in range(C):
            for i in range(Ho):
                for j in range(Wo):
                    best = -np.inf
                    for a in range(ph):
                        for bb in range(pw):
                            best = max(best, x[n, c, i * stride + a, j * stride + bb])
                    out[n, c, i, j] = best
    return out


def numerical_grad(f, a, h=1e-5):
    """Centered difference (f(a+h) - f(a-h)) / 2h for every element of a (a is not modified)."""
    grad = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        plus, minus = a.copy(), a.copy()
        plus[idx] += h
        minus[idx] -= h
        grad[idx] = (f(plus) - f(minus)) / (2 * h)
    return grad


def rel_error(a, b):
    """Norm-wise relative error; robust to individual near-zero gradient entries."""
    denom = max(np.linalg.norm(a), np.linalg.norm(b))
    return 0.0 if denom == 0 else np.linalg.norm(a - b) / denom


# --------------------------------------------------------------------------- strategies

@st.composite
def conv_cases(draw):
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    HH, WW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    stride, pad = draw(st.integers(1, 3)), draw(st.integers(0, 2))
    H = draw(st.integers(max(1, HH - 2 * pad), 6))
    W = draw(st.integers(max(1, WW - 2 * pad), 6))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal((N, C, H, W))
    w = rng.standard_normal((F, C, HH, WW))
    b = rng.standard_normal(F)
    Ho, Wo = output_size(H, HH, stride, pad), output_size(W, WW, stride, pad)
    dout = rng.standard_normal((N, F, Ho, Wo))
    return x, w, b, dout, stride, pad


@st.composite
def pool_cases(draw):
    N, C = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    ph, pw, stride = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    H, W = draw(st.integers(ph, 7)), draw(st.integers(pw, 7))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    # Distinct values spaced 0.1 apart: no ties, and a 1e-5 nudge never changes an argmax.
    x = (rng.permutation(N * C * H * W).reshape(N, C, H, W) - N * C * H * W / 2) * 0.1
    dout = rng.standard_normal((N, C, output_size(H, ph, stride), output_size(W, pw, stride)))
    return x, ph, pw, stride, dout


# --------------------------------------------------------------------------- output_size

class TestOutputSize:
    @pytest.mark.parametrize(
        "size, kernel, stride, pad, expected",
        [
            (5, 3, 1, 0, 3),
            (5, 3, 2, 1, 3),
            (4, 2, 2, 0, 2),
            (6, 3, 2, 0, 2),  # floor: last column left over
            (7, 2, 3, 0, 2),
            (3, 1, 1, 0, 3),
            (1, 3, 1, 1, 1),
            (4, 4, 1, 0, 1),
        ],
    )
    def test_known_values(self, size, kernel, stride, pad, expected):
        assert output_size(size, kernel, stride, pad) == expected

    def test_pad_defaults_to_zero(self):
        assert output_size(7, 3, 2) == output_size(7, 3, 2, 0) == 3

    @SETTINGS
    @given(st.integers(1, 30), st.integers(1, 7), st.integers(1, 5), st.integers(0, 3))
    def test_counts_window_starts(self, size, kernel, stride, pad):
        padded = size + 2 * pad
        if kernel > padded:
            with pytest.raises(ValueError):
                output_size(size, kernel, stride, pad)
        else:
            assert output_size(size, kernel, stride, pad) == len(range(0, padded - kernel + 1, stride))


# --------------------------------------------------------------------------- conv_forward

class TestConvForward:
    def test_hand_computed_3x3_with_2x2_kernel(self):
        # x = [[0,1,2],[3,4,5],[6,7,8]], w = [[1,2],[3,4]], b = 1, stride 1, pad 0.
        # top-left:  0*1 + 1*2 + 3*3 + 4*4 = 27 -> 28
        # top-right: 1*1 + 2*2 + 4*3 + 5*4 = 37 -> 38
        # bot-left:  3*1 + 4*2 + 6*3 + 7*4 = 57 -> 58
        # bot-right: 4*1 + 5*2 + 7*3 + 8*4 = 67 -> 68   (no kernel flip)
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
        out = conv_forward(x, w, np.array([1.0]), stride=1, pad=0)
        np.testing.assert_array_equal(out, [[[[28.0, 38.0], [58.0, 68.0]]]])
        assert out.dtype == np.float64

    def test_hand_computed_zero_padding(self):
        # 2x2 ones, 3x3 ones kernel, pad 1: every window sees all four ones -> 4.
        out = conv_forward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), np.zeros(1), 1, 1)
        np.testing.assert_array_equal(out, np.full((1, 1, 2, 2), 4.0))

    def test_1x1_kernel_is_channel_mixing(self):
        rng = np.random.default_rng(0)
        x, w, b = rng.standard_normal((2, 3, 4, 5)), rng.standard_normal((4, 3, 1, 1)), rng.standard_normal(4)
        expected = np.einsum("nchw,fc->nfhw", x, w[:, :, 0, 0]) + b[:, None, None]
        np.testing.assert_allclose(conv_forward(x, w, b, 1, 0), expected, rtol=1e-12, atol=1e-12)

    @SETTINGS
    @given(conv_cases())
    def test_matches_naive_loops(self, case):
        x, w, b, _, stride, pad = case
        out = conv_forward(x, w, b, stride, pad)
        assert out.dtype == np.float64
        np.testing.assert_allclose(out, naive_conv_forward(x, w, b, stride, pad), rtol=1e-12, atol=1e-12)

    def test_channel_mismatch_raises(self):
        with pytest.raises(ValueError, match="channel"):
            conv_forward(np.zeros((1, 3, 4, 4)), np.zeros((2, 2, 3, 3)), np.zeros(2), 1, 0)

    def test_kernel_larger_than_padded_input_raises(self):
        with pytest.raises(ValueError, match="larger"):
            conv_forward(np.zeros((1, 1, 2, 2)), np.zeros((1, 1, 5, 5)), np.zeros(1), 1, 1)

    def test_bias_shape_mismatch_raises(self):
        with pytest.raises(ValueError):
            conv_forward(np.zeros((1, 1, 3, 3)), np.zeros((2, 1, 2, 2)), np.zeros(3), 1, 0)


# --------------------------------------------------------------------------- conv_backward

class TestConvBackward:
    def test_hand_computed_pad0(self):
        # Same x, w as the forward case, dout = ones.
        # dx[r,s] = sum of w taps landing on (r,s):  [[1, 1+2, 2], [1+3, 1+2+3+4, 2+4], [3, 3+4, 4]]
        # dw[i,j] = sum of x over the 4 windows shifted by (i,j): 0+1+3+4=8, 12, 20, 24
        x = np.arange(9.0).reshape(1, 1, 3, 3)
        w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
        dx, dw, db = conv_backward(np.ones((1, 1, 2, 2)), x, w, stride=1, pad=0)
        np.testing.assert_array_equal(dx, [[[[1, 3, 2], [4, 10, 6], [3, 7, 4]]]])
        np.testing.assert_array_equal(dw, [[[[8, 12], [20, 24]]]])
        np.testing.assert_array_equal(db, [4.0])

    def test_non_tiling_leaves_last_row_and_col_zero(self):
        # 5x5 input, 2x2 kernel, stride 2: windows cover rows/cols 0..3 only.
        rng = np.random.default_rng(1)
        x, w = rng.standard_normal((2, 2, 5, 5)), rng.standard_normal((3, 2, 2, 2))
        dout = rng.standard_normal((2, 3, 2, 2))
        dx, _, _ = conv_backward(dout, x, w, stride=2, pad=0)
        assert dx.shape == x.shape
        np.testing.assert_array_equal(dx[:, :, 4, :], 0.0)
        np.testing.assert_array_equal(dx[:, :, :, 4], 0.0)
        assert np.all(dx[:, :, :4, :4] != 0.0)

    @SETTINGS
    @given(conv_cases())
    def test_matches_numerical_gradient(self, case):
        x, w, b, dout, stride, pad = case
        dx, dw, db = conv_backward(dout, x, w, stride, pad)
        assert (dx.shape, dw.shape, db.shape) == (x.shape, w.shape, b.shape)
        assert dx.dtype == dw.dtype == db.dtype == np.float64

        def loss(xx, ww, bb):
            return np.sum(conv_forward(xx, ww, bb, stride, pad) * dout)

        assert rel_error(dx, numerical_grad(lambda v: loss(v, w, b), x)) < 1e-7
        assert rel_error(dw, numerical_grad(lambda v: loss(x, v, b), w)) < 1e-7
        assert rel_error(db, numerical_grad(lambda v: loss(x, w, v), b)) < 1e-7

    def test_dout_shape_mismatch_raises(self):
        with pytest.raises(ValueError, match="dout"):
            conv_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 2, 2)), 1, 0)

    def test_channel_mismatch_raises(self):
        with pytest.raises(ValueError, match="channel"):
            conv_backward(np.zeros((1, 1, 2, 2)), np.zeros((1, 2, 3, 3)), np.zeros((1, 3, 2, 2)), 1, 0)


# --------------------------------------------------------------------------- max_pool_forward

class TestMaxPoolForward:
    def test_hand_computed_2x2_stride2(self):
        x = np.array([[[[1.0, 5.0, 2.0, 0.0],
                        [3.0, 4.0, 8.0, 7.0],
                        [0.0, 0.0, 1.0, 1.0],
                        [9.0, 0.0, 1.0, 6.0]]]])
        np.testing.assert_array_equal(max_pool_forward(x, 2, 2, 2), [[[[5.0, 8.0], [9.0, 6.0]]]])

    @SETTINGS
    @given(pool_cases())
    def test_matches_naive_loops(self, case):
        x, ph, pw, stride, _ = case
        out = max_pool_forward(x, ph, pw, stride)
        assert out.dtype == np.float64
        np.testing.assert_array_equal(out, naive_max_pool(x, ph, pw, stride))

    def test_pool_larger_than_input_raises(self):
        with pytest.raises(ValueError):
            max_pool_forward(np.zeros((1, 1, 2, 2)), 3, 3, 1)


# --------------------------------------------------------------------------- max_pool_backward

class TestMaxPoolBackward:
    def test_overlapping_windows_accumulate(self):
        # x = [[1, 9, 2], [3, 4, 5]], 2x2 pool, stride 1 -> two windows (cols 0-1, cols 1-2),
        # both with max 9 at (0,1). dout = [[2, 5]] so dx[0,1] = 2 + 5 = 7, all else 0.
        x = np.array([[[[1.0, 9.0, 2.0], [3.0, 4.0, 5.0]]]])
        np.testing.assert_array_equal(max_pool_forward(x, 2, 2, 1), [[[[9.0, 9.0]]]])
        dx = max_pool_backward(np.array([[[[2.0, 5.0]]]]), x, 2, 2, 1)
        np.testing.assert_array_equal(dx, [[[[0.0, 7.0, 0.0], [0.0, 0.0, 0.0]]]])

    def test_ties_go_to_first_max_in_row_major_order(self):
        # All equal: each window picks its own top-left element.
        x = np.ones((1, 1, 3, 3))
        dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
        dx = max_pool_backward(dout, x, 2, 2, 1)
        np.testing.assert_array_equal(dx, [[[[1, 2, 0], [3, 4, 0], [0, 0, 0]]]])

    def test_non_square_pool_non_tiling(self):
        # 3x5 input, 1x2 pool, stride 2: windows start at rows {0, 2} and cols {0, 2},
        # so row 1 and column 4 are never covered -> zero gradient there.
        x = np.array([[[[1.0, 2.0, 4.0, 3.0, 99.0],
                        [6.0, 5.0, 7.0, 8.0, 99.0],
                        [0.0, -1.0, -3.0, -2.0, 99.0]]]])
        dout = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
        np.testing.assert_array_equal(max_pool_forward(x, 1, 2, 2), [[[[2.0, 4.0], [0.0, -2.0]]]])
        dx = max_pool_backward(dout, x, 1, 2, 2)
        np.testing.assert_array_equal(dx, [[[[0, 1, 2, 0, 0],
                                             [0, 0, 0, 0, 0],
                                             [3, 0, 0, 4, 0]]]])

    @SETTINGS
    @given(pool_cases())
    def test_matches_numerical_gradient(self, case):
        x, ph, pw, stride, dout = case
        dx = max_pool_backward(dout, x, ph, pw, stride)
        assert dx.shape == x.shape and dx.dtype == np.float64
        num = numerical_grad(lambda v: np.sum(max_pool_forward(v, ph, pw, stride) * dout), x)
        assert rel_error(dx, num) < 1e-7

    @SETTINGS
    @given(pool_cases())
    def test_gradient_mass_is_conserved(self, case):
        # Every window routes all of its gradient somewhere, so totals match.
        x, ph, pw, stride, dout = case
        np.testing.assert_allclose(max_pool_backward(dout, x, ph, pw, stride).sum(), dout.sum(), atol=1e-12)

    def test_dout_shape_mismatch_raises(self):
        with pytest.raises(ValueError, match="dout"):
            max_pool_backward(np.zeros((1, 1, 3, 3)), np.zeros((1, 1, 4, 4)), 2, 2, 2)


# --------------------------------------------------------------------------- purity

class TestPurity:
    @SETTINGS
    @given(conv_cases())
    def test_conv_does_not_modify_inputs(self, case):
        x, w, b, dout, stride, pad = case
        saved = [a.copy() for a in (x, w, b, dout)]
        out = conv_forward(x, w, b, stride, pad)
        grads = conv_backward(dout, x, w, stride, pad)
        for before, after in zip(saved, (x, w, b, dout)):
            np.testing.assert_array_equal(before, after)
        for result in (out, *grads):
            assert result.flags.writeable
            assert not any(np.shares_memory(result, a) for a in (x, w, b, dout))

    @SETTINGS
    @given(pool_cases())
    def test_pool_does_not_modify_inputs(self, case):
        x, ph, pw, stride, dout = case
        saved = [x.copy(), dout.copy()]
        out = max_pool_forward(x, ph, pw, stride)
        dx = max_pool_backward(dout, x, ph, pw, stride)
        np.testing.assert_array_equal(saved[0], x)
        np.testing.assert_array_equal(saved[1], dout)
        for result in (out, dx):
            assert result.flags.writeable
            assert not any(np.shares_memory(result, a) for a in (x, dout))
