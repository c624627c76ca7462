"""Integer fixed-point ln, exp, sqrt and the standard normal CDF/pdf the option pricer is built on.

Owns the fixed-point scale of the option maths and its elementary functions; it never prices
(``pricing.py``), never floats, never uses true division and calls no ``math`` function but
``isqrt``.  Every function runs a FIXED number of iterations, so every node does the same work
and gets the same bits.

Scale: a real ``x`` is the integer ``X ~ x * 2**PREC`` with ``PREC = 96`` (``ONE = 2**96``);
"ulp" below means ``2**-96``.  Tables (ln of 1 + j/64, e**(j/64), N and the pdf's Taylor rows
around every grid point j/64 of [0, 12]) are computed once at import, in integers with 40 guard
bits, by series run until their terms vanish (N is chained from N(0) = 1/2 by 20-term steps,
dropped tail < 2**-163), then rounded to the scale (error <= 1/2 ulp each).

Error bounds (absolute, in ulp of the result's scale, checked against mpmath in
``tests/options/test_pricing.py``):

- ``ln_scaled(n, s)`` = ln(n * 2**-s):      |error| <= 4 ulp for any n > 0.
- ``exp_fixed(x)`` = e**x:                   |error| <= 2 ulp + 2**-94 e**x; exp_fixed(0) == ONE.
- ``sqrt_fixed(x)``:                         floor of the exact root, error < 1 ulp.
- ``ncdf_pdf(x)`` = (N(x), pdf(x)):          |error| <= 4 ulp each; N(x) = 0 or ONE exactly
  beyond |x| >= 12 (true tail < 2**-108), and N(-x) = ONE - N(x) exactly (put-call parity
  holds in the fixed-point domain).

Roundings are floors (``>>`` and ``//``) throughout; the bounds above include them.
"""
from __future__ import annotations

from math import isqrt

__all__ = ["PREC", "ONE", "LN2", "X_MAX", "ln_scaled", "ln_int", "exp_fixed", "sqrt_fixed",
           "ncdf", "npdf", "ncdf_pdf"]

PREC = 96
ONE = 1 << PREC
_GUARD = 40
_W = PREC + _GUARD  # table-building precision
_ONE_W = 1 << _W

# ---------------------------------------------------------------- table builders (import time only)


def _atanh_w(num: int, den: int) -> int:
    """atanh(num/den) at scale 2**_W, 0 <= num/den <= 1/3: series until its terms vanish."""
    z = (num << _W) // den
    z2 = (z * z) >> _W
    term, total, k = z, 0, 1
    while term:
        total += term // k
        term = (term * z2) >> _W
        k += 2
    return total


def _exp_w(x: int) -> int:
    """e**(x / 2**_W) at scale 2**_W for |x| <= 80 * 2**_W: halve 8 times, Taylor, square back."""
    r = x >> 8
    term, total, n = _ONE_W, _ONE_W, 1
    while term:
        term = (term * r >> _W) // n
        total += term
        n += 1
    for _ in range(8):
        total = (total * total) >> _W
    return total


