"""Inline SVG charts. Every label is escaped here; the result is safe to embed as markup."""
from __future__ import annotations

import math

from markupsafe import Markup, escape

PALETTE = ["#3367d6", "#e8710a", "#1e8e3e", "#d93025", "#9334e6", "#12b5cb", "#f9ab00", "#5f6368"]


def _num(x: float) -> str:
    return f"{x:.1f}"


def line_chart(series: dict[str, list[float]], x_label: str = "epoch", width: int = 520, height: int = 220,
               y_max: float | None = None) -> Markup:
    """One polyline per series over x = 1..n, with a legend."""
    values = [v for ys in series.values() for v in ys if v is not None and not math.isnan(v)]
    if not values:
        return Markup("")
    top = y_max if y_max is not None else max(values) * 1.05 or 1.0
    n = max(len(ys) for ys in series.values())
    left, right, pad_top, bottom = 44, 120, 10, 30
    w, h = width - left - right, height - pad_top - bottom
    x = lambda i: left + (w * i / max(n - 1, 1))
    y = lambda v: pad_top + h - h * (v / top if top else 0)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f'<line x1="{left}" y1="{pad_top + h}" x2="{left + w}" y2="{pad_top + h}" stroke="#999"/>',
             f'<line x1="{left}" y1="{pad_top}" x2="{left}" y2="{pad_top + h}" stroke="#999"/>']
    for frac in (0, 0.5, 1):
        parts.append(f'<text x="{left - 4}" y="{_num(y(top * frac) + 4)}" text-anchor="end" font-size="10">'
                     f'{top * frac:.2f}</text>')
    for i in range(n):
        parts.append(f'<text x="{_num(x(i))}" y="{height - 12}" text-anchor="middle" font-size="10">{i + 1}</text>')
    parts.append(f'<text x="{left + w / 2}" y="{height - 1}" text-anchor="middle" font-size="10">{escape(x_label)}</text>')
    for k, (name, ys) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{_num(x(i))},{_num(y(v))}" for i, v in enumerate(ys) if v is not None)
        parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        parts.append(f'<rect x="{left + w + 10}" y="{pad_top + 14 * k}" width="10" height="10" fill="{color}"/>'
                     f'<text x="{left + w + 24}" y="{pad_top + 14 * k + 9}" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def bar_chart(rows: list[tuple[str, float, float | None, float | None]], width: int = 520, x_max: float | None = None,
              fmt: str = "{:.3f}") -> Markup:
    """Horizontal bars ``(label, value, low, high)`` with optional interval whiskers."""
    if not rows:
        return Markup("")
    top = x_max or max(max(r[1], r[3] or 0) for r in rows) or 1.0
    label_w, bar_h, gap = 170, 16, 6
    w = width - label_w - 70
    height = len(rows) * (bar_h + gap) + 6
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    for i, (label, value, low, high) in enumerate(rows):
        y0 = 3 + i * (bar_h + gap)
        bw = max(w * value / top, 0)
        parts.append(f'<text x="{label_w - 6}" y="{y0 + 12}" text-anchor="end" font-size="11">{escape(label)}</text>'
                     f'<rect x="{label_w}" y="{y0}" width="{_num(bw)}" height="{bar_h}" fill="{PALETTE[0]}" opacity="0.8">'
                     f'<title>{escape(label)}: {escape(fmt.format(value))}</title></rect>')
        if low is not None and high is not None:
            xl, xh, ym = label_w + w * max(low, 0) / top, label_w + w * min(high, top) / top, y0 + bar_h / 2
            parts.append(f'<line x1="{_num(xl)}" y1="{ym}" x2="{_num(xh)}" y2="{ym}" stroke="#222" stroke-width="1.5"/>'
                         f'<line x1="{_num(xl)}" y1="{y0 + 3}" x2="{_num(xl)}" y2="{y0 + bar_h - 3}" stroke="#222"/>'
                         f'<line x1="{_num(xh)}" y1="{y0 + 3}" x2="{_num(xh)}" y2="{y0 + bar_h - 3}" stroke="#222"/>')
        parts.append(f'<text x="{label_w + w + 6}" y="{y0 + 12}" font-size="11">{escape(fmt.format(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def heat_map(rows: list[str], cols: list[str], values: list[list[float | None]], fmt: str = "{:.2f}",
             v_max: float | None = None, cell: int = 46) -> Markup:
    """A grid coloured from white (0) to red (``v_max``); empty cells are grey."""
    finite = [v for r in values for v in r if v is not None]
    top = v_max or (max(finite) if finite else 1.0) or 1.0
    label_w, head_h = 260, 70
    width, height = label_w + cell * len(cols) + 4, head_h + 22 * len(rows) + 4
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">']
    for j, col in enumerate(cols):
        cx = label_w + j * cell + cell / 2
        parts.append(f'<text transform="translate({_num(cx)},{head_h - 4}) rotate(-40)" font-size="10">{escape(col)}</text>')
    for i, row in enumerate(rows):
        y0 = head_h + i * 22
        short = row if len(row) <= 44 else row[:42] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y0 + 15}" text-anchor="end" font-size="10">'
                     f'<title>{escape(row)}</title>{escape(short)}</text>')
        for j, v in enumerate(values[i]):
            if v is None:
                fill, text = "#eee", ""
            else:
                a = min(max(v / top, 0), 1)
                fill, text = f"rgb(255,{int(255 - 180 * a)},{int(255 - 200 * a)})", fmt.format(v)
            parts.append(f'<rect x="{label_w + j * cell}" y="{y0}" width="{cell - 2}" height="20" fill="{fill}">'
                         f'<title>{escape(row)} × {escape(cols[j])}: {escape(text)}</title></rect>'
                         f'<text x="{label_w + j * cell + cell / 2 - 1}" y="{y0 + 14}" text-anchor="middle" font-size="10">'
                         f'{escape(text)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def forest_plot(rows: list[tuple[str, float, float | None, float | None]], bound: float | None = None,
                width: int = 560) -> Markup:
    """A forest plot: one row ``(label, value, low, high)`` each, a dot with its interval on a symmetric axis
    around zero, and dashed lines at +-``bound`` (the gate's)."""
    if not rows:
        return Markup("")
    reach = max([abs(v) for r in rows for v in r[1:] if v is not None] + [bound or 0.0]) * 1.1 or 1.0
    label_w, row_h = 210, 18
    w = width - label_w - 60
    height = len(rows) * row_h + 24
    x = lambda v: label_w + w * (v + reach) / (2 * reach)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" height="{height}">',
             f'<line x1="{_num(x(0))}" y1="2" x2="{_num(x(0))}" y2="{height - 20}" stroke="#999"/>']
    for b in ((-bound, bound) if bound else ()):
        parts.append(f'<line x1="{_num(x(b))}" y1="2" x2="{_num(x(b))}" y2="{height - 20}" stroke="{PALETTE[3]}" '
                     f'stroke-dasharray="4 3"/><text x="{_num(x(b))}" y="{height - 6}" text-anchor="middle" '
                     f'font-size="10">{b:+.2f}</text>')
    for i, (label, value, low, high) in enumerate(rows):
        ym, shown = 4 + i * row_h + row_h / 2, f"{round(value, 3) + 0.0:+.3f}"  # never "-0.000"
        parts.append(f'<text x="{label_w - 6}" y="{_num(ym + 4)}" text-anchor="end" font-size="11">{escape(label)}</text>')
        if low is not None and high is not None:
            parts.append(f'<line x1="{_num(x(low))}" y1="{_num(ym)}" x2="{_num(x(high))}" y2="{_num(ym)}" '
                         f'stroke="#222" stroke-width="1.5"/>')
        parts.append(f'<circle cx="{_num(x(value))}" cy="{_num(ym)}" r="4" fill="{PALETTE[0]}">'
                     f'<title>{escape(label)}: {shown}</title></circle>'
                     f'<text x="{label_w + w + 6}" y="{_num(ym + 4)}" font-size="11">{shown}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
