// Dashboard of one tenant (GET /api/tenants/:id/dashboard): totals, requests
// and errors over time, latency p50/p95/p99, per provider and endpoint, tokens
// and cost per model, and how long the tier keeps rows and content. A tier that
// keeps no request data says so plainly instead of showing zeros that would
// read as "no traffic"; a cost nobody could price says "unknown", never $0.
import { html } from 'htm/preact';
import { useMemo, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { ErrorBox, Loading, PageTitle, TableRegion, TenantPicker, loadTenants, useLoad } from '../components.js';
import { Bar, TimeChart } from '../charts.js';
import { fmtInt, fmtMs, fmtPct, fmtTime, fmtUsd } from '../format.js';
import { RangeFields, fieldsRange, rangeKey as keyOf, rangeOf, rangeParams, rangeTimes, useRangeFields } from '../range.js';

export function DashboardPage({ tenant, params }) {
  const tenants = useLoad(loadTenants, []);
  const range = rangeOf(params);
  const rangeKey = keyOf(range);
  const [refreshed, setRefreshed] = useState(0);
  const dash = useLoad(async () => {
    if (!tenant) return undefined;
    return api(`/api/tenants/${enc(tenant)}/dashboard?${new URLSearchParams(rangeTimes(range))}`);
  }, [tenant, rangeKey, refreshed]);
  const suffix = `?${rangeParams(range)}`;

  return html`
    <${PageTitle}>Dashboard${tenant ? html` <span class="muted">· ${tenant}</span>` : ''}<//>
    <div class="toolbar">
      <${TenantPicker} page="dashboard" tenant=${tenant} tenants=${tenants.data ?? []} extra=${suffix} />
      ${tenant && html`<${RangePicker} key=${rangeKey} tenant=${tenant} range=${range} onRefresh=${() => setRefreshed((n) => n + 1)} />`}
    </div>
    <${ErrorBox} error=${tenants.error} />
    ${!tenant && html`<p class="empty">Choose a tenant to see its requests, errors, latency and tokens.</p>`}
    ${tenant && dash.loading && !dash.data && html`<${Loading} what="Loading the dashboard" />`}
    <${ErrorBox} error=${dash.error} title="The dashboard could not be loaded" />
    ${dash.data && html`<${Figures} d=${dash.data} busy=${dash.loading} />`}
  `;
}

function RangePicker({ tenant, range, onRefresh }) {
  const f = useRangeFields(range);
  const [error, setError] = useState('');
  const apply = (e) => {
    e.preventDefault();
    const q = fieldsRange(f);
    if (typeof q === 'string') return setError(q);
    setError('');
    const next = `#/dashboard/${enc(tenant)}?${q}`;
    if (location.hash === next) onRefresh();
    else location.hash = next;
  };
  return html`<form class="row range" onSubmit=${apply} aria-label="Time range">
    <${RangeFields} f=${f} />
    <div class="field field-button"><button type="submit" class="primary">Show</button></div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </form>`;
}

const SOURCE = {
  aggregates: 'per-minute aggregates (the tier keeps no individual requests)',
  'per-request': 'individual requests',
};

function Figures({ d, busy }) {
  const none = d.requestData === 'none-by-consent';
  const hasFigures = d.totals !== undefined;
  return html`<div aria-busy=${busy ? 'true' : 'false'}>
    <p class="muted small" id="dash-meta">
      Tier <span class="tier">${d.tier}</span> · ${fmtTime(d.from)} – ${fmtTime(d.to)} · buckets of ${d.stepSeconds >= 3600 ? `${d.stepSeconds / 3600} h` : `${d.stepSeconds / 60} min`}
      ${!none && SOURCE[d.requestData] ? ` · from ${SOURCE[d.requestData]}` : ''}
    </p>
    ${d.retention && html`<p class="muted small" id="dash-retention">Retention: ${d.retention.summary}</p>`}
    ${none &&
    html`<section class="consent-none card" id="no-request-data" aria-labelledby="none-h">
      <h2 id="none-h">No request data by consent</h2>
      <p>${d.message}</p>
      <p class="muted">Tenant ${d.tenant} is on tier <span class="tier">${d.tier}</span>, which stores no request data. Switch its tier on the Tenants page if the tenant consents to more.</p>
    </section>`}
    ${hasFigures && html`${none && html`<h2>Stored under an earlier tier</h2>`}<${Body} d=${d} />`}
  </div>`;
}

function Body({ d }) {
  const t = d.totals;
  const x = useMemo(() => d.series.map((p) => Date.parse(p.start) / 1000), [d]);
  const reqSeries = useMemo(
    () => [
      { label: 'Requests', kind: 'bars', values: d.series.map((p) => p.requests), format: fmtInt },
      { label: 'Errors', kind: 'bars', values: d.series.map((p) => p.errors), format: fmtInt },
    ],
    [d],
  );
  const rateSeries = useMemo(() => [{ label: 'Error rate', kind: 'line', values: d.series.map((p) => p.errorRate), format: fmtPct }], [d]);
  const latSeries = useMemo(
    () => ['p50', 'p95', 'p99'].map((q) => ({ label: q, kind: 'line', values: d.series.map((p) => p.latencyMs[q]), format: fmtMs })),
    [d],
  );
  const stats = [
    ['requests', 'Requests', fmtInt(t.requests)],
    ['errors', 'Errors', fmtInt(t.errors)],
    ['error-rate', 'Error rate', fmtPct(t.errorRate)],
    ['p50', 'Latency p50', fmtMs(t.latencyMs.p50)],
    ['p95', 'Latency p95', fmtMs(t.latencyMs.p95)],
    ['p99', 'Latency p99', fmtMs(t.latencyMs.p99)],
    ['input-tokens', 'Input tokens', fmtInt(t.inputTokens)],
    ['output-tokens', 'Output tokens', fmtInt(t.outputTokens)],
    ['cost', 'Cost', fmtUsd(t.costUsd)],
    ['unpriced-calls', 'Calls without a price', fmtInt(t.unpricedCalls)],
  ];
  return html`
    <dl class="stats" id="totals">
      ${stats.map(([id, label, value]) => html`<div class="stat" data-stat=${id}><dt>${label}</dt><dd>${value}</dd></div>`)}
    </dl>
    ${t.requests === 0 && html`<p class="empty">No requests in this time range.</p>`}
    <div class="charts">
      <${TimeChart} id="chart-requests" title="Requests over time" x=${x} series=${reqSeries} yFormat=${fmtInt} integer=${true} />
      <${TimeChart} id="chart-error-rate" title="Error rate" x=${x} series=${rateSeries} yFormat=${(v) => fmtPct(v)} />
      <${TimeChart} id="chart-latency" title="Latency p50 / p95 / p99" x=${x} series=${latSeries} yFormat=${fmtMs} />
    </div>
    <div class="breakdowns">
      <${Breakdown} id="by-provider" title="Requests per provider" keyName="provider" keyLabel="Provider" rows=${d.byProvider} />
      <${Breakdown} id="by-endpoint" title="Requests per endpoint" keyName="endpoint" keyLabel="Endpoint" rows=${d.byEndpoint} />
      <${Tokens} rows=${d.byModel} prices=${d.prices} />
    </div>
  `;
}

const label = (v) => (v === '' ? html`<span class="muted">(none)</span>` : v);

function Breakdown({ id, title, keyName, keyLabel, rows }) {
  const max = Math.max(0, ...rows.map((r) => r.requests));
  return html`<section class="card" aria-labelledby=${`${id}-h`}>
    <h2 id=${`${id}-h`}>${title}</h2>
    ${rows.length === 0
      ? html`<p class="empty">No requests.</p>`
      : html`<${TableRegion} label=${title}>
          <table class="data" id=${id}>
            <thead><tr><th scope="col">${keyLabel}</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Errors</th><th scope="col" class="num">Error rate</th><th scope="col" class="num">p50</th><th scope="col" class="num">p95</th><th scope="col" class="num">p99</th><th scope="col" class="num">LLM calls</th></tr></thead>
            <tbody>
              ${rows.map(
                (r) => html`<tr data-key=${r[keyName]}>
                  <th scope="row">${label(r[keyName])}</th>
                  <td class="num" data-col="requests">${fmtInt(r.requests)} <${Bar} value=${r.requests} max=${max} /></td>
                  <td class="num" data-col="errors">${fmtInt(r.errors)}</td>
                  <td class="num" data-col="error-rate">${fmtPct(r.errorRate)}</td>
                  <td class="num">${fmtMs(r.latencyMs.p50)}</td>
                  <td class="num">${fmtMs(r.latencyMs.p95)}</td>
                  <td class="num">${fmtMs(r.latencyMs.p99)}</td>
                  <td class="num" data-col="calls">${fmtInt(r.calls)}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        <//>`}
  </section>`;
}

// Per model, the figure is the LLM call (a request may call several models; an
// application's entry span names none): rows without calls or tokens are left out.
// Cost is priced at receipt; calls of a model without a price are counted apart.
function Tokens({ rows: all, prices }) {
  const rows = all.filter((r) => r.calls > 0 || r.inputTokens + r.outputTokens > 0);
  const max = Math.max(0, ...rows.map((r) => r.inputTokens + r.outputTokens));
  return html`<section class="card" aria-labelledby="by-model-h">
    <h2 id="by-model-h">Tokens and cost per model</h2>
    ${prices && html`<p class="muted small">Priced at receipt; new calls by the price table of ${prices.version}. "unknown": no price for the model.</p>`}
    ${rows.length === 0
      ? html`<p class="empty">No LLM calls.</p>`
      : html`<${TableRegion} label="Tokens and cost per model">
          <table class="data" id="by-model">
            <thead><tr><th scope="col">Model</th><th scope="col" class="num">LLM calls</th><th scope="col" class="num">Input tokens</th><th scope="col" class="num">Output tokens</th><th scope="col" class="num">Total</th><th scope="col" class="num">Cost</th><th scope="col" class="num">Calls without a price</th></tr></thead>
            <tbody>
              ${rows.map(
                (r) => html`<tr data-key=${r.model}>
                  <th scope="row">${label(r.model)}</th>
                  <td class="num" data-col="calls">${fmtInt(r.calls)}</td>
                  <td class="num" data-col="input-tokens">${fmtInt(r.inputTokens)}</td>
                  <td class="num" data-col="output-tokens">${fmtInt(r.outputTokens)}</td>
                  <td class="num" data-col="total-tokens">${fmtInt(r.inputTokens + r.outputTokens)} <${Bar} value=${r.inputTokens + r.outputTokens} max=${max} tone="alt" /></td>
                  <td class="num" data-col="cost">${fmtUsd(r.costUsd)}</td>
                  <td class="num" data-col="unpriced-calls">${fmtInt(r.unpricedCalls)}</td>
                </tr>`,
              )}
            </tbody>
          </table>
        <//>`}
  </section>`;
}
