// Query console: SQL over one tenant's data through POST /api/query with that
// tenant's query key (keys are shown once, so the operator pastes it). The key
// decides the tenant: the query sees that tenant's rows only, whatever it says.
import { html } from 'htm/preact';
import { useRef, useState } from 'preact/hooks';
import { ApiError, api, queryKeyMemory } from '../api.js';
import { ErrorBox, PageTitle, TableRegion } from '../components.js';
import { fmtInt } from '../format.js';

const EXAMPLES = [
  ['Spans per service', 'SELECT ServiceName, count() AS spans\nFROM otel_traces\nGROUP BY ServiceName\nORDER BY spans DESC'],
  ['Requests per minute', 'SELECT Minute, sum(Requests) AS requests, sum(Errors) AS errors\nFROM request_summaries\nGROUP BY Minute\nORDER BY Minute DESC\nLIMIT 60'],
  ['Latest logs', 'SELECT Timestamp, SeverityText, Body\nFROM otel_logs\nORDER BY Timestamp DESC\nLIMIT 50'],
  ['Tier changes', 'SELECT At, Actor, FromTier, ToTier, Reason\nFROM tier_audit\nORDER BY At DESC'],
];
const TABLES = ['otel_traces', 'otel_logs', 'request_summaries', 'gateway_metadata', 'tier_audit'];
/** Rows drawn at most; the rest are counted. */
const MAX_DRAWN = 500;

const FAILURES = {
  QUERY_REJECTED: 'Refused: this query is not allowed',
  QUERY_FAILED: 'ClickHouse could not run the query',
  QUERY_LIMIT: 'The query exceeded a limit',
  UNAUTHORIZED: 'The query key was refused',
  UNAVAILABLE: 'Storage unavailable',
};

export function QueryPage() {
  const [key, setKey] = useState(queryKeyMemory.value);
  const [sql, setSql] = useState(EXAMPLES[0][1]);
  const [result, setResult] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  const results = useRef(null);

  const run = async (e) => {
    e?.preventDefault();
    setError(undefined);
    if (key.trim() === '') return setError(new ApiError(0, '', 'Paste the tenant’s query key first (csk_query_…).'));
    setBusy(true);
    const started = performance.now();
    try {
      const r = await api('/api/query', { method: 'POST', body: { sql }, token: key.trim() });
      setResult({ ...r, ms: performance.now() - started });
    } catch (err) {
      setResult(undefined);
      setError(err);
    } finally {
      setBusy(false);
      results.current?.focus();
    }
  };
  const onKeyDown = (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) run(e);
  };

  return html`
    <${PageTitle}>Query<//>
    <p class="muted">
      SQL (one <code>SELECT</code>) over one tenant’s tables: ${TABLES.map((t, i) => html`${i > 0 ? ', ' : ''}<code>${t}</code>`)}.
      The query key decides the tenant; the query sees that tenant’s rows only.
    </p>
    <form class="card stack" onSubmit=${run} aria-labelledby="query-form-h">
      <h2 id="query-form-h" class="sr-only">SQL query</h2>
      <div class="field">
        <label for="query-key">Tenant query key</label>
        <input id="query-key" type="password" autocomplete="off" spellcheck="false" value=${key} aria-describedby="query-key-help"
          onInput=${(e) => {
            setKey(e.currentTarget.value);
            queryKeyMemory.value = e.currentTarget.value;
          }} />
        <span id="query-key-help" class="hint">Shown once when the tenant was created. Kept in this page’s memory only, until you reload or sign out.</span>
      </div>
      <div class="field">
        <label for="query-sql">SQL</label>
        <textarea id="query-sql" class="code" rows="7" spellcheck="false" value=${sql} onInput=${(e) => setSql(e.currentTarget.value)} onKeyDown=${onKeyDown} aria-describedby="query-sql-help"></textarea>
        <span id="query-sql-help" class="hint">Ctrl+Enter runs the query.</span>
      </div>
      <div class="buttons">
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Running…' : 'Run query'}</button>
        <span class="examples" role="group" aria-labelledby="examples-label">
          <span id="examples-label" class="hint">Examples:</span>
          ${EXAMPLES.map(([name, text]) => html`<button type="button" class="quiet" onClick=${() => setSql(text)}>${name}</button>`)}
        </span>
      </div>
    </form>
    <section aria-labelledby="results-h" ref=${results} tabindex="-1" id="results">
      <h2 id="results-h">Result</h2>
      ${error && html`<${ErrorBox} error=${error} title=${FAILURES[error.code] ?? 'The query failed'} />`}
      ${!error && !result && html`<p class="empty">Run a query to see its rows here.</p>`}
      ${result && html`<${ResultTable} r=${result} />`}
    </section>
  `;
}

function cell(v) {
  if (v === null) return html`<span class="muted">NULL</span>`;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function ResultTable({ r }) {
  const drawn = r.rows.slice(0, MAX_DRAWN);
  return html`
    <p class="muted small" role="status" id="result-status">${fmtInt(r.rows.length)} ${r.rows.length === 1 ? 'row' : 'rows'} in ${Math.round(r.ms)} ms${r.rows.length > MAX_DRAWN ? ` · the first ${MAX_DRAWN} shown` : ''}</p>
    <${TableRegion} label="Query result">
      <table class="data result" id="result-table">
        <thead>
          <tr>${r.columns.map((c) => html`<th scope="col">${c.name}<br /><span class="type">${c.type}</span></th>`)}</tr>
        </thead>
        <tbody>
          ${drawn.map((row) => html`<tr>${row.map((v) => html`<td>${cell(v)}</td>`)}</tr>`)}
        </tbody>
      </table>
    <//>
  `;
}
