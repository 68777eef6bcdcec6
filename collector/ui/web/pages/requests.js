// Request explorer of one tenant (collector/api/explorer.ts): requests newest
// first, filtered by time, model, status, route and end user, a page at a
// time (the API pages by keyset: "Older" follows its cursor, "Newer" goes back
// along the cursors seen); one request opened with its metadata, headers and
// bodies as stored (secrets show as the marker that replaced them), its
// timing and the other spans of its trace; usage per end user.
//
// Keyboard: the list is one tab stop; the arrows move between requests, Home
// and End to the first and last, Enter opens one in a modal panel beside the
// list and moves focus to it; "Back to the list" (or Escape) closes it and
// returns focus to its row.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { ErrorBox, Loading, PageTitle, TableRegion, TenantPicker, loadTenants, useLoad, useModal } from '../components.js';
import { fmtInt, fmtMs, fmtTime, fmtUsd } from '../format.js';
import { RangeFields, fieldsRange, rangeKey, rangeOf, rangeParams, rangeTimes, useRangeFields } from '../range.js';

const STATUSES = [
  ['', 'Any status'],
  ['2xx', '2xx'],
  ['3xx', '3xx'],
  ['4xx', '4xx'],
  ['5xx', '5xx'],
  ['errors', 'Errors (5xx or failed)'],
  ['error', 'Failed without an HTTP status'],
  ['unset', 'No status'],
];
const FILTERS = ['model', 'status', 'route', 'user'];
const PAGE = 50;

export function RequestsPage({ tenant, params }) {
  const tenants = useLoad(loadTenants, []);
  const range = rangeOf(params, '24h');
  const filters = Object.fromEntries(FILTERS.map((k) => [k, params.get(k) ?? '']));
  const filterKey = `${rangeKey(range)}|${FILTERS.map((k) => filters[k]).join('|')}`;
  return html`
    <${PageTitle}>Requests${tenant ? html` <span class="muted">· ${tenant}</span>` : ''}<//>
    <div class="toolbar"><${TenantPicker} page="requests" tenant=${tenant} tenants=${tenants.data ?? []} /></div>
    <${ErrorBox} error=${tenants.error} />
    ${!tenant && html`<p class="empty">Choose a tenant to browse its requests.</p>`}
    ${tenant && html`<${Explorer} key=${`${tenant}|${filterKey}`} tenant=${tenant} range=${range} filters=${filters} />`}
  `;
}

function Explorer({ tenant, range, filters }) {
  // Cursors of the pages seen: [first page (none), second, ...]; `page` indexes it.
  const [cursors, setCursors] = useState([undefined]);
  const [page, setPage] = useState(0);
  const [refreshed, setRefreshed] = useState(0);
  const [open, setOpen] = useState(undefined);
  // The range's times are fixed when the filters are applied (or shown again), so "Older" pages continue the same list.
  const [times, setTimes] = useState(() => rangeTimes(range));
  const refresh = () => {
    setTimes(rangeTimes(range));
    setCursors([undefined]);
    setPage(0);
    setOpen(undefined);
    setRefreshed((x) => x + 1);
  };
  const list = useLoad(() => {
    const q = new URLSearchParams({ ...times, limit: String(PAGE) });
    for (const k of FILTERS) if (filters[k] !== '') q.set(k, filters[k]);
    if (cursors[page] !== undefined) q.set('cursor', cursors[page]);
    return api(`/api/tenants/${enc(tenant)}/requests?${q}`);
  }, [page, refreshed]);
  const users = useLoad(() => api(`/api/tenants/${enc(tenant)}/end-users?${new URLSearchParams(times)}`), [refreshed]);
  const table = useRef(null);
  const paged = useRef(false);
  useEffect(() => {
    // After "Older" or "Newer", focus the first request, so the arrows go on from there.
    if (paged.current && list.data) table.current?.querySelector('button.row-open')?.focus();
    paged.current = false;
  }, [list.data]);
  const go = (n) => {
    const next = list.data?.next;
    if (n > page && next && cursors.length === page + 1) setCursors([...cursors, next]);
    paged.current = true;
    setOpen(undefined);
    setPage(n);
  };
  const d = list.data;
  const hasCost = d?.requests.some((r) => r.calls.costUsd !== undefined);
  return html`
    <${Filters} tenant=${tenant} range=${range} filters=${filters} onRefresh=${refresh} />
    ${d && d.requestData !== 'per-request' && html`<${NoRequests} d=${d} />`}
    <section class="card" aria-labelledby="requests-h" aria-busy=${list.loading ? 'true' : 'false'}>
      <h2 id="requests-h">Requests, newest first</h2>
      <${ErrorBox} error=${list.error} title="The requests could not be loaded" />
      ${list.loading && !d && html`<${Loading} what="Loading requests" />`}
      ${d &&
      html`<p class="muted small" id="requests-status" role="status">
        ${d.requests.length === 0 ? 'No requests match.' : `Requests ${fmtInt(page * PAGE + 1)}–${fmtInt(page * PAGE + d.requests.length)}`} · ${fmtTime(d.from)} – ${fmtTime(d.to)} ·
        ${fmtInt(d.scanned.rows)} stored rows read
      </p>`}
      ${d?.requests.length > 0 && html`<${RequestList} rows=${d.requests} open=${open} onOpen=${setOpen} table=${table} hasCost=${hasCost} />`}
      ${d?.callsTruncated && html`<p class="warning small">Some traces of this page have more spans than are read for their LLM calls: the calls and tokens shown may be incomplete.</p>`}
      <nav class="buttons pager" aria-label="Pages of requests">
        <button type="button" onClick=${() => go(page - 1)} disabled=${page === 0 || list.loading}>Newer</button>
        <span class="muted small">Page ${page + 1}</span>
        <button type="button" onClick=${() => go(page + 1)} disabled=${!d?.next || list.loading}>Older</button>
      </nav>
    </section>
    ${open &&
    html`<${RequestDetail}
      key=${`${open.traceId}/${open.spanId}`}
      tenant=${tenant}
      id=${open}
      onBack=${() => {
        setOpen(undefined);
        requestAnimationFrame(() => table.current?.querySelector(`tr[data-span="${open.spanId}"] button.row-open`)?.focus());
      }}
    />`}
    <${EndUsers} users=${users} tenant=${tenant} range=${range} filters=${filters} />
  `;
}

