// Talking to the Marquee API: JSON in and out, problem+json errors as ApiError, the
// customer's tokens (sessionStorage: gone when the tab closes), one refresh on an expired
// access token, Idempotency-Key on creating POSTs, and the server's clock.

import { t, lang, langChosen } from './i18n.js';

const SESSION_KEY = 'marquee.session';

/** An error the customer can read: the problem+json `title` and `detail`. */
export class ApiError extends Error {
  constructor(problem, status) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.problem = problem;
    this.status = status;
    // "https://marquee.example/problems/seat-unavailable" → "seat-unavailable"
    this.code = String(problem.type || '').split('/').pop() || `http-${status}`;
  }
  get title() { return this.problem.title || t('error.title'); }
  get detail() { return this.problem.detail || ''; }
}

function networkError() {
  return new ApiError({ type: 'network', title: t('error.network.title'), detail: t('error.network.detail') }, 0);
}

// --- session -------------------------------------------------------------------------

const listeners = new Set();

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(SESSION_KEY)) || null; } catch { return null; }
  },
  set(value) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(value));
    listeners.forEach((fn) => fn());
  },
  update(patch) {
    const current = session.get();
    if (current) session.set({ ...current, ...patch });
  },
  clear() {
    sessionStorage.removeItem(SESSION_KEY);
    listeners.forEach((fn) => fn());
  },
  signedIn() { return Boolean(session.get()?.access_token); },
  onChange(fn) { listeners.add(fn); },
};

// --- clock ---------------------------------------------------------------------------

// Milliseconds to add to Date.now() to get the server's time (from its Date header), so a
// countdown to `expires_at` is right even when the device clock is off. Only trusted when
// it is off by more than the header's one-second resolution.
let clockOffset = 0;
function noteServerDate(response) {
  const date = Date.parse(response.headers.get('date') || '');
  if (Number.isNaN(date)) return;
  const offset = date - Date.now();
  clockOffset = Math.abs(offset) > 2000 ? offset : 0;
}
export function serverNow() { return Date.now() + clockOffset; }

// --- requests ------------------------------------------------------------------------

/** A fresh idempotency key; randomUUID needs a secure context, getRandomValues does not. */
export function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

let refreshing = null;

// Refresh tokens are single use: every request that met an expired token waits for the
// same refresh instead of spending the token twice (which the server treats as theft).
function refreshTokens() {
  refreshing ??= (async () => {
    const current = session.get();
    if (!current?.refresh_token) return false;
    try {
      const pair = await request('/api/v1/auth/refresh', {
        method: 'POST', body: { refresh_token: current.refresh_token },
      });
      session.update({ access_token: pair.access_token, refresh_token: pair.refresh_token });
      return true;
    } catch {
      return false;
    }
  })().finally(() => { setTimeout(() => { refreshing = null; }, 0); });
  return refreshing;
}

/**
 * `path` relative to the origin. Options: method, body (JSON), auth (send the bearer token),
 * idempotent (send a fresh Idempotency-Key), raw (return the Response), signal.
 */
export async function api(path, options = {}) {
  try {
    return await request(path, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401 || !options.auth) throw error;
    if (error.code === 'token-expired' && !options.retried && await refreshTokens()) {
      return api(path, { ...options, retried: true });
    }
    session.clear();
    throw new ApiError({ ...error.problem, type: 'unauthorized' }, 401);
  }
}

async function request(path, { method = 'GET', body, auth = false, idempotent = false, raw = false, signal } = {}) {
  const headers = { Accept: raw ? '*/*' : 'application/json' };
  if (langChosen) headers['Accept-Language'] = lang === 'hi' ? 'hi, en;q=0.5' : 'en';
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (auth) {
    const token = session.get()?.access_token;
    if (!token) throw new ApiError({ type: 'unauthorized', title: t('auth.required') }, 401);
    headers.Authorization = `Bearer ${token}`;
  }
  if (idempotent) headers['Idempotency-Key'] = newKey();
  let response;
  try {
    response = await fetch(path, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    if (error.name === 'AbortError') throw error;
    throw networkError();
  }
  noteServerDate(response);
  if (!response.ok) throw await problemOf(response);
  if (raw) return response;
  if (response.status === 204) return null;
  try {
    return await response.json();
  } catch {
    throw networkError();
  }
}

async function problemOf(response) {
  let problem = null;
  try {
    const text = await response.text();
    problem = JSON.parse(text);
  } catch { /* not JSON */ }
  if (!problem || typeof problem !== 'object') {
    problem = { type: `http-${response.status}`, title: response.statusText || t('error.title') };
  }
  return new ApiError(problem, response.status);
}

/** Every item of a paginated list (cities, a city's movies: short lists). */
export async function all(path) {
  const items = [];
  let cursor = null;
  for (let page = 0; page < 20; page++) {
    const sep = path.includes('?') ? '&' : '?';
    const url = `${path}${sep}limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const body = await api(url);
    items.push(...body.items);
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  return items;
}

// Shows change rarely while a page is open; their details are asked for by several pages.
const shows = new Map();
export function showDetail(showId) {
  if (!shows.has(showId)) {
    const pending = api(`/api/v1/shows/${encodeURIComponent(showId)}`);
    pending.catch(() => shows.delete(showId));
    shows.set(showId, pending);
  }
  return shows.get(showId);
}

/** Pages that need an account call this first: signed out, the router sends to sign-in. */
export function requireSession() {
  if (!session.signedIn()) throw new ApiError({ type: 'unauthorized', title: t('auth.required') }, 401);
}

export async function signIn(email, password) {
  const pair = await api('/api/v1/auth/login', { method: 'POST', body: { email, password } });
  session.set({ access_token: pair.access_token, refresh_token: pair.refresh_token, email });
  try {
    const me = await api('/api/v1/me', { auth: true });
    session.update({ name: me.display_name, role: me.role });
  } catch { /* the name is a nicety */ }
}

export async function signOut() {
  const current = session.get();
  session.clear();
  if (current?.refresh_token) {
    try {
      await api('/api/v1/auth/logout', { method: 'POST', body: { refresh_token: current.refresh_token } });
    } catch { /* signed out here either way */ }
  }
}
