"""Building blocks of the run report: one self-contained HTML page (style inline, plots as
PNG data URIs, no script, nothing fetched), readable offline and in MLflow's artifact view."""

from __future__ import annotations

import base64
import html
import io
import tempfile
from pathlib import Path
from typing import Any

import mlflow.artifacts
import pandas as pd
from mlflow.exceptions import MlflowException

from customer_ml.tracking.backend import quiet_downloads

__all__ = ["CSS", "card", "esc", "grid", "kpis", "page", "png", "run_plots", "table"]

CSS = """
:root{--ink:#1f2933;--mute:#616e7c;--line:#e4e7eb;--bg:#f5f7fa;--accent:#2f6fde}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;color:var(--ink);margin:0;
 background:var(--bg);line-height:1.45}
header{background:#14213d;color:#fff;padding:1.4em 2em 1em}
header h1{margin:0 0 .2em;font-size:1.6em}header p{margin:0;color:#cbd2d9}
nav{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:.5em 2em;
 z-index:2;font-size:14px}
nav a{color:var(--accent);text-decoration:none;margin-right:1.4em}
main{max-width:1180px;margin:0 auto;padding:1em 2em 3em}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.4em 1.4em 1em;
 margin:1.2em 0}
h2{font-size:1.25em;margin:.8em 0 .3em}h3{font-size:1em;margin:1.1em 0 .3em;color:var(--mute)}
.lead{color:var(--mute);margin:.2em 0 .8em;font-size:14px}
.kpis{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}
.kpi{background:#fff;border:1px solid var(--line);border-radius:8px;padding:.6em 1em;
 min-width:150px}
.kpi b{display:block;font-size:1.5em}.kpi span{color:var(--mute);font-size:13px}
.findings{margin:.3em 0 0;padding-left:1.2em}.findings li{margin:.35em 0}
.grid{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}
.grid>figure{flex:1 1 460px;margin:0}
figure{margin:.5em 0}figure img{max-width:100%;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:12px;color:var(--mute)}
.scroll{overflow-x:auto}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:13px}
td,th{border-bottom:1px solid var(--line);padding:4px 10px;text-align:right;white-space:nowrap}
th{background:var(--bg);font-weight:600;white-space:normal;vertical-align:bottom}td:first-child,th:first-child{text-align:left}
tr.chosen td{font-weight:600;background:#eef4ff}
footer{color:var(--mute);font-size:12px;max-width:1180px;margin:0 auto;padding:0 2em 2em}
"""


def esc(value: Any) -> str:
    return html.escape(str(value))


def png(path_or_fig: Any, alt: str, *, caption: str = "") -> str:
    """A PNG file or a matplotlib figure as an inline <figure>."""
    if isinstance(path_or_fig, Path):
        data = path_or_fig.read_bytes()
    else:
        buf = io.BytesIO()
        path_or_fig.savefig(buf, format="png", dpi=90)
        data = buf.getvalue()
    b64 = base64.b64encode(data).decode()
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{b64}">{cap}</figure>'


def run_plots(run_id: str, names: dict[str, str], label: str) -> list[str]:
    """The PNGs logged under plots/ of an MLflow run, as <figure>s ({file: caption})."""
    if not run_id:
        return []
    with tempfile.TemporaryDirectory() as tmp, quiet_downloads():
        try:
            folder = Path(
                mlflow.artifacts.download_artifacts(
                    run_id=run_id, artifact_path="plots", dst_path=tmp
                )
            )
        except (MlflowException, OSError):
            return ["<p class='lead'>(no plots logged with this model)</p>"]
        return [
            png(folder / n, f"{label} {n[:-4].replace('_', ' ')}", caption=cap)
            for n, cap in names.items()
            if (folder / n).is_file()
        ]


def table(
    df: pd.DataFrame,
    *,
    index: bool = True,
    formats: dict[str, str] | None = None,
    floatfmt: str = "{:,.3f}",
    chosen: object = None,
) -> str:
    """A pandas table; `formats` per column (e.g. {"share": "{:.1%}"}), `chosen` an index
    label whose row is highlighted."""
    out = df.copy()
    for col, fmt in (formats or {}).items():
        if col in out:
            out[col] = [fmt.format(v) if pd.notna(v) else "" for v in out[col]]
    body = out.to_html(
        index=index, border=0, float_format=lambda v: floatfmt.format(v), na_rep="", escape=True
    )
    if chosen is not None:
        body = body.replace(
            f"<tr>\n      <th>{esc(chosen)}</th>",
            f"<tr class='chosen'>\n      <th>{esc(chosen)}</th>",
            1,
        )
    return f"<div class='scroll'>{body}</div>"


def kpis(values: dict[str, str]) -> str:
    cells = "".join(
        f"<div class='kpi'><b>{esc(v)}</b><span>{esc(k)}</span></div>" for k, v in values.items()
    )
    return f"<div class='kpis'>{cells}</div>"


def grid(figures: list[str]) -> str:
    return f"<div class='grid'>{''.join(figures)}</div>" if figures else ""


def card(anchor: str, title: str, lead: str, *parts: str) -> str:
    intro = f"<p class='lead'>{lead}</p>" if lead else ""
    return f"<section id='{anchor}'><h2>{esc(title)}</h2>{intro}{''.join(parts)}</section>"


def page(*, title: str, subtitle: str, nav: dict[str, str], body: list[str], footer: str) -> str:
    links = "".join(f"<a href='#{a}'>{esc(t)}</a>" for a, t in nav.items())
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></header>"
        f"<nav>{links}</nav><main>{''.join(body)}</main><footer>{footer}</footer></body></html>"
    )
