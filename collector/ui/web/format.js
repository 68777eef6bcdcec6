// Number and time formatting shared by the pages (en-US digits, the browser's time zone).

const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const fmtInt = (n) => (n === null || n === undefined ? '–' : int.format(n));

const usd = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** US dollars; below a cent with two significant digits ($0.00035); null (nothing priced) as "unknown", never $0. */
export function fmtUsd(v) {
  if (v === null || v === undefined) return 'unknown';
  if (v === 0 || v >= 0.01) return usd.format(v);
  return `$${v.toPrecision(2)}`;
}

export const fmtPct = (r) => (r === null || r === undefined ? '–' : `${(r * 100).toFixed(r === 0 || r >= 0.1 ? 1 : 2)} %`);

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '–';
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms >= 100) return `${Math.round(ms)} ms`;
  if (ms >= 1) return `${ms.toFixed(1)} ms`;
  if (ms === 0) return '0 ms';
  return `${ms.toFixed(3)} ms`;
}

/** An ISO or ClickHouse time ("2026-11-23 10:00:00.000", UTC) as local date and time. */
export function fmtTime(t) {
  if (t === null || t === undefined || t === '') return '–';
  const iso = /^\d{4}-\d{2}-\d{2} /.test(t) ? `${t.replace(' ', 'T')}Z` : t;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return t;
  return d.toLocaleString('en-GB', { year: 'numeric', month: 'short', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** A Date as the value of an <input type="datetime-local"> (local time, minutes). */
export function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}`;
}

/** The value of an <input type="datetime-local"> as a Date (local time), or undefined when empty or invalid. */
export function fromLocalInput(v) {
  if (!v) return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export const timeZone = () => Intl.DateTimeFormat().resolvedOptions().timeZone;
