// The time range of a page, kept in the fragment (?range=<preset> or
// ?from=<ISO>&to=<ISO>), and the fields that edit it (a preset, or a custom
// from and to in local time). Shared by the dashboard and the requests page.
import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import { fromLocalInput, timeZone, toLocalInput } from './format.js';

export const PRESETS = [
  { id: '15m', label: 'Last 15 minutes', seconds: 900 },
  { id: '1h', label: 'Last hour', seconds: 3600 },
  { id: '6h', label: 'Last 6 hours', seconds: 6 * 3600 },
  { id: '24h', label: 'Last 24 hours', seconds: 86_400 },
  { id: '7d', label: 'Last 7 days', seconds: 7 * 86_400 },
  { id: '30d', label: 'Last 30 days', seconds: 30 * 86_400 },
];

/** The range in the fragment's parameters; `fallback` is the preset id when none is given. */
export function rangeOf(params, fallback = '1h') {
  const from = params.get('from');
  const to = params.get('to');
  if (from && to) return { kind: 'custom', from, to };
  const preset = PRESETS.find((p) => p.id === params.get('range')) ?? PRESETS.find((p) => p.id === fallback);
  return { kind: 'preset', preset };
}

/** A stable key of a range, for reloading when it changes. */
export const rangeKey = (range) => (range.kind === 'custom' ? `${range.from}/${range.to}` : range.preset.id);

/** `from` and `to` (ISO) of a range for the API; a preset ends now. */
export function rangeTimes(range) {
  if (range.kind === 'custom') return { from: range.from, to: range.to };
  const now = Date.now();
  return { from: new Date(now - range.preset.seconds * 1000).toISOString(), to: new Date(now).toISOString() };
}

/** Fragment parameters of a range. */
export function rangeParams(range) {
  const q = new URLSearchParams();
  if (range.kind === 'custom') {
    q.set('from', range.from);
    q.set('to', range.to);
  } else q.set('range', range.preset.id);
  return q;
}

/** Editable state of the range fields, starting from `range`. */
export function useRangeFields(range) {
  const now = new Date();
  const [preset, setPreset] = useState(range.kind === 'custom' ? 'custom' : range.preset.id);
  const [from, setFrom] = useState(range.kind === 'custom' ? toLocalInput(new Date(range.from)) : toLocalInput(new Date(now.getTime() - 86_400_000)));
  const [to, setTo] = useState(range.kind === 'custom' ? toLocalInput(new Date(range.to)) : toLocalInput(now));
  return { preset, setPreset, from, setFrom, to, setTo };
}

/** The fields' range as fragment parameters, or a message saying what is wrong. */
export function fieldsRange(f) {
  if (f.preset !== 'custom') return rangeParams({ kind: 'preset', preset: PRESETS.find((p) => p.id === f.preset) });
  const from = fromLocalInput(f.from);
  const to = fromLocalInput(f.to);
  if (!from || !to) return 'Give both times.';
  if (from >= to) return 'From must be before to.';
  return rangeParams({ kind: 'custom', from: from.toISOString(), to: to.toISOString() });
}

/** The preset select, and the custom from and to when "Custom…" is chosen. */
export function RangeFields({ f, presets = PRESETS }) {
  return html`
    <div class="field">
      <label for="range-preset">Time range</label>
      <select id="range-preset" value=${f.preset} onChange=${(e) => f.setPreset(e.currentTarget.value)}>
        ${presets.map((p) => html`<option value=${p.id}>${p.label}</option>`)}
        <option value="custom">Custom…</option>
      </select>
    </div>
    ${f.preset === 'custom' &&
    html`<div class="field">
        <label for="range-from">From <span class="muted small">(${timeZone()})</span></label>
        <input id="range-from" type="datetime-local" value=${f.from} onInput=${(e) => f.setFrom(e.currentTarget.value)} required />
      </div>
      <div class="field">
        <label for="range-to">To</label>
        <input id="range-to" type="datetime-local" value=${f.to} onInput=${(e) => f.setTo(e.currentTarget.value)} required />
      </div>`}
  `;
}
