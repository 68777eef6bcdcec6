// Tenants: the list with each tenant's tier and until, creating a tenant (its
// keys shown once), switching a tenant's tier with a reason, after a
// confirmation that says what the new tier stores and what stops being stored,
// and the two erasures (collector/api/privacy.ts): one end user of a tenant,
// after a confirmation of what is deleted, and a whole tenant, after its id is
// typed. Each action is offered only when the signed-in operator's role
// allows it; the page says which are not offered and why.
import { html } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { api, enc } from '../api.js';
import { CreateForm, ErrorBox, Loading, PageTitle, RoleNote, ShownOnce, TableRegion, can, loadTenants, useLoad, useModal } from '../components.js';
import { fmtInt, fmtTime, fromLocalInput, timeZone, toLocalInput } from '../format.js';

export function TenantsPage({ me }) {
  const tenants = useLoad(loadTenants, []);
  const tiers = useLoad(() => api('/api/tiers').then((r) => r.tiers), []);
  const [created, setCreated] = useState(undefined);
  const [switching, setSwitching] = useState(undefined);
  const [erasing, setErasing] = useState(undefined);
  const [deleting, setDeleting] = useState(undefined);
  // { text, remains?, audit?, focus? }: the outcome of the last action.
  const [notice, setNotice] = useState(undefined);
  const noticeBox = useRef(null);
  useEffect(() => {
    if (notice?.focus) noticeBox.current?.focus();
  }, [notice]);

  const [mayCreate, maySwitch, mayErase] = [can(me, 'tenants:write'), can(me, 'tiers:write'), can(me, 'erasure')];
  return html`
    <${PageTitle}>Tenants<//>
    <${RoleNote}
      me=${me}
      id="tenants-role-note"
      missing=${[
        ['tenants:write', 'creating and deleting tenants'],
        ['tiers:write', 'switching tiers'],
        ['erasure', 'erasing end users'],
      ]}
    />
    ${mayCreate &&
    html`<${CreateTenant}
      tiers=${tiers.data ?? []}
      onCreated=${(t) => {
        setCreated(t);
        setNotice(undefined);
        tenants.reload();
      }}
    />`}
    ${created && html`<${KeysOnce} tenant=${created} onDone=${() => setCreated(undefined)} />`}
    <div role="status" id="tenants-notice">
      ${notice &&
      html`<div class="notice" tabindex="-1" ref=${noticeBox}>
        <p>${notice.text}${notice.audit ? html` <a href=${`#/audit/${enc(notice.audit)}`}>See it in the audit of ${notice.audit}</a>.` : ''}</p>
        ${notice.remains?.length > 0 && html`<p>Kept on purpose:</p><ul id="notice-remains">${notice.remains.map((r) => html`<li>${r}</li>`)}</ul>`}
      </div>`}
    </div>
    <section aria-labelledby="tenant-list-h">
      <h2 id="tenant-list-h">All tenants</h2>
      <${ErrorBox} error=${tenants.error ?? tiers.error} />
      ${tenants.loading && !tenants.data ? html`<${Loading} what="Loading tenants" />` : ''}
      ${tenants.data && tenants.data.length === 0 && html`<p class="empty">No tenants yet${mayCreate ? ': create the first one above' : ''}.</p>`}
      ${tenants.data &&
      tenants.data.length > 0 &&
      html`<${TableRegion} label="Tenants">
        <table class="data cards" id="tenants-table">
          <thead>
            <tr><th scope="col">Tenant</th><th scope="col">Tier</th><th scope="col">Until</th><th scope="col">Since</th><th scope="col">Created</th><th scope="col"><span class="sr-only">Actions</span></th></tr>
          </thead>
          <tbody>
            ${tenants.data.map(
              (t) => html`<tr data-tenant=${t.id}>
                <th scope="row">${t.id}</th>
                <td data-label="Tier"><span class="tier">${t.tier}</span></td>
                <td data-label="Until">${t.assignment?.until ? html`${fmtTime(t.assignment.until)}<br /><span class="muted small">then back to ${t.assignment.priorTier}</span>` : html`<span class="muted">permanent</span>`}</td>
                <td data-label="Since">${fmtTime(t.assignment?.effectiveAt)}</td>
                <td data-label="Created">${fmtTime(t.createdAt)}</td>
                <td>
                  <div class="actions">
                    <a href=${`#/dashboard/${enc(t.id)}`}>Dashboard<span class="sr-only"> of ${t.id}</span></a>
                    <a href=${`#/requests/${enc(t.id)}`}>Requests<span class="sr-only"> of ${t.id}</span></a>
                    <a href=${`#/audit/${enc(t.id)}`}>Audit<span class="sr-only"> of ${t.id}</span></a>
                    ${maySwitch && html`<button type="button" onClick=${() => setSwitching(t)}>Switch tier<span class="sr-only"> of ${t.id}</span></button>`}
                    ${mayErase && html`<button type="button" class="danger-text" onClick=${() => setErasing(t)}>Erase end user<span class="sr-only"> of ${t.id}</span></button>`}
                    ${mayCreate && html`<button type="button" class="danger-text" onClick=${() => setDeleting(t)}>Delete tenant<span class="sr-only"> of ${t.id}</span></button>`}
                  </div>
                </td>
              </tr>`,
            )}
          </tbody>
        </table>
      <//>`}
    </section>
    ${switching &&
    html`<${SwitchTier}
      tenant=${switching}
      tiers=${tiers.data ?? []}
      onClose=${(done) => {
        setSwitching(undefined);
        if (done) {
          setNotice({ text: `Tenant ${switching.id} is now on tier ${done.tier}${done.until ? ` until ${fmtTime(done.until)}` : ''}.` });
          tenants.reload();
        }
      }}
    />`}
    ${erasing &&
    html`<${EraseSubject}
      tenant=${erasing}
      onClose=${(report) => {
        setErasing(undefined);
        if (report) setNotice({ text: `Erased ${report.subject} from ${report.tenant}: ${rowsText(report.rows, SUBJECT_TABLES)} deleted.`, audit: report.tenant });
      }}
    />`}
    ${deleting &&
    html`<${DeleteTenant}
      tenant=${deleting}
      onClose=${(report) => {
        setDeleting(undefined);
        if (report) {
          if (created?.id === report.tenant) setCreated(undefined);
          const rows = rowsText(report.rows);
          setNotice({
            text: `Tenant ${report.tenant} deleted: ${report.keysRevoked ? 'its ingest and query keys are revoked, ' : ''}its tier is removed, ${rows === '' ? 'no stored rows were found' : `${rows} deleted`}.`,
            remains: report.remains,
            audit: report.tenant,
            focus: true, // its row, and the button that opened the dialog, are gone
          });
          tenants.reload();
        }
      }}
    />`}
  `;
}

function CreateTenant({ tiers, onCreated }) {
  const [id, setId] = useState('');
  const [tier, setTier] = useState('');
  const create = async () => {
    const created = await api('/api/tenants', { method: 'POST', body: tier ? { id: id.trim(), tier } : { id: id.trim() } });
    setId('');
    onCreated(created);
  };
  return html`<${CreateForm} id="create" title="Create a tenant" submitLabel="Create tenant" failed="The tenant was not created" action=${create}>
    <div class="field">
      <label for="new-tenant-id">Tenant id</label>
      <input id="new-tenant-id" required pattern="[a-z0-9][a-z0-9_\\-]{0,62}" aria-describedby="new-tenant-id-help" value=${id} onInput=${(e) => setId(e.currentTarget.value)} autocomplete="off" spellcheck="false" />
      <span id="new-tenant-id-help" class="hint">lower-case letters, digits, - and _</span>
    </div>
    <div class="field">
      <label for="new-tenant-tier">Tier</label>
      <select id="new-tenant-tier" value=${tier} onChange=${(e) => setTier(e.currentTarget.value)}>
        <option value="">default of this Consentry</option>
        ${tiers.map((t) => html`<option value=${t}>${t}</option>`)}
      </select>
    </div>
  <//>`;
}

/** The keys of a new tenant, shown once: the API keeps only their hashes. */
function KeysOnce({ tenant, onDone }) {
  return html`<${ShownOnce}
    id="new-keys"
    title=${`Keys of tenant ${tenant.id} (tier ${tenant.tier})`}
    warning=${html`<strong>Copy these keys now.</strong> Consentry stores only their hashes: they are shown this once and cannot be shown again. Anyone with the ingest key can send data as ${tenant.id}; anyone with the query key can read its data.`}
    secrets=${[
      { id: 'ingest-key', label: 'Ingest key (gateways send OTLP with it)', value: tenant.ingestKey },
      { id: 'query-key', label: "Query key (SQL over this tenant's data)", value: tenant.queryKey },
    ]}
    done="I have stored both keys"
    onDone=${onDone}
  />`;
}

/** Items of `a` not in `b`. */
const minus = (a, b) => a.filter((x) => !b.includes(x));

function SwitchTier({ tenant, tiers, onClose }) {
  const dialog = useRef(null);
  const current = tenant.assignment?.tier ?? tenant.tier;
  const [tier, setTier] = useState(tiers.find((t) => t !== current) ?? '');
  const [until, setUntil] = useState('');
  const [reason, setReason] = useState('');
  const [step, setStep] = useState('edit'); // edit -> review
  const [info, setInfo] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  useModal(dialog, onClose, busy);
  useEffect(() => {
    if (step === 'review') dialog.current?.querySelector('#confirm-h')?.focus();
  }, [step]);

  const review = async (e) => {
    e.preventDefault();
    setError(undefined);
    if (reason.trim() === '') return setError({ message: 'Give a reason: it is written to the audit trail.' });
    if (until !== '' && !(fromLocalInput(until) > new Date())) return setError({ message: 'Until must be a time in the future.' });
    setBusy(true);
    try {
      const [from, to] = await Promise.all([api(`/api/tiers/${enc(current)}`), api(`/api/tiers/${enc(tier)}`)]);
      setInfo({ from, to });
      setStep('review');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const body = { tier, reason: reason.trim() };
      const u = fromLocalInput(until);
      if (u) body.until = u.toISOString();
      const done = await api(`/api/tenants/${enc(tenant.id)}/tier`, { method: 'PUT', body });
      dialog.current.close();
      onClose(done);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const cancel = () => dialog.current.close();

  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="switch-h">
    <h2 id="switch-h">Switch the tier of ${tenant.id}</h2>
    <p>Now on <span class="tier">${current}</span>${tenant.assignment?.until ? html` until ${fmtTime(tenant.assignment.until)}, then ${tenant.assignment.priorTier}` : ''}.</p>
    ${step === 'edit' &&
    html`<form onSubmit=${review} class="stack">
      <div class="field">
        <label for="switch-tier">New tier</label>
        <select id="switch-tier" value=${tier} onChange=${(e) => setTier(e.currentTarget.value)} required>
          ${tiers.map((t) => html`<option value=${t}>${t}${t === current ? ' (current)' : ''}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="switch-until">Until (optional)</label>
        <input id="switch-until" type="datetime-local" value=${until} min=${toLocalInput(new Date())} onInput=${(e) => setUntil(e.currentTarget.value)} aria-describedby="switch-until-help" />
        <span id="switch-until-help" class="hint">Your local time (${timeZone()}). At this time the tenant returns to ${current} by itself. Empty: permanent.</span>
      </div>
      <div class="field">
        <label for="switch-reason">Reason (required, written to the audit trail)</label>
        <textarea id="switch-reason" required maxlength="1000" rows="3" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)}></textarea>
      </div>
      <${ErrorBox} error=${error} title="Cannot continue" />
      <div class="buttons">
        <button type="submit" class="primary" disabled=${busy}>Review the change</button>
        <button type="button" onClick=${cancel}>Cancel</button>
      </div>
    </form>`}
    ${step === 'review' &&
    info &&
    html`<div class="confirm">
      <h3 id="confirm-h" tabindex="-1">Switch ${tenant.id} from ${info.from.name} to ${info.to.name}${until ? ` until ${fmtTime(fromLocalInput(until).toISOString())}` : ''}?</h3>
      <p class="muted">${info.to.description}</p>
      <div class="cols">
        <div>
          <h4>${info.to.name} stores</h4>
          <ul id="confirm-stores">${info.to.stores.map((s) => html`<li>${s}</li>`)}</ul>
          <p class="small">Kept ${info.to.retentionDays === null ? 'without expiry' : `${info.to.retentionDays} days`}.</p>
        </div>
        <div>
          <h4>Stops being stored</h4>
          ${minus(info.from.stores, info.to.stores).length === 0
            ? html`<p id="confirm-stops">Nothing that ${info.from.name} stores.</p>`
            : html`<ul id="confirm-stops">${minus(info.from.stores, info.to.stores).map((s) => html`<li>${s}</li>`)}</ul>`}
          <p class="small muted">Stored under ${info.from.name}, not under ${info.to.name}. ${info.to.name} never stores: ${info.to.omits.join('; ')}.</p>
        </div>
      </div>
      <p class="small">
        The switch applies to everything received from now on${info.to.level < info.from.level ? ', and to data still in flight' : ''}.
        ${until ? ` At ${fmtTime(fromLocalInput(until).toISOString())} ${tenant.id} returns to ${tenant.assignment?.until ? tenant.assignment.priorTier : current} by itself.` : ' It stays until the next switch.'}
        Reason: “${reason.trim()}”.
      </p>
      <${ErrorBox} error=${error} title="The tier was not switched" />
      <div class="buttons">
        <button type="button" class="primary" onClick=${confirm} disabled=${busy}>${busy ? 'Switching…' : `Switch to ${info.to.name}`}</button>
        <button type="button" onClick=${() => setStep('edit')}>Back</button>
        <button type="button" onClick=${cancel}>Cancel</button>
      </div>
    </div>`}
  </dialog>`;
}

/** Names of the tables an erasure reports, as counted things (singular, plural). */
const TABLE_NAMES = {
  otel_traces: ['span', 'spans'],
  otel_logs: ['log', 'logs'],
  request_summaries: ['request summary', 'request summaries'],
  gateway_metadata: ['gateway metadata row', 'gateway metadata rows'],
  tier_audit: ['tier audit row', 'tier audit rows'],
  tier_assignments: ['tier assignment', 'tier assignments'],
  erasure_tombstones: ['end user tombstone', 'end user tombstones'],
  tenants: ['tenant record (with its key hashes)', 'tenant records (with their key hashes)'],
};
/** The tables of an end user's data (collector/analytics/erasure.ts, SUBJECT_TABLES). */
const SUBJECT_TABLES = ['otel_traces', 'otel_logs'];

/**
 * "12 spans, 3 logs" from an erasure report's rows per table: every table of
 * `always` (zero included), then the other tables with rows.
 */
function rowsText(rows = {}, always = []) {
  const tables = [...always, ...Object.keys(TABLE_NAMES).filter((t) => !always.includes(t)), ...Object.keys(rows).filter((t) => !(t in TABLE_NAMES) && !always.includes(t))];
  return tables
    .filter((t) => always.includes(t) || Number(rows[t] ?? 0) > 0)
    .map((t) => {
      const n = Number(rows[t] ?? 0);
      const [one, many] = TABLE_NAMES[t] ?? [`row of ${t}`, `rows of ${t}`];
      return `${fmtInt(n)} ${n === 1 ? one : many}`;
    })
    .join(', ');
}

/** The API's limit on an end user id, in characters (code points: an emoji counts once, unlike maxlength). */
const MAX_SUBJECT = 1024;

function EraseSubject({ tenant, onClose }) {
  const dialog = useRef(null);
  const [subject, setSubject] = useState('');
  const [reason, setReason] = useState('');
  const [step, setStep] = useState('edit'); // edit -> review
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  useModal(dialog, onClose, busy);
  useEffect(() => {
    if (step === 'review') dialog.current?.querySelector('#erase-confirm-h')?.focus();
  }, [step]);

  const review = (e) => {
    e.preventDefault();
    setError(undefined);
    if (subject === '') return setError({ message: 'Give the end user id: the value of user.id on their spans and logs.' });
    if ([...subject].length > MAX_SUBJECT) return setError({ message: `The end user id has ${[...subject].length} characters; a user.id has at most ${MAX_SUBJECT}.` });
    if (reason.trim() === '') return setError({ message: 'Give a reason: it is written to the audit trail.' });
    setStep('review');
  };
  const confirm = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const report = await api(`/api/tenants/${enc(tenant.id)}/subjects/${enc(subject)}?reason=${enc(reason.trim())}`, { method: 'DELETE' });
      dialog.current.close();
      onClose(report);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const cancel = () => dialog.current.close();
  const spaces = subject !== subject.trim();

  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="erase-h" aria-busy=${busy ? 'true' : 'false'}>
    <h2 id="erase-h">Erase an end user of ${tenant.id}</h2>
    ${step === 'edit' &&
    html`<form onSubmit=${review} class="stack">
      <div class="field">
        <label for="erase-subject">End user id (user.id)</label>
        <input id="erase-subject" required maxlength=${2 * MAX_SUBJECT} value=${subject} onInput=${(e) => setSubject(e.currentTarget.value)} aria-describedby="erase-subject-help" autocomplete="off" spellcheck="false" />
        <span id="erase-subject-help" class="hint">Exactly as the gateway reports it in <code>user.id</code> (case and spaces count).</span>
      </div>
      <div class="field">
        <label for="erase-reason">Reason (required, written to the audit trail)</label>
        <textarea id="erase-reason" required maxlength="1000" rows="3" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)}></textarea>
      </div>
      <${ErrorBox} error=${error} title="Cannot continue" />
      <div class="buttons">
        <button type="submit" class="primary">Review the erasure</button>
        <button type="button" onClick=${cancel}>Cancel</button>
      </div>
    </form>`}
    ${step === 'review' &&
    html`<div class="confirm" id="erase-confirm">
      <h3 id="erase-confirm-h" tabindex="-1">Erase ${subject} from ${tenant.id}?</h3>
      <p>
        Every span and log of <strong>${subject}</strong> in ${tenant.id}, and the other spans and logs of the same traces, are deleted; data of ${subject} still in flight is dropped; this cannot be undone.
        Data the gateway sends for ${subject} after the erasure is new data and is stored again.
      </p>
      ${spaces && html`<p class="warning">The id begins or ends with a space: only a <code>user.id</code> with the same spaces matches.</p>`}
      <p class="small">The erasure is written to the audit trail with the rows deleted per table. Reason: “${reason.trim()}”.</p>
      <${ErrorBox} error=${error} title="Nothing was erased" />
      <div class="buttons">
        <button type="button" class="danger" onClick=${confirm} disabled=${busy}>${busy ? 'Erasing… (a few seconds)' : `Erase ${subject}`}</button>
        <button type="button" onClick=${() => setStep('edit')} disabled=${busy}>Back</button>
        <button type="button" onClick=${cancel} disabled=${busy}>Cancel</button>
      </div>
    </div>`}
  </dialog>`;
}

function DeleteTenant({ tenant, onClose }) {
  const dialog = useRef(null);
  const [reason, setReason] = useState('');
  const [typed, setTyped] = useState('');
  const [error, setError] = useState(undefined);
  const [busy, setBusy] = useState(false);
  useModal(dialog, onClose, busy);
  const matches = typed === tenant.id;

  const submit = async (e) => {
    e.preventDefault();
    setError(undefined);
    if (reason.trim() === '') return setError({ message: 'Give a reason: it is written to the audit trail.' });
    if (!matches) return setError({ message: `Type ${tenant.id} to confirm.` });
    setBusy(true);
    try {
      const report = await api(`/api/tenants/${enc(tenant.id)}?reason=${enc(reason.trim())}`, { method: 'DELETE' });
      dialog.current.close();
      onClose(report);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };
  const cancel = () => dialog.current.close();

  return html`<dialog ref=${dialog} class="dialog" aria-labelledby="delete-h" aria-describedby="delete-what" aria-busy=${busy ? 'true' : 'false'}>
    <h2 id="delete-h">Delete tenant ${tenant.id} and all its data</h2>
    <div id="delete-what" class="warning">
      <p><strong>This cannot be undone.</strong> At once:</p>
      <ul>
        <li>its ingest and query keys are revoked: gateways sending as ${tenant.id}, and queries with its key, are refused (401);</li>
        <li>its tier (now <span class="tier">${tenant.tier}</span>) and its tier history are removed;</li>
        <li>every row of ${tenant.id} is deleted: spans, logs, request summaries, gateway metadata, the tenant record with its key hashes; data still in flight is dropped.</li>
      </ul>
      <p class="small">Kept on purpose: the audit of this erasure, a tombstone of the id that drops late data, and Kafka records until the topic retention (listed after the deletion).</p>
    </div>
    <form onSubmit=${submit} class="stack">
      <div class="field">
        <label for="delete-reason">Reason (required, written to the audit trail)</label>
        <textarea id="delete-reason" required maxlength="1000" rows="3" value=${reason} onInput=${(e) => setReason(e.currentTarget.value)}></textarea>
      </div>
      <div class="field">
        <label for="delete-confirm">Type <code>${tenant.id}</code> to confirm</label>
        <input id="delete-confirm" value=${typed} onInput=${(e) => setTyped(e.currentTarget.value)} autocomplete="off" spellcheck="false" aria-describedby="delete-confirm-help" />
        <span id="delete-confirm-help" class="hint">The delete button is enabled once the tenant id is typed exactly.</span>
      </div>
      <${ErrorBox} error=${error} title="The tenant was not deleted" />
      <div class="buttons">
        <button type="submit" class="danger" disabled=${busy || !matches}>${busy ? 'Deleting… (a few seconds)' : `Delete ${tenant.id} and all its data`}</button>
        <button type="button" onClick=${cancel} disabled=${busy}>Cancel</button>
      </div>
    </form>
  </dialog>`;
}
