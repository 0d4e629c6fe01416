"""How every benchmark script prints a comparison: medians, spread, and the ratio."""

from __future__ import annotations

import statistics


def report(
    title: str,
    unit: str,
    bare: list[float],
    ours: list[float],
    goal: float | None,
    labels: tuple[str, str] = ("bare", "ours"),
) -> None:
    """Print rates (higher is better) of bare and ours, paired round by round.

    The ratio is taken per round (ours/bare of the same round) so that drift
    in the machine's speed between rounds cancels; min and max show the noise.
    """
    ratios = [o / b for o, b in zip(ours, bare, strict=True)]
    print(f"{title}:")
    width = max(5, *(len(label) for label in labels))
    for label, rates in zip(labels, (bare, ours), strict=True):
        print(
            f"  {label:{width}} median {statistics.median(rates):>10,.0f} {unit}"
            f"   (min {min(rates):,.0f}, max {max(rates):,.0f})"
        )
    target = f"   goal >= {goal}" if goal is not None else ""
    print(
        f"  ratio {labels[1]}/{labels[0]}: median {statistics.median(ratios):.2f}"
        f"   (min {min(ratios):.2f}, max {max(ratios):.2f}){target}"
    )
