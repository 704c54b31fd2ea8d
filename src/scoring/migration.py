"""How customers moved between two scoring runs: transition matrices of any label (segment,
value tier, lifecycle stage, RFM segment), counted or weighted (e.g. by revenue).

A customer seen only in the later run comes from the row ``(new)``; one seen only in the
earlier run goes to the column ``(gone)`` (snapshots keep every customer with a past
purchase, so this only happens when the customer base itself was filtered).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

__all__ = ["GONE", "NEW", "migration_figure", "transition_matrix"]

NEW, GONE = "(new)", "(gone)"


def transition_matrix(
    before: pd.Series,
    after: pd.Series,
    *,
    weights: pd.Series | None = None,
    normalize: bool = False,
) -> pd.DataFrame:
    """Rows: the label in the earlier run; columns: the label in the later run.

    Parameters
    ----------
    before, after
        The label per customer, indexed by customer_id.
    weights
        Per customer (indexed by customer_id) weight, e.g. revenue; missing weights count 0.
        Default: every customer counts 1.
    normalize
        Divide each row by its total (the share of the row's customers, or of its weight,
        that moved to each column).
    """
    for name, s in (("before", before), ("after", after)):
        if not s.index.is_unique:
            raise ValueError(f"{name}: a customer appears more than once")
    ids = before.index.union(after.index)
    frm = before.reindex(ids).astype("object").where(lambda s: s.notna(), NEW)
    to = after.reindex(ids).astype("object").where(lambda s: s.notna(), GONE)
    w = (
        pd.Series(1.0, index=ids)
        if weights is None
        else weights.reindex(ids).astype(float).fillna(0.0)
    )
    table = pd.crosstab(frm.to_numpy(), to.to_numpy(), values=w.to_numpy(), aggfunc="sum")
    table = table.fillna(0.0)
    rows = _order(table.index, last=NEW)
    cols = _order(table.columns, last=GONE)
    table = table.reindex(index=rows, columns=cols, fill_value=0.0)
    table.index.name, table.columns.name = "before", "after"
    if normalize:
        totals = table.sum(axis=1).replace(0.0, np.nan)
        table = table.div(totals, axis=0).fillna(0.0)
    return table


def _order(labels: pd.Index, *, last: str) -> list[object]:
    """Labels sorted (as text), with the synthetic one last."""
    rest = sorted((x for x in labels if x != last), key=str)
    return [*rest, last] if last in labels else rest


def migration_figure(table: pd.DataFrame, *, title: str) -> Figure:
    """A heatmap of a transition matrix with the values written in the cells."""
    fig = Figure(figsize=(1.2 + 0.9 * table.shape[1], 1.0 + 0.6 * table.shape[0]))
    ax = fig.subplots()
    ax.imshow(table.to_numpy(float), cmap="Blues", aspect="auto")
    ax.set_xticks(range(table.shape[1]), [str(c) for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), [str(r) for r in table.index])
    is_share = bool((table.to_numpy() <= 1.0 + 1e-9).all())
    dark = 0.6 * float(np.nanmax(table.to_numpy(float))) if table.size else 0.0
    for i in range(table.shape[0]):
        for j in range(table.shape[1]):
            v = table.iat[i, j]
            text = f"{v:.0%}" if is_share else f"{v:,.0f}"
            color = "white" if v > dark > 0 else "black"
            ax.text(j, i, text, ha="center", va="center", fontsize=8, color=color)
    ax.set(xlabel="after", ylabel="before", title=title)
    fig.tight_layout()
    return fig