function Filters({ tenant, range, filters, onRefresh }) {
  const f = useRangeFields(range);
  const [values, setValues] = useState(filters);
  const [error, setError] = useState('');
  const set = (k) => (e) => setValues({ ...values, [k]: e.currentTarget.value });
  const apply = (e) => {
    e.preventDefault();
    const q = fieldsRange(f);
    if (typeof q === 'string') return setError(q);
    setError('');
    for (const k of FILTERS) if (values[k].trim() !== '') q.set(k, values[k].trim());
    const next = `#/requests/${enc(tenant)}?${q}`;
    if (location.hash === next) onRefresh();
    else location.hash = next;
  };
  const text = (k, label, hint) => html`<div class="field">
    <label for=${`filter-${k}`}>${label}</label>
    <input id=${`filter-${k}`} value=${values[k]} onInput=${set(k)} autocomplete="off" spellcheck="false" aria-describedby=${hint ? `filter-${k}-help` : undefined} />
    ${hint && html`<span id=${`filter-${k}-help`} class="hint">${hint}</span>`}
  </div>`;
  return html`<form class="card row filters" onSubmit=${apply} aria-label="Filter requests">
    <${RangeFields} f=${f} />
    ${text('model', 'Model', 'of an LLM call of the request')}
    <div class="field">
      <label for="filter-status">Status</label>
      <select id="filter-status" value=${values.status} onChange=${set('status')}>
        ${STATUSES.map(([v, label]) => html`<option value=${v}>${label}</option>`)}
      </select>
    </div>
    ${text('route', 'Route', 'as the dashboard shows it, e.g. /v1/chat/completions')}
    ${text('user', 'End user', 'user.id')}
    <div class="field field-button buttons">
      <button type="submit" class="primary">Show</button>
      <a href=${`#/requests/${enc(tenant)}`}>Clear filters</a>
    </div>
    ${error && html`<p class="error" role="alert">${error}</p>`}
  </form>`;
}

function NoRequests({ d }) {
  return html`<section class="consent-none card" id="no-requests" aria-labelledby="no-requests-h">
    <h2 id="no-requests-h">No individual requests by consent</h2>
    <p>${d.message}</p>
    <p class="muted">Tenant ${d.tenant} is on tier <span class="tier">${d.tier}</span>${d.requestData === 'aggregates' ? ', which keeps per-minute aggregates only: see the dashboard' : ', which stores no request data'}. Switch its tier on the Tenants page if the tenant consents to more.</p>
  </section>`;
}

const label = (r) => `${r.method ? `${r.method} ` : ''}${r.route || r.name}`;
const modelsOf = (r) => (r.calls.models.length > 0 ? r.calls.models.join(', ') : r.model);

/** The list: one tab stop (roving tabindex on each row's open button), arrows between rows. */
function RequestList({ rows, open, onOpen, table, hasCost }) {
  const [active, setActive] = useState(0);
  const at = Math.min(active, rows.length - 1);
  const onKeyDown = (e) => {
    const i = Number(e.currentTarget.dataset.index);
    const to = { ArrowDown: i + 1, ArrowUp: i - 1, Home: 0, End: rows.length - 1 }[e.key];
    if (to === undefined || to < 0 || to >= rows.length) return;
    e.preventDefault();
    setActive(to);
    table.current?.querySelectorAll('button.row-open')[to]?.focus();
  };
  return html`
    <p class="hint" id="requests-keys">Arrow keys move between requests; Enter opens one; Home and End go to the first and the last.</p>
    <${TableRegion} label="Requests">
      <table class="data requests" id="requests-table" ref=${table}>
        <thead>
          <tr>
            <th scope="col">Time</th><th scope="col">Request</th><th scope="col">Status</th><th scope="col" class="num">Duration</th>
            <th scope="col">Model</th><th scope="col" class="num">Tokens in / out</th>${hasCost && html`<th scope="col" class="num">Cost</th>`}<th scope="col">End user</th>
          </tr>
        </thead>
        <tbody>
          ${rows.map(
            (r, i) => html`<tr data-span=${r.spanId} class=${open?.spanId === r.spanId ? 'opened' : ''} aria-current=${open?.spanId === r.spanId ? 'true' : undefined}>
              <th scope="row">
                <button type="button" class="row-open" tabindex=${i === at ? 0 : -1} data-index=${i} aria-describedby="requests-keys"
                  onKeyDown=${onKeyDown} onFocus=${() => setActive(i)} onClick=${() => onOpen({ traceId: r.traceId, spanId: r.spanId })}>
                  <span class="sr-only">Open request ${label(r)} at </span>${fmtTime(r.start)}
                </button>
              </th>
              <td class="wrap-some">${label(r)}<br /><span class="muted small">${r.service} · ${r.kind.replace('SPAN_KIND_', '').toLowerCase()}</span></td>
              <td data-col="status"><span class=${r.error ? 'status bad' : 'status'}>${r.httpStatus || r.statusClass}</span></td>
              <td class="num">${fmtMs(r.durationMs)}</td>
              <td data-col="model">${modelsOf(r) || html`<span class="muted">–</span>`}${r.calls.calls > 1 ? html` <span class="muted small">(${r.calls.calls} calls)</span>` : ''}</td>
              <td class="num" data-col="tokens">${r.calls.calls > 0 ? `${fmtInt(r.calls.inputTokens)} / ${fmtInt(r.calls.outputTokens)}` : '–'}</td>
              ${hasCost && html`<td class="num">${fmtUsd(r.calls.costUsd)}${r.calls.unknownCostCalls > 0 ? html` <span class="muted small">(${r.calls.unknownCostCalls} unknown)</span>` : ''}</td>`}
              <td data-col="user">${r.user || html`<span class="muted">–</span>`}</td>
            </tr>`,
          )}
        </tbody>
      </table>
    <//>
  `;
}

/** A stored value, with each `[REDACTED:<kind>]` marker shown as what it is. */
function Stored({ value }) {
  const parts = String(value).split(/(\[REDACTED:[a-z0-9-]+\])/);
  return parts.map((p, i) => (i % 2 === 1 ? html`<mark class="secret" title="A secret was here; Consentry never stores it">${p}<span class="sr-only"> (a secret was removed here)</span></mark>` : p));
}

/** Bodies are often JSON: shown indented when they parse (markers stay inside their strings). */
function pretty(v) {
  const t = v.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return v;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return v;
  }
}

function Attributes({ id, title, attrs, body = false }) {
  const keys = Object.keys(attrs).sort();
  if (keys.length === 0) return null;
  return html`<section aria-labelledby=${`${id}-h`} class="attrs">
    <h3 id=${`${id}-h`}>${title}</h3>
    ${body
      ? keys.map((k) => html`<div class="body-attr"><h4><code>${k}</code></h4><pre class="body" tabindex="0" aria-label=${k}><${Stored} value=${pretty(attrs[k])} /></pre></div>`)
      : html`<dl class="kv" id=${id}>${keys.map((k) => html`<div><dt><code>${k}</code></dt><dd><${Stored} value=${attrs[k]} /></dd></div>`)}</dl>`}
  </section>`;
}

const pick = (attrs, kinds, kind) => Object.fromEntries(Object.entries(attrs).filter(([k]) => (kinds[k] ?? 'other') === kind));

function RequestDetail({ tenant, id, onBack }) {
  const req = useLoad(() => api(`/api/tenants/${enc(tenant)}/requests/${id.traceId}/${id.spanId}`), []);
  const dialog = useRef(null);
  const heading = useRef(null);
  useModal(dialog, onBack, false);
  useEffect(() => {
    if (req.data || req.error) heading.current?.focus();
  }, [req.data, req.error]);
  const d = req.data;
  const s = d?.span;
  return html`<dialog ref=${dialog} class="dialog drawer request" id="request-detail" aria-labelledby="request-h">
    <div class="request-head">
      <h2 id="request-h" tabindex="-1" ref=${heading}>${s ? `${s.attributes['http.request.method'] ?? ''} ${s.attributes['http.route'] ?? s.name}`.trim() : 'Request'}</h2>
      <button type="button" onClick=${() => dialog.current.close()}>Back to the list</button>
    </div>
    <${ErrorBox} error=${req.error} title="The request could not be loaded" />
    ${req.loading && html`<${Loading} what="Loading the request" />`}
    ${s &&
    html`
      <dl class="stats request-facts" id="request-facts">
        <div class="stat"><dt>Started</dt><dd>${fmtTime(s.start)}</dd></div>
        <div class="stat"><dt>Duration</dt><dd>${fmtMs(s.durationMs)}</dd></div>
        <div class="stat"><dt>HTTP status</dt><dd>${s.attributes['http.response.status_code'] ?? '–'}</dd></div>
        <div class="stat"><dt>Span status</dt><dd>${s.statusCode.replace('STATUS_CODE_', '').toLowerCase()}</dd></div>
      </dl>
      <p class="muted small" id="request-ids">
        ${s.service} · ${s.kind.replace('SPAN_KIND_', '').toLowerCase()} span · trace <code>${s.traceId}</code> · span <code>${s.spanId}</code> · stored under tier <span class="tier">${d.tier}</span>, kept until ${fmtTime(d.expireAt)}
        ${s.statusMessage && html`<br />Status message: <${Stored} value=${s.statusMessage} />`}
      </p>
      <${Waterfall} spans=${d.trace.spans} truncated=${d.trace.truncated} opened=${s.spanId} />
      <${Attributes} id="attrs-content" title="Bodies and content" attrs=${pick(s.attributes, s.kinds, 'content')} body=${true} />
      <${Attributes} id="attrs-headers" title="Headers" attrs=${pick(s.attributes, s.kinds, 'header')} />
      <${Attributes} id="attrs-llm" title="LLM call" attrs=${pick(s.attributes, s.kinds, 'llm')} />
      <${Attributes} id="attrs-other" title="Other attributes" attrs=${pick(s.attributes, s.kinds, 'other')} />
      <${Attributes} id="attrs-resource" title="Resource" attrs=${s.resource} />
      ${s.events.length > 0 &&
      html`<section aria-labelledby="events-h" class="attrs"><h3 id="events-h">Span events</h3>
        <ul class="plain">${s.events.map((ev) => html`<li><strong>${ev.name}</strong> <span class="muted small">${fmtTime(ev.time)}</span>${Object.keys(ev.attributes).length > 0 && html`<dl class="kv">${Object.entries(ev.attributes).map(([k, v]) => html`<div><dt><code>${k}</code></dt><dd><${Stored} value=${v} /></dd></div>`)}</dl>`}</li>`)}</ul>
      </section>`}
      <${TraceLogs} logs=${d.logs} />
    `}
  </dialog>`;
}

/** The spans of the trace, indented under their parents, each with a bar at its offset and duration. */
function Waterfall({ spans, truncated, opened }) {
  const end = Math.max(1e-9, ...spans.map((x) => x.offsetMs + x.durationMs));
  return html`<section aria-labelledby="waterfall-h" class="attrs">
    <h3 id="waterfall-h">Timing: the ${spans.length === 1 ? 'only span' : `${spans.length} spans`} of its trace</h3>
    ${truncated && html`<p class="warning small">The trace has more spans than shown.</p>`}
    <ol class="waterfall" id="waterfall" aria-label="Spans of the trace, nested under their parents">
      ${spans.map(
        (x) => html`<li class=${x.spanId === opened ? 'opened' : ''} aria-current=${x.spanId === opened ? 'true' : undefined} data-depth=${x.depth}>
          <details>
            <summary>
              <span class="wf-name" style=${{ paddingLeft: `${Math.min(x.depth, 12) * 1.1}rem` }}>
                <span class="sr-only">${x.depth > 0 ? `level ${x.depth + 1}: ` : ''}</span>${x.name}
                ${x.isRequest && html` <span class="tag">request</span>`}${x.isCall && html` <span class="tag alt">LLM call</span>`}
                <span class="muted small"> ${x.service} · starts at +${fmtMs(x.offsetMs)}, takes ${fmtMs(x.durationMs)}${x.statusCode === 'STATUS_CODE_ERROR' ? ' · error' : ''}</span>
              </span>
              <span class="wf-track" aria-hidden="true"><span class=${x.statusCode === 'STATUS_CODE_ERROR' ? 'wf-bar bad' : 'wf-bar'} style=${{ left: `${(x.offsetMs / end) * 100}%`, width: `${Math.max(0.5, (x.durationMs / end) * 100)}%` }}></span></span>
            </summary>
            <dl class="kv">${Object.keys(x.attributes).sort().map((k) => html`<div><dt><code>${k}</code></dt><dd><${Stored} value=${x.attributes[k]} /></dd></div>`)}</dl>
          </details>
        </li>`,
      )}
    </ol>
  </section>`;
}

function TraceLogs({ logs }) {
  if (logs.rows.length === 0) return null;
  return html`<section aria-labelledby="trace-logs-h" class="attrs">
    <h3 id="trace-logs-h">Logs of the trace</h3>
    ${logs.truncated && html`<p class="warning small">The trace has more logs than shown.</p>`}
    <${TableRegion} label="Logs of the trace">
      <table class="data compact" id="trace-logs">
        <thead><tr><th scope="col">Time</th><th scope="col">Severity</th><th scope="col">Event</th><th scope="col">Body</th></tr></thead>
        <tbody>
          ${logs.rows.map((l) => html`<tr><td>${fmtTime(l.time)}</td><td>${l.severity || '–'}</td><td>${l.eventName || html`<span class="muted">–</span>`}</td><td class="wrap"><${Stored} value=${l.body} /></td></tr>`)}
        </tbody>
      </table>
    <//>
  </section>`;
}

function EndUsers({ users, tenant, range, filters }) {
  const d = users.data;
  const hasCost = d?.users.some((u) => u.costUsd !== undefined);
  const only = (user) => {
    const q = rangeParams(range);
    for (const k of FILTERS) if (k !== 'user' && filters[k] !== '') q.set(k, filters[k]);
    q.set('user', user);
    return `#/requests/${enc(tenant)}?${q}`;
  };
  return html`<section class="card" aria-labelledby="end-users-h" id="end-users">
    <h2 id="end-users-h">Usage per end user</h2>
    <${ErrorBox} error=${users.error} title="Usage per end user could not be loaded" />
    ${users.loading && !d && html`<${Loading} what="Loading usage" />`}
    ${d && d.userData !== 'kept' && html`<p class="consent-note" id="no-end-users">${d.message}</p>`}
    ${d && d.userData === 'kept' && d.users.length === 0 && html`<p class="empty">No requests with an end user (user.id) in this time range.</p>`}
    ${d?.users.length > 0 &&
    html`<${TableRegion} label="Usage per end user">
      <table class="data" id="end-users-table">
        <thead><tr><th scope="col">End user</th><th scope="col" class="num">Requests</th><th scope="col" class="num">Errors</th><th scope="col" class="num">LLM calls</th><th scope="col" class="num">Input tokens</th><th scope="col" class="num">Output tokens</th>${hasCost && html`<th scope="col" class="num">Cost</th>`}</tr></thead>
        <tbody>
          ${d.users.map(
            (u) => html`<tr data-user=${u.user}>
              <th scope="row"><a href=${only(u.user)}>${u.user}<span class="sr-only">: show only their requests</span></a></th>
              <td class="num" data-col="requests">${fmtInt(u.requests)}</td>
              <td class="num" data-col="errors">${fmtInt(u.errors)}</td>
              <td class="num" data-col="calls">${fmtInt(u.calls)}</td>
              <td class="num" data-col="input-tokens">${fmtInt(u.inputTokens)}</td>
              <td class="num" data-col="output-tokens">${fmtInt(u.outputTokens)}</td>
              ${hasCost && html`<td class="num">${fmtUsd(u.costUsd)}${u.unknownCostCalls > 0 ? html` <span class="muted small">(${u.unknownCostCalls} calls unknown)</span>` : ''}</td>`}
            </tr>`,
          )}
        </tbody>
      </table>
    <//>`}
    ${d?.truncated && html`<p class="muted small">The ${fmtInt(d.users.length)} end users with the most requests are shown.</p>`}
  </section>`;
}
