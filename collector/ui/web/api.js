// Calls to the management API. The admin token lives in sessionStorage only
// (gone when the tab closes; never in a URL, never in localStorage); a tenant's
// query key lives in memory only, for as long as the page is open.

const TOKEN_KEY = 'consentry.adminToken';

export const adminToken = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (t) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** The query key pasted in the query console, kept while the page is open. */
export const queryKeyMemory = { value: '' };

/** An error answer of the API: HTTP status, stable code and the API's message. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Fired when the admin token is refused: the app goes back to sign-in. */
export const SIGNED_OUT = 'consentry:signed-out';

/**
 * Calls /api with the admin token (or `token`), returns the parsed JSON answer.
 * Throws ApiError with the API's own code and message on an error answer.
 */
export async function api(path, { method = 'GET', body, token } = {}) {
  const bearer = token ?? adminToken.get();
  const headers = { accept: 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: 'omit', cache: 'no-store' });
  } catch {
    throw new ApiError(0, 'NETWORK', 'The management API did not answer: is Consentry running?');
  }
  const text = await res.text();
  let json;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) {
    const code = json?.error ?? `HTTP_${res.status}`;
    const message = json?.message ?? (text.slice(0, 300) || res.statusText);
    if (res.status === 401 && token === undefined) {
      adminToken.clear();
      window.dispatchEvent(new CustomEvent(SIGNED_OUT, { detail: 'The admin token was refused. Paste it again.' }));
    }
    throw new ApiError(res.status, code, message);
  }
  return json;
}

export const enc = encodeURIComponent;
