"""Test tables shared by the command-line tests (imported as ``from tables import people``)."""

import numpy as np
import pandas as pd


def people(n: int, seed: int) -> pd.DataFrame:
    """Numbers, a text category, a three-class string label and a numeric target."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(20, 70, n).round(1)
    income = rng.normal(50, 15, n).round(2)
    colour = rng.choice(["red", "green", "blue"], n)
    score = (
        0.06 * (age - 45)
        + 0.08 * (income - 50)
        + np.select([colour == "red", colour == "green"], [1.0, -1.0], 0.0)
    )
    label = np.where(score > 0.4, "high", np.where(score < -0.4, "low", "mid"))
    value = (score + rng.normal(0, 0.1, n)).round(4)
    return pd.DataFrame(
        {
            "id": [f"p{i:05d}" for i in range(n)],
            "age": age,
            "income": income,
            "colour": colour,
            "label": label,
            "value": value,
        }
    )