def _pi_w() -> int:
    """pi at scale 2**_W by Machin: 16 atan(1/5) - 4 atan(1/239), extra 20 bits."""
    w = _W + 20

    def atan_inv(m: int) -> int:
        term, total, k, sign = (1 << w) // m, 0, 1, 1
        m2 = m * m
        while term:
            total += sign * (term // k)
            term //= m2
            k += 2
            sign = -sign
        return total

    return (16 * atan_inv(5) - 4 * atan_inv(239)) >> 20


def _round_w(x: int) -> int:
    """Round a 2**_W-scaled value to the 2**PREC scale (half up)."""
    return (x + (1 << (_GUARD - 1))) >> _GUARD


_LN2_W = 2 * _atanh_w(1, 3)
LN2 = _round_w(_LN2_W)
_LN_TABLE = tuple(_round_w(2 * _atanh_w(j, 128 + j)) for j in range(65))  # ln(1 + j/64)
_EXP_TABLE = {j: _round_w(_exp_w((j << _W) >> 6)) for j in range(-24, 25)}  # e**(j/64)
_PI_W = _pi_w()

# ---------------------------------------------------------------- ln, exp, sqrt

_EXTRA = 16  # the ln and exp series run at 2**-(PREC + _EXTRA), rounded at the end
_XP = PREC + _EXTRA
_ONE_X = 1 << _XP
_LN_TERMS = 6  # odd powers z**1 .. z**11 of atanh; |z| <= 1/258, first omitted term < 2**-107


def ln_scaled(n: int, shift: int = 0) -> int:
    """ln(n * 2**-shift) at scale ONE, for an integer n > 0.

    n = m * 2**e with m in [1, 2); m = m0 * (1 + z)/(1 - z) with m0 = 1 + j/64 the nearest table
    point, so ln = (e - shift) ln 2 + ln(m0) + 2 atanh(z), |z| <= 1/258, by 6 series terms.
    Error <= 4 ulp (table 1/2, ln 2 multiple 1, series at 2**-112 then rounded 1/2).

    Raises:
        ValueError: n <= 0.
    """
    if n <= 0:
        raise ValueError(f"ln of a non-positive number {n}")
    e = n.bit_length() - 1
    m = n << (_XP - e) if e <= _XP else n >> (e - _XP)  # truncation: relative < 2**-112
    j = (m - _ONE_X + (1 << (_XP - 7))) >> (_XP - 6)
    m0 = _ONE_X + (j << (_XP - 6))
    z = ((m - m0) << _XP) // (m + m0)
    z2 = (z * z) >> _XP
    total, term = 0, z
    for k in range(1, 2 * _LN_TERMS, 2):
        total += term // k
        term = (term * z2) >> _XP
    return (((e - shift) * _LN2_W) >> _GUARD) + _LN_TABLE[j] + ((total + (1 << (_EXTRA - 2))) >> (_EXTRA - 1))


def ln_int(n: int) -> int:
    """ln(n) at scale ONE for an integer n > 0 (error <= 4 ulp)."""
    return ln_scaled(n, 0)


_EXP_TERMS = 11  # Taylor of e**s, |s| <= 1/128: first omitted term s**12/12! < 2**-112


def exp_fixed(x: int) -> int:
    """e**(x / ONE) at scale ONE, |error| <= 2 ulp + 2**-94 e**x (exactly ONE at x = 0).

    x = k ln 2 + j/64 + s with |s| <= 1/128: e**x = 2**k * e**(j/64) * e**s, e**s by 11 Taylor
    terms.  Results below one ulp come out as 0.
    """
    k = (x + (LN2 >> 1)) // LN2
    r = (x << _EXTRA) - ((k * _LN2_W) >> (_GUARD - _EXTRA))
    j = (r + (1 << (_XP - 7))) >> (_XP - 6)
    s = r - (j << (_XP - 6))
    term = total = _ONE_X
    for n in range(1, _EXP_TERMS + 1):
        term = (term * s >> _XP) // n
        total += term
    v = (_EXP_TABLE[j] * total) >> _XP
    return v << k if k >= 0 else v >> -k


def sqrt_fixed(x: int) -> int:
    """sqrt(x / ONE) at scale ONE, the floor of the exact root (x >= 0)."""
    return isqrt(x << PREC)


# ---------------------------------------------------------------- the normal distribution
#
# Around each grid point x0 = j/64 of [0, X_MAX] the pdf is pdf(x0 + h) = pdf(x0) f(h) with
# f(h) = e**(-x0 h - h**2/2) = sum a_n h**n, a_0 = 1, a_1 = -x0, (n+1) a_(n+1) = -x0 a_n - a_(n-1)
# (from f' = -(x0 + h) f), and N(x0 + h) = N(x0) + pdf(x0) sum a_n h**(n+1)/(n+1).  Rows of
# pdf(x0) a_n and pdf(x0) a_n/(n+1) are tabulated; an evaluation is two Horner runs of
# _N_TERMS steps in h, |h| <= 1/128.  N(x0) is chained from N(0) = 1/2 with h = 1/64 at 2**_W.

X_MAX = 12  # N(-12) < 2**-108: beyond, N is 0 or 1 and the pdf 0
_GRID = 6  # grid step 2**-6
_N_TERMS = 13  # tail of a row beyond 13 terms, |h| <= 1/128: < 2**-109 over the grid (see tests)
_BUILD_TERMS = 20  # chain step h = 1/64: dropped tail < 2**-163, far below 2**-_W


def _taylor_rows() -> tuple[tuple[tuple[int, ...], ...], tuple[tuple[int, ...], ...], tuple[int, ...]]:
    inv_sqrt_2pi_w = isqrt(((_ONE_W * _ONE_W) // (2 * _PI_W)) << _W)
    step_w = _ONE_W >> _GRID
    pdf_rows, cdf_rows, cdf_at = [], [], []
    cdf_w = _ONE_W >> 1
    for j in range(X_MAX * (1 << _GRID) + 1):
        x0_w = (j << _W) >> _GRID
        pdf0 = (_exp_w(-((x0_w * x0_w) >> (_W + 1))) * inv_sqrt_2pi_w) >> _W
        a = [_ONE_W, -x0_w]
        for n in range(1, _BUILD_TERMS):
            a.append((-((x0_w * a[n]) >> _W) - a[n - 1]) // (n + 1))
        pdf_rows.append(tuple(_round_w((pdf0 * a[n]) >> _W) for n in reversed(range(_N_TERMS))))
        cdf_rows.append(tuple(_round_w(((pdf0 * a[n]) >> _W) // (n + 1)) for n in reversed(range(_N_TERMS))))
        cdf_at.append(_round_w(cdf_w))
        # chain to the next grid point: N(x0 + 1/64) = N(x0) + pdf0 sum a_n (1/64)**(n+1)/(n+1)
        inc, hp = 0, step_w
        for n in range(_BUILD_TERMS):
            inc += ((a[n] * hp) >> _W) // (n + 1)
            hp = (hp * step_w) >> _W
        cdf_w += (pdf0 * inc) >> _W
    return tuple(pdf_rows), tuple(cdf_rows), tuple(cdf_at)


_PDF_ROWS, _CDF_ROWS, _CDF_AT = _taylor_rows()
_XMAX_FIXED = X_MAX << PREC
_HALF_STEP = 1 << (PREC - _GRID - 1)
_GSHIFT = PREC - _GRID


def ncdf_pdf(x: int) -> tuple[int, int]:
    """(N(x), pdf(x)) at scale ONE for x at scale ONE; |error| <= 4 ulp each.

    N(x) = 0 (x <= -12) or ONE (x >= 12) exactly beyond the table, pdf 0 there; N(-x) = ONE - N(x)
    exactly.  Two Horner runs of _N_TERMS steps.
    """
    ax = -x if x < 0 else x
    if ax >= _XMAX_FIXED:
        return (0 if x < 0 else ONE), 0
    j = (ax + _HALF_STEP) >> _GSHIFT
    h = ax - (j << _GSHIFT)
    acc = 0
    for c in _PDF_ROWS[j]:
        acc = (acc * h >> PREC) + c
    return ncdf(x), acc


def ncdf(x: int) -> int:
    """N(x) at scale ONE for x at scale ONE, |error| <= 4 ulp (see :func:`ncdf_pdf`): one Horner run."""
    ax = -x if x < 0 else x
    if ax >= _XMAX_FIXED:
        return 0 if x < 0 else ONE
    j = (ax + _HALF_STEP) >> _GSHIFT
    h = ax - (j << _GSHIFT)
    acc = 0
    for c in _CDF_ROWS[j]:
        acc = (acc * h >> PREC) + c
    n = _CDF_AT[j] + (acc * h >> PREC)
    return ONE - n if x < 0 else n


def npdf(x: int) -> int:
    """pdf(x) = e**(-x**2/2)/sqrt(2 pi) at scale ONE, |error| <= 4 ulp; 0 beyond |x| >= 12."""
    return ncdf_pdf(x)[1]
