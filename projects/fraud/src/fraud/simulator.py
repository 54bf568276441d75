"""A card-transaction simulator after the Fraud-Detection-Handbook's design.

Le Borgne, Siblini, Lebichot and Bontempi, *Reproducible Machine Learning for Credit
Card Fraud Detection - Practical Handbook* (2022), chapter 3 "Transaction data
simulator". The design, written here independently and vectorised with numpy:

- **customers** at a location on a 100 x 100 grid, with a spending mean ~ U(5, 100), a
  standard deviation of half the mean, and a mean number of transactions per day
  ~ U(0, 4);
- **terminals** at a location on the same grid; a customer uses the terminals within
  ``radius`` of home, uniformly;
- **transactions**: per customer and day a Poisson number of them, at a time of day
  ~ N(noon, 20,000 s) (draws outside the day are dropped), an amount ~ N(mean, std)
  (a negative draw is replaced by U(0, 2 x mean));
- **fraud scenarios**: (1) any amount above 220 is fraud; (2) terminals compromised at
  random, every transaction on them fraudulent for the next 28 days; (3) customers whose
  card details leak at random: for the next 14 days about a third of their transactions
  are fraudulent and five times their usual amount.

An optional fourth scenario, not in the handbook and off by default, adds a pattern a
model trained on the first three has never seen (:class:`fraud.config.AccountTakeover`:
night-time bursts on taken-over accounts); the retraining project uses it as the change
a deployed model must adapt to. Its draws come after all others, so the default
simulation is unchanged by its existence.

The handbook draws a fixed number of compromised terminals and customers per day; this
draws a Poisson number with the configured mean, so a smaller population keeps the
handbook's fraud densities.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud.config import Simulation

SECONDS_PER_DAY = 86_400
COLUMNS = (
    "transaction_id",
    "tx_datetime",
    "customer_id",
    "terminal_id",
    "tx_amount",
    "tx_time_seconds",
    "tx_time_days",
    "tx_fraud",
    "tx_fraud_scenario",
)


def customer_profiles(n: int, rng: np.random.Generator) -> pd.DataFrame:
    mean_amount = rng.uniform(5, 100, n)
    return pd.DataFrame(
        {
            "customer_id": np.arange(n),
            "x": rng.uniform(0, 100, n),
            "y": rng.uniform(0, 100, n),
            "mean_amount": mean_amount,
            "std_amount": mean_amount / 2,
            "mean_nb_tx_per_day": rng.uniform(0, 4, n),
        }
    )


def terminal_profiles(n: int, rng: np.random.Generator) -> pd.DataFrame:
    return pd.DataFrame(
        {"terminal_id": np.arange(n), "x": rng.uniform(0, 100, n), "y": rng.uniform(0, 100, n)}
    )


def terminals_in_reach(
    customers: pd.DataFrame, terminals: pd.DataFrame, radius: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each customer, the terminals within ``radius``, as CSR arrays
    (``offsets[c]:offsets[c + 1]`` indexes ``terminal_ids``)."""
    cx = customers["x"].to_numpy()[:, None]
    cy = customers["y"].to_numpy()[:, None]
    tx = terminals["x"].to_numpy()[None, :]
    ty = terminals["y"].to_numpy()[None, :]
    reach = (cx - tx) ** 2 + (cy - ty) ** 2 <= radius**2
    rows, cols = np.nonzero(reach)
    offsets = np.zeros(len(customers) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(customers)), out=offsets[1:])
    return offsets, cols.astype(np.int64)


