// The Consentry control plane: sign-in with an operator's token (or the
// bootstrap admin token), then pages routed by the URL fragment (#/tenants,
// #/dashboard/<tenant>, #/requests/<tenant>, #/audit/<tenant>, #/query,
// #/operators). The fragment holds tenant ids, filters and time ranges only,
// never a token. The header says who is signed in; each page offers only what
// the operator's role allows (GET /api/session), and the API checks again.
import { html, render } from 'htm/preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { signedInToken, api, queryKeyMemory, ApiError, SIGNED_OUT } from './api.js';
import { ErrorBox, Loading, can } from './components.js';
import { TenantsPage } from './pages/tenants.js';
import { DashboardPage } from './pages/dashboard.js';
import { RequestsPage } from './pages/requests.js';
import { AuditPage } from './pages/audit.js';
import { QueryPage } from './pages/query.js';
import { OperatorsPage } from './pages/operators.js';

/** `tenant`: the page is about one tenant (its id follows in the fragment); `needs`: shown only with that permission. */
const PAGES = [
  { id: 'tenants', title: 'Tenants', component: TenantsPage },
  { id: 'dashboard', title: 'Dashboard', component: DashboardPage, tenant: true },
  { id: 'requests', title: 'Requests', component: RequestsPage, tenant: true },
  { id: 'audit', title: 'Audit', component: AuditPage, tenant: true },
  { id: 'query', title: 'Query', component: QueryPage },
  { id: 'operators', title: 'Operators', component: OperatorsPage, needs: 'operators' },
];

/** The route in the fragment: page, tenant id, parameters. */
export function parseHash(hash = location.hash) {
  const h = hash.replace(/^#\/?/, '');
  const [path = '', qs = ''] = h.split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const page = PAGES.find((p) => p.id === parts[0]) ?? PAGES[0];
  return { page, tenant: parts[1], params: new URLSearchParams(qs) };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash);
  useEffect(() => {
    const on = () => setRoute(parseHash());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return route;
}

function SignIn({ notice, onSignedIn }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const input = useRef(null);
  useEffect(() => input.current?.focus(), []);
  useEffect(() => {
    document.title = 'Sign in · Consentry';
  }, []);
  const submit = async (e) => {
    e.preventDefault();
    const t = token.trim();
    if (t === '') return setError('Paste your token first.');
    setBusy(true);
    setError('');
    try {
      const me = await api('/api/session', { token: t });
      signedInToken.set(t);
      onSignedIn(me);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? 'This token was refused: it is wrong, or it was revoked. Ask an admin for a new one.' : err.message);
      setBusy(false);
    }
  };
  return html`
    <main id="main" class="signin">
      <form class="card signin-card" onSubmit=${submit} aria-describedby="signin-help">
        <h1>Consentry control plane</h1>
        <p id="signin-help" class="muted">
          Sign in with your operator token (an admin creates it: <code>consentry operators create</code>), or with the bootstrap admin token:
          <code>CONSENTRY_ADMIN_TOKEN</code>, or the file <code>data/admin-token</code> written at first start.
          It is kept in this tab's session storage only and sent to the management API as a bearer token.
        </p>
        <label for="signin-token">Operator or admin token</label>
        <input id="signin-token" ref=${input} type="password" autocomplete="off" spellcheck="false" value=${token} onInput=${(e) => setToken(e.currentTarget.value)} />
        ${notice && !error && html`<p class="notice" role="status">${notice}</p>`}
        ${error && html`<p class="error" role="alert">${error}</p>`}
        <button type="submit" class="primary" disabled=${busy}>${busy ? 'Signing in…' : 'Sign in'}</button>
      </form>
    </main>
  `;
}

function Shell({ route, me, onSignOut }) {
  const main = useRef(null);
  const first = useRef(true);
  const pages = PAGES.filter((p) => p.needs === undefined || can(me, p.needs));
  const page = pages.includes(route.page) ? route.page : undefined;
  const Page = page?.component;
  useEffect(() => {
    document.title = `${route.page.title}${route.tenant ? ` · ${route.tenant}` : ''} · Consentry`;
    // After a navigation, move focus to the new page's heading (not on first load).
    if (first.current) first.current = false;
    else main.current?.querySelector('h1')?.focus();
  }, [route.page.id, route.tenant]);
  const skip = () => main.current?.focus();
  const href = (p) => (route.tenant && p.tenant ? `#/${p.id}/${encodeURIComponent(route.tenant)}` : `#/${p.id}`);
  return html`
    <button type="button" class="skip" onClick=${skip}>Skip to content</button>
    <header class="top">
      <span class="brand">Consentry</span>
      <nav aria-label="Main">
        <ul>
          ${pages.map((p) => html`<li><a href=${href(p)} aria-current=${p.id === route.page.id ? 'page' : undefined}>${p.title}</a></li>`)}
        </ul>
      </nav>
      <span class="who" id="signed-in-as">Signed in as <strong>${me.name}</strong> <span class="role">${me.role}</span></span>
      <button type="button" class="quiet" onClick=${onSignOut}>Sign out</button>
    </header>
    <main id="main" ref=${main} tabindex="-1">
      ${Page
        ? html`<${Page} key=${`${route.page.id}/${route.tenant ?? ''}`} me=${me} tenant=${route.tenant} params=${route.params} />`
        : html`<h1 tabindex="-1">${route.page.title}</h1>
            <p class="role-note" id="page-not-offered">Signed in as <strong>${me.name}</strong> (role ${me.role}): the ${route.page.title} page needs the role admin. Ask an admin.</p>`}
    </main>
  `;
}

/** What runs: Consentry's version from GET /readyz (no token needed), in every page's footer. */
function Footer() {
  const [version, setVersion] = useState(undefined);
  useEffect(() => {
    fetch('/readyz', { credentials: 'omit', cache: 'no-store' })
      .then((r) => r.json())
      .then((b) => setVersion(b.version), () => undefined);
  }, []);
  return html`<footer class="page-footer" id="version">Consentry${version === undefined ? '' : ` ${version}`}</footer>`;
}

function Root() {
  return html`<${App} /><${Footer} />`;
}

function App() {
  const route = useRoute();
  // undefined: not signed in; 'loading': a token from this tab's session, being checked; else GET /api/session.
  const [me, setMe] = useState(() => (signedInToken.get() === null ? undefined : 'loading'));
  const [error, setError] = useState(undefined);
  const [notice, setNotice] = useState(undefined);
  useEffect(() => {
    const on = (e) => {
      setNotice(e.detail);
      setMe(undefined);
    };
    window.addEventListener(SIGNED_OUT, on);
    return () => window.removeEventListener(SIGNED_OUT, on);
  }, []);
  useEffect(() => {
    if (me !== 'loading') return;
    api('/api/session').then(setMe, (err) => {
      if (err.status !== 401) setError(err); // 401: SIGNED_OUT took the page back to sign-in
    });
  }, [me]);
  const signOut = () => {
    signedInToken.clear();
    queryKeyMemory.value = '';
    setNotice('Signed out.');
    setMe(undefined);
  };
  if (me === undefined) return html`<${SignIn} notice=${notice} onSignedIn=${setMe} />`;
  if (me === 'loading') return html`<main id="main">${error ? html`<${ErrorBox} error=${error} title="Your session could not be checked" />` : html`<${Loading} what="Checking your session" />`}</main>`;
  return html`<${Shell} route=${route} me=${me} onSignOut=${signOut} />`;
}

render(html`<${Root} />`, document.getElementById('app'));
