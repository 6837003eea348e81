"""The growth fit: known slopes with noise, spikes and prunes; one point, flat, shrinking, full."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from homelab_kit.capacity.fit import (
    GROWING,
    NOT_ENOUGH,
    NOT_GROWING,
    SHRINKING,
    fit_growth,
    theil_sen,
)
from homelab_kit.capacity.forecast import FULL, forecast_row

GB = 10**9
T0 = datetime(2024, 1, 1, 3, tzinfo=UTC)


def daily(
    values: np.ndarray, start: datetime = T0, step: timedelta = timedelta(days=1)
) -> list[datetime]:
    return [start + i * step for i in range(len(values))]


def noisy_line(n: int, slope: float, level: float, noise: float, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return level + slope * np.arange(n) + rng.normal(0, noise, n)


def test_theil_sen_exact_on_a_line_and_matches_the_median_of_slopes():
    x = [0, 1, 2, 3]
    slope, intercept, lo, hi = theil_sen(x, [1, 3, 5, 7])
    assert (slope, intercept) == (2.0, 1.0)
    assert lo == hi == 2.0
    # pairwise slopes of (0,0) (1,1) (2,2) (3,100): 1, 1, 1, 33.3, 49.5, 98 -> median (1 + 33.3) / 2
    slope, _, _, _ = theil_sen(x, [0, 1, 2, 100])
    assert slope == pytest.approx((1 + 100 / 3) / 2)


def test_known_slope_with_noise_is_recovered_and_inside_the_band():
    y = noisy_line(90, 2 * GB, 100 * GB, 0.5 * GB)
    fit = fit_growth(daily(y), y)
    assert fit.status == GROWING
    assert fit.slope == pytest.approx(2 * GB, rel=0.03)
    assert fit.slope_low < 2 * GB < fit.slope_high
    assert fit.level == pytest.approx(100 * GB + 89 * 2 * GB, rel=0.01)
    assert fit.points == 90 and fit.span_days == pytest.approx(89)


def test_a_one_off_spike_does_not_move_the_fit():
    y = noisy_line(60, 1 * GB, 50 * GB, 0.2 * GB)
    clean = fit_growth(daily(y), y)
    y2 = y.copy()
    y2[30] += 400 * GB  # a big temporary file, deleted the next day
    y2[59] += 300 * GB  # and one on the very last day
    spiky = fit_growth(daily(y2), y2)
    assert spiky.slope == pytest.approx(clean.slope, rel=0.05)
    assert spiky.level == pytest.approx(clean.level, rel=0.02)
    ols = np.polyfit(np.arange(60), y2, 1)[0]
    assert abs(spiky.slope - GB) < abs(ols - GB)


def test_a_prune_keeps_the_trend_and_the_new_level():
    y = noisy_line(90, 1 * GB, 200 * GB, 0.2 * GB)
    y[75:] -= 40 * GB  # forget --prune freed 40 GB two weeks ago
    fit = fit_growth(daily(y), y)
    ols = np.polyfit(np.arange(90), y, 1)[0]
    assert fit.status == GROWING
    assert abs(fit.slope - GB) < abs(ols - GB)
    assert fit.slope == pytest.approx(GB, rel=0.15)
    # the forecast starts from where the disk is now, not from the pre-prune line
    assert fit.level == pytest.approx(200 * GB + 89 * GB - 40 * GB, rel=0.02)


def test_a_big_import_that_stays_is_kept_in_the_level():
    y = noisy_line(90, 0.5 * GB, 100 * GB, 0.1 * GB)
    y[80:] += 300 * GB  # a photo library imported ten days ago
    fit = fit_growth(daily(y), y)
    assert fit.level == pytest.approx(100 * GB + 89 * 0.5 * GB + 300 * GB, rel=0.02)


def test_one_point_is_not_enough_history_but_still_knows_full():
    fit = fit_growth([T0], [90 * GB])
    assert fit.status == NOT_ENOUGH and fit.points == 1
    row = forecast_row(fit, 100 * GB, now=T0)
    assert row["days_to_full"] is None and row["days_to_80"] == 0.0
    assert row["growth_bytes_per_day"] is None
    assert row["used_pct"] == 90.0
    full = forecast_row(fit_growth([T0], [100 * GB]), 100 * GB, now=T0)
    assert full["days_to_full"] == 0.0 and full["status"] == FULL


def test_short_span_is_not_enough_history():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0]) * GB
    fit = fit_growth(daily(y, step=timedelta(hours=1)), y)
    assert fit.status == NOT_ENOUGH
    assert forecast_row(fit, 100 * GB, now=T0 + timedelta(days=1))["days_to_full"] is None


def test_no_points_at_all():
    fit = fit_growth([], [])
    assert fit.status == NOT_ENOUGH and fit.points == 0
    row = forecast_row(fit, 100 * GB, now=T0)
    assert row["used_bytes"] is None and row["days_to_full"] is None


def test_flat_with_noise_is_not_growing_and_gives_no_date():
    y = noisy_line(90, 0.0, 500 * GB, 2 * GB)
    fit = fit_growth(daily(y), y)
    assert fit.status == NOT_GROWING
    row = forecast_row(fit, 1000 * GB, now=T0 + timedelta(days=90))
    assert row["days_to_full"] is None and row["days_to_80"] is None and row["full_date"] is None
    assert row["status"] == NOT_GROWING


def test_shrinking_gives_no_date():
    y = noisy_line(60, -1 * GB, 800 * GB, 0.3 * GB)
    fit = fit_growth(daily(y), y)
    assert fit.status == SHRINKING and fit.slope < 0
    row = forecast_row(fit, 1000 * GB, now=T0 + timedelta(days=60))
    assert row["days_to_full"] is None and row["days_to_90"] is None


def test_full_already_says_zero_days_and_full():
    y = noisy_line(30, 1 * GB, 990 * GB, 0.1 * GB).clip(max=1000 * GB)
    y[-5:] = 1000 * GB
    fit = fit_growth(daily(y), y)
    row = forecast_row(fit, 1000 * GB, now=T0 + timedelta(days=30))
    assert row["days_to_full"] == 0.0 and row["days_to_80"] == 0.0 and row["status"] == FULL


def test_days_to_thresholds_from_a_known_slope():
    y = 100 * GB + 2 * GB * np.arange(31)  # 160 GB after 30 days, +2 GB/day
    fit = fit_growth(daily(y), y)
    now = T0 + timedelta(days=30)
    row = forecast_row(fit, 500 * GB, now=now, horizon=timedelta(days=365))
    assert row["days_to_80"] == pytest.approx((400 - 160) / 2, abs=0.2)
    assert row["days_to_90"] == pytest.approx((450 - 160) / 2, abs=0.2)
    assert row["days_to_full"] == pytest.approx(170, abs=0.2)
    assert row["full_date"] == (now + timedelta(days=170)).date().isoformat()
    assert row["within_horizon"] is True
    later = forecast_row(fit, 500 * GB, now=now + timedelta(days=20))  # no new facts for 20 days
    assert later["days_to_full"] == pytest.approx(150, abs=0.2)
    short = forecast_row(fit, 500 * GB, now=now, horizon=timedelta(days=90))
    assert short["within_horizon"] is False and short["days_to_full"] == pytest.approx(170, abs=0.2)


def test_base_bytes_count_towards_the_disk():
    y = 10 * GB + 1 * GB * np.arange(31)  # a repository of 40 GB on a disk with 50 GB of other data
    fit = fit_growth(daily(y), y)
    row = forecast_row(fit, 100 * GB, now=T0 + timedelta(days=30), base=50 * GB)
    assert row["used_pct"] == pytest.approx(90.0)
    assert row["days_to_full"] == pytest.approx(10, abs=0.1)


def test_band_widens_with_the_horizon_and_contains_the_expected_line():
    y = noisy_line(90, 1 * GB, 100 * GB, 1 * GB)
    fit = fit_growth(daily(y), y)
    pred = fit.predict(pd.date_range(T0 + timedelta(days=89), periods=5, freq="90D"))
    assert (pred["low"] <= pred["expected"]).all() and (pred["expected"] <= pred["high"]).all()
    width = pred["high"] - pred["low"]
    assert width.is_monotonic_increasing and width.iloc[-1] > width.iloc[0]


def test_long_hourly_history_is_binned_and_still_right():
    hours = 24 * 120
    y = noisy_line(hours, 1 * GB / 24, 300 * GB, 0.3 * GB, seed=3)
    fit = fit_growth(daily(y, step=timedelta(hours=1)), y)
    assert fit.points == hours
    assert fit.slope == pytest.approx(1 * GB, rel=0.05)