def simulate(sim: Simulation, seed: int) -> pd.DataFrame:
    """Transactions with labels, sorted by time, in the columns of :data:`COLUMNS`."""
    rng = np.random.default_rng(seed)
    customers = customer_profiles(sim.n_customers, rng)
    terminals = terminal_profiles(sim.n_terminals, rng)
    offsets, reachable = terminals_in_reach(customers, terminals, sim.radius)
    n_reach = np.diff(offsets)

    # transactions per (customer, day); customers with no terminal in reach buy nothing
    lam = customers["mean_nb_tx_per_day"].to_numpy()
    counts = rng.poisson(np.repeat(lam[:, None], sim.n_days, axis=1))
    counts[n_reach == 0] = 0
    flat = counts.ravel()
    customer = np.repeat(np.repeat(np.arange(sim.n_customers), sim.n_days), flat)
    day = np.repeat(np.tile(np.arange(sim.n_days), sim.n_customers), flat)

    second_of_day = np.round(rng.normal(SECONDS_PER_DAY / 2, 20_000, len(customer)))
    mean = customers["mean_amount"].to_numpy()[customer]
    std = customers["std_amount"].to_numpy()[customer]
    amount = rng.normal(mean, std)
    amount = np.where(amount < 0, rng.uniform(0, 2 * mean), amount)
    pick = (rng.random(len(customer)) * n_reach[customer]).astype(np.int64)
    terminal = reachable[offsets[customer] + pick]

    keep = (second_of_day >= 0) & (second_of_day < SECONDS_PER_DAY)
    customer, day, terminal = customer[keep], day[keep], terminal[keep]
    amount = np.round(amount[keep], 2)
    seconds = (day * SECONDS_PER_DAY + second_of_day[keep]).astype(np.int64)
    order = np.lexsort((customer, seconds))  # by time; ties by customer, for stability
    customer, day, terminal = customer[order], day[order], terminal[order]
    amount, seconds = amount[order], seconds[order]

    scenario = np.zeros(len(seconds), dtype=np.int64)
    scenario[amount > sim.amount_threshold] = 1
    compromised_terminal = _compromised(
        rng,
        sim.n_terminals,
        sim.n_days,
        sim.compromised_terminals_per_day,
        sim.terminal_compromise_days,
    )
    scenario[compromised_terminal[terminal, day]] = 2
    compromised_customer = _compromised(
        rng,
        sim.n_customers,
        sim.n_days,
        sim.compromised_customers_per_day,
        sim.customer_compromise_days,
    )
    leaked = compromised_customer[customer, day] & (
        rng.random(len(seconds)) < sim.compromised_share
    )
    amount = np.where(leaked, np.round(amount * sim.amount_multiplier, 2), amount)
    scenario[leaked] = 3

    if sim.account_takeover is not None:
        extra = _account_takeover(rng, sim, customers)
        seconds = np.concatenate([seconds, extra["seconds"]])
        customer = np.concatenate([customer, extra["customer"]])
        terminal = np.concatenate([terminal, extra["terminal"]])
        amount = np.concatenate([amount, extra["amount"]])
        scenario = np.concatenate([scenario, np.full(len(extra["seconds"]), 4, np.int64)])
        day = seconds // SECONDS_PER_DAY
        order = np.lexsort((customer, seconds))
        seconds, customer, terminal = seconds[order], customer[order], terminal[order]
        amount, scenario, day = amount[order], scenario[order], day[order]

    start = pd.Timestamp(sim.start_date)
    return pd.DataFrame(
        {
            "transaction_id": np.arange(len(seconds), dtype=np.int64),
            "tx_datetime": start + pd.to_timedelta(seconds, unit="s"),
            "customer_id": customer,
            "terminal_id": terminal,
            "tx_amount": amount,
            "tx_time_seconds": seconds,
            "tx_time_days": day.astype(np.int64),
            "tx_fraud": (scenario > 0).astype(np.int64),
            "tx_fraud_scenario": scenario,
        }
    )


def _account_takeover(
    rng: np.random.Generator, sim: Simulation, customers: pd.DataFrame
) -> dict[str, np.ndarray]:
    """Scenario 4's fraudulent transactions: each day from ``start_day`` a Poisson number
    of accounts is taken over; each gets a Poisson burst of purchases per night for
    ``days`` days, at any terminal, of amounts drawn like the customer's own (so the
    amount alone looks ordinary)."""
    pattern = sim.account_takeover
    assert pattern is not None
    customer_days: list[tuple[int, int]] = []
    for start_day in range(min(max(pattern.start_day, 0), sim.n_days), sim.n_days):
        n = min(int(rng.poisson(pattern.per_day)), sim.n_customers)
        for taken in rng.choice(sim.n_customers, size=n, replace=False):
            last = min(start_day + pattern.days, sim.n_days)
            customer_days.extend((int(taken), d) for d in range(start_day, last))
    pairs = np.array(customer_days, dtype=np.int64).reshape(-1, 2)
    counts = rng.poisson(pattern.tx_per_day, len(pairs))
    customer = np.repeat(pairs[:, 0], counts)
    day = np.repeat(pairs[:, 1], counts)
    night = rng.integers(0, (pattern.last_hour + 1) * 3600, len(customer))
    mean = customers["mean_amount"].to_numpy()[customer]
    std = customers["std_amount"].to_numpy()[customer]
    amount = np.maximum(np.round(np.abs(rng.normal(mean, std)), 2), 0.01)
    return {
        "seconds": (day * SECONDS_PER_DAY + night).astype(np.int64),
        "customer": customer,
        "terminal": rng.integers(0, sim.n_terminals, len(customer)).astype(np.int64),
        "amount": amount,
    }


def _compromised(
    rng: np.random.Generator, n_entities: int, n_days: int, per_day: float, duration: int
) -> np.ndarray:
    """``[entity, day]`` is True while the entity is compromised.

    Each day a Poisson(``per_day``) number of entities is drawn; each stays compromised
    from that day for ``duration`` days.
    """
    delta = np.zeros((n_entities, n_days + duration + 1), dtype=np.int64)
    for start_day, n in enumerate(rng.poisson(per_day, n_days)):
        chosen = rng.choice(n_entities, size=min(int(n), n_entities), replace=False)
        delta[chosen, start_day] += 1
        delta[chosen, start_day + duration] -= 1
    return np.cumsum(delta, axis=1)[:, :n_days] > 0
