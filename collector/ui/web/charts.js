// Charts: time series with uPlot (canvas, so each chart also has its figures
// as a table for keyboard and screen-reader users) and horizontal bars in CSS.
import { html } from 'htm/preact';
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import { TableRegion } from './components.js';

const COLORS = ['#1f4e79', '#c0392b', '#d68910', '#1e8449', '#7d3c98', '#117a8b'];
const INTEGER_STEPS = [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1e3, 2e3, 2.5e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 1e8, 1e9];

/**
 * A time series chart. `x`: Unix seconds; `series`: [{ label, values, kind: 'bars'|'line', format }].
 * The same figures are under "Show as table".
 */
export function TimeChart({ id, title, x, series, yFormat = String, integer = false, height = 220 }) {
  const box = useRef(null);
  const plot = useRef(null);
  useEffect(() => {
    const el = box.current;
    const bars = uPlot.paths.bars({ size: [0.8, 40] });
    const opts = {
      width: Math.max(200, el.clientWidth),
      height,
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true } },
      axes: [
        { stroke: '#555', grid: { stroke: '#eee' } },
        {
          stroke: '#555',
          grid: { stroke: '#eee' },
          // Counts get whole-number ticks only.
          incrs: integer ? INTEGER_STEPS : undefined,
          values: (_u, vals) => vals.map((v) => yFormat(v)),
          // Wide enough for the longest tick label (about 7 px a character at this size).
          size: (_u, vals) => 18 + 7 * Math.max(3, ...(vals ?? []).map((v) => String(v).length)),
        },
      ],
      series: [
        { label: 'time' },
        ...series.map((s, i) => ({
          label: s.label,
          stroke: COLORS[i % COLORS.length],
          width: s.kind === 'bars' ? 0 : 2,
          fill: s.kind === 'bars' ? `${COLORS[i % COLORS.length]}cc` : undefined,
          paths: s.kind === 'bars' ? bars : undefined,
          points: { show: s.kind !== 'bars' && x.length < 40 },
          spanGaps: false,
          value: (_u, v) => (v === null || v === undefined ? '–' : (s.format ?? yFormat)(v)),
        })),
      ],
    };
    const u = new uPlot(opts, [x, ...series.map((s) => s.values)], el);
    plot.current = u;
    const ro = new ResizeObserver(() => {
      const w = Math.max(200, el.clientWidth);
      if (w !== u.width) u.setSize({ width: w, height });
    });
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [x, series]);
  const time = (t) => new Date(t * 1000).toLocaleString('en-GB', { month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  return html`<figure class="chart card" id=${id} aria-labelledby=${`${id}-h`}>
    <figcaption><h3 id=${`${id}-h`}>${title}</h3></figcaption>
    <div class="chart-box" ref=${box} aria-hidden="true"></div>
    <details>
      <summary>Show as table</summary>
      <${TableRegion} label=${`${title}, as a table`}>
        <table class="data compact">
          <thead><tr><th scope="col">Time</th>${series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
          <tbody>
            ${x.map((t, i) => html`<tr><th scope="row">${time(t)}</th>${series.map((s) => html`<td>${s.values[i] === null ? '–' : (s.format ?? yFormat)(s.values[i])}</td>`)}</tr>`)}
          </tbody>
        </table>
      <//>
    </details>
  </figure>`;
}

/** A horizontal bar for a table cell: `value` of `max`, with no text of its own (the figure is in the row). */
export function Bar({ value, max, tone = '' }) {
  const pct = max > 0 ? Math.max(0, Math.min(100, (value / max) * 100)) : 0;
  return html`<span class=${`bar ${tone}`} aria-hidden="true"><span class="bar-fill" style=${{ width: `${pct}%` }}></span></span>`;
}
