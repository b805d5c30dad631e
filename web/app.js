// Marquee's customer app: hash routes (the server serves one page), each page rendered from
// the API into <main>, focus on its heading after every navigation. Browsing and accounts
// live here; the seat map in seatmap.js, checkout, tickets and history in bookings.js.

import { api, all, session, signIn, signOut, ApiError } from './api.js';
import { h, announce, alertBox, showError, heading } from './dom.js';
import {
  t, lang, locale, chooseLanguage, money, showTime, dayLabel, todayIn, addDays,
  languageName, countryName, genreName, duration,
} from './i18n.js';
import { seatMapPage } from './seatmap.js';
import { bookingPage, bookingsPage } from './bookings.js';

const main = document.getElementById('main');
const LAST_CITY_KEY = 'marquee.city';
const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

// --- navigation ----------------------------------------------------------------------

let signInMessage = '';

const nav = {
  go(path) {
    if (location.hash === `#${path}`) render();
    else location.hash = `#${path}`;
  },
  replace(path) { location.replace(`#${path}`); },
  reload() { render(); },
  /**
   * To the sign-in page, and back to `next` afterwards. `replace` when the page asked for
   * cannot be shown signed out (it stays out of the history).
   */
  signIn(next, message, { replace = false } = {}) {
    signInMessage = message || '';
    const path = `/signin?next=${encodeURIComponent(next)}`;
    if (replace) nav.replace(path);
    else nav.go(path);
  },
};

function parseHash() {
  let raw = location.hash.replace(/^#/, '');
  try { raw = decodeURI(raw); } catch { /* keep it as it is */ }
  raw ||= '/';
  const at = raw.indexOf('?');
  const path = at < 0 ? raw : raw.slice(0, at);
  const query = new URLSearchParams(at < 0 ? '' : raw.slice(at + 1));
  return { path: path || '/', query };
}

const routes = [
  [/^\/$/, (ctx) => citiesPage(ctx)],
  [/^\/city\/([^/]+)$/, (ctx, [id], query) => moviesPage(ctx, id, query)],
  [/^\/movie\/([^/]+)$/, (ctx, [id], query) => showtimesPage(ctx, id, query)],
  [/^\/show\/([^/]+)$/, (ctx, [id]) => seatMapPage(ctx, id, nav)],
  [/^\/booking\/([^/]+)$/, (ctx, [id]) => bookingPage(ctx, id, nav)],
  [/^\/bookings$/, (ctx) => bookingsPage(ctx, nav)],
  [/^\/signin$/, (ctx, _, query) => signInPage(ctx, query)],
  [/^\/register$/, (ctx, _, query) => registerPage(ctx, query)],
];

let seq = 0;
let current = null;
let firstRender = true;

async function render() {
  const id = ++seq;
  if (current) current.cleanups.splice(0).forEach(run);
  const ctx = {
    cleanups: [],
    onLeave(fn) { this.cleanups.push(fn); },
    get alive() { return id === seq; },
  };
  current = ctx;
  const { path, query } = parseHash();
  renderNav(path);
  const slow = setTimeout(() => {
    if (!ctx.alive) return;
    main.setAttribute('aria-busy', 'true');
    main.replaceChildren(h('p', { class: 'loading', text: t('loading') }));
  }, 300);
  let node;
  try {
    const match = routes.map(([re, page]) => [re.exec(path), page]).find(([m]) => m);
    if (!match) throw new ApiError({ type: 'not-found', title: t('error.notFound') }, 404);
    node = await match[1](ctx, match[0].slice(1).map(decodeURIComponent), query);
  } catch (error) {
    if (error?.code === 'unauthorized') {
      clearTimeout(slow);
      if (ctx.alive) {
        nav.signIn(path + (query.toString() ? `?${query}` : ''), t(session.get() ? 'auth.expired' : 'auth.required'), { replace: true });
      }
      return;
    }
    if (!(error instanceof ApiError)) console.error(error);
    node = errorPage(error);
  }
  clearTimeout(slow);
  if (!ctx.alive) {
    ctx.cleanups.splice(0).forEach(run);
    return;
  }
  main.removeAttribute('aria-busy');
  main.replaceChildren(node);
  const title = main.querySelector('h1');
  document.title = title ? `${title.textContent} · ${t('app.name')}` : t('app.name');
  if (title && !firstRender) title.focus();
  else if (title && firstRender && document.activeElement === document.body) title.focus({ preventScroll: true });
  firstRender = false;
}

function run(fn) {
  try { fn(); } catch (error) { console.error(error); }
}

function errorPage(error) {
  const title = error?.title || t('error.title');
  const detail = error?.detail ?? '';
  return h('div', { class: 'page error-page' },
    heading(title),
    detail ? h('p', { class: 'lead', text: detail }) : null,
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', text: t('error.retry'), onclick: () => render() }),
      h('a', { href: '#/', class: 'button-link', text: t('error.home') })));
}

// --- header --------------------------------------------------------------------------

function renderNav(path) {
  const navEl = document.getElementById('site-nav');
  navEl.setAttribute('aria-label', t('nav.label'));
  const lastCity = localStorage.getItem(LAST_CITY_KEY);
  const moviesHref = lastCity ? `#/city/${lastCity}` : '#/';
  const here = (test) => (test ? 'page' : null);
  const user = session.get();
  const items = [
    h('li', {}, h('a', { href: moviesHref, 'aria-current': here(path === '/' || /^\/(city|movie|show)\//.test(path)), text: t('nav.movies') })),
    h('li', {}, h('a', { href: '#/bookings', 'aria-current': here(path === '/bookings'), text: t('nav.bookings') })),
  ];
  if (user) {
    items.push(h('li', { class: 'who' }, h('span', { text: t('nav.signedInAs', { name: user.name || user.email }) })));
    items.push(h('li', {}, h('button', {
      type: 'button', class: 'nav-button', text: t('nav.signout'),
      onclick: async () => {
        await signOut();
        announce(t('signedOut'));
        const { path: now } = parseHash();
        if (now.startsWith('/booking')) nav.go('/');
        else renderNav(now);
      },
    })));
  } else {
    const next = path.startsWith('/signin') || path.startsWith('/register') ? '' : `?next=${encodeURIComponent(parseHash().path)}`;
    items.push(h('li', {}, h('a', { href: `#/signin${next}`, 'aria-current': here(path === '/signin'), text: t('nav.signin') })));
    items.push(h('li', {}, h('a', { href: `#/register${next}`, 'aria-current': here(path === '/register'), text: t('nav.register') })));
  }
  navEl.replaceChildren(h('ul', {}, items));
}

// --- browsing ------------------------------------------------------------------------

async function citiesPage() {
  const cities = await all('/api/v1/cities');
  const byCountry = new Map();
  for (const city of cities) {
    if (!byCountry.has(city.country_code)) byCountry.set(city.country_code, []);
    byCountry.get(city.country_code).push(city);
  }
  return h('div', { class: 'page' },
    heading(t('cities.title')),
    h('p', { class: 'lead', text: t('cities.intro') }),
    cities.length ? null : h('p', { text: t('cities.none') }),
    [...byCountry].map(([country, list]) => h('section', { class: 'country', 'aria-labelledby': `country-${country}` },
      h('h2', { id: `country-${country}`, text: countryName(country) }),
      h('ul', { class: 'tiles' }, list.map((city) => h('li', {},
        h('a', { class: 'tile', href: `#/city/${encodeURIComponent(city.id)}`, text: city.name })))))));
}

/** Links to the next seven days in the city's timezone; `href(date)` makes each link. */
function dateNav(timezone, selected, href) {
  const today = todayIn(timezone);
  const days = Array.from({ length: 7 }, (_, i) => addDays(today, i));
  return h('nav', { class: 'dates', 'aria-label': t('movies.dates') },
    h('ul', {}, days.map((day, i) => {
      const name = i === 0 ? t('today') : i === 1 ? t('tomorrow') : null;
      return h('li', {}, h('a', { href: href(day), 'aria-current': day === selected ? 'date' : null },
        name ? h('span', { class: 'day-name', text: name }) : null,
        h('span', { class: 'day-date', text: dayLabel(day) })));
    })));
}

function hue(id) {
  let n = 0;
  for (const c of id) n = (n * 31 + c.charCodeAt(0)) % 360;
  return n;
}

/** The language of a localized title when it is not the page's (screen readers switch voice). */
function titleLang(movie) {
  return movie.locale && movie.locale.split('-')[0] !== lang ? movie.locale : null;
}

function poster(movie) {
  const el = h('div', { class: 'poster', 'aria-hidden': 'true', text: [...movie.title][0] || '' });
  el.style.setProperty('--hue', String(hue(movie.id)));
  return el;
}

async function moviesPage(ctx, cityId, query) {
  const requested = DATE_RE.test(query.get('date') || '') ? query.get('date') : null;
  const base = `/api/v1/cities/${encodeURIComponent(cityId)}`;
  const [city, movies] = await Promise.all([
    api(base),
    all(`${base}/movies${requested ? `?date=${requested}` : ''}`),
  ]);
  localStorage.setItem(LAST_CITY_KEY, city.id);
  const date = requested || todayIn(city.timezone);
  const languages = [...new Set(movies.flatMap((m) => m.languages))].sort();
  const genres = [...new Set(movies.flatMap((m) => m.genres))].sort();
  const filterSelect = (id, label, values, name, selected) => h('div', { class: 'field' },
    h('label', { for: id, text: label }),
    h('select', { id, name },
      h('option', { value: '', text: t('movies.any') }),
      values.map((v) => h('option', { value: v, selected: v === selected, text: name(v) }))));
  const filters = h('form', { class: 'filters', 'aria-label': t('movies.filters') },
    filterSelect('filter-language', t('movies.language'), languages, languageName, query.get('language')),
    filterSelect('filter-genre', t('movies.genre'), genres, genreName, query.get('genre')));
  const count = h('p', { class: 'count' });
  const listEl = h('ul', { class: 'movie-list' });

  const apply = (speak) => {
    const language = filters.elements.namedItem('filter-language').value;
    const genre = filters.elements.namedItem('filter-genre').value;
    const shown = movies.filter((m) => (!language || m.languages.includes(language)) && (!genre || m.genres.includes(genre)));
    listEl.replaceChildren(...shown.map((movie) => movieCard(movie, city, date, language)));
    const text = movies.length === 0 ? t('movies.none')
      : shown.length === 0 ? t('movies.noneFiltered') : t('movies.count', { n: shown.length });
    count.textContent = text;
    const params = new URLSearchParams({ date });
    if (language) params.set('language', language);
    if (genre) params.set('genre', genre);
    history.replaceState(null, '', `#/city/${encodeURIComponent(city.id)}?${params}`);
    if (speak) announce(text);
  };
  filters.addEventListener('change', () => apply(true));
  filters.addEventListener('submit', (e) => e.preventDefault());
  apply(false);

  return h('div', { class: 'page' },
    h('p', { class: 'crumb' }, h('a', { href: '#/', text: t('movies.changeCity') })),
    heading(t('movies.title', { city: city.name })),
    dateNav(city.timezone, date, (d) => `#/city/${encodeURIComponent(city.id)}?date=${d}`),
    movies.length ? filters : null,
    count,
    listEl);
}

function movieCard(movie, city, date, language) {
  const params = new URLSearchParams({ city: city.id, date });
  if (language) params.set('language', language);
  return h('li', {}, h('article', { class: 'movie card' },
    poster(movie),
    h('div', { class: 'movie-body' },
      h('h2', { lang: titleLang(movie) }, h('a', { href: `#/movie/${encodeURIComponent(movie.id)}?${params}`, text: movie.title })),
      movie.title !== movie.original_title
        ? h('p', { class: 'original', text: movie.original_title }) : null,
      h('p', { class: 'meta' },
        h('span', { class: 'cert', text: movie.certification }),
        h('span', { text: duration(movie.duration_minutes) }),
        h('span', { text: movie.genres.map(genreName).join(', ') })),
      h('p', { class: 'meta', text: movie.languages.map(languageName).join(', ') }))));
}

async function showtimesPage(ctx, movieId, query) {
  const cityId = query.get('city');
  if (!cityId) {
    const movie = await api(`/api/v1/movies/${encodeURIComponent(movieId)}`);
    const lastCity = localStorage.getItem(LAST_CITY_KEY);
    if (lastCity) {
      nav.replace(`/movie/${encodeURIComponent(movie.id)}?city=${encodeURIComponent(lastCity)}`);
      return h('div', {}, heading(movie.title));
    }
    return h('div', { class: 'page' }, heading(movie.title), h('p', { text: movie.synopsis }),
      h('p', {}, h('a', { href: '#/', text: t('cities.title') })));
  }
  const requested = DATE_RE.test(query.get('date') || '') ? query.get('date') : null;
  const language = query.get('language');
  const url = `/api/v1/cities/${encodeURIComponent(cityId)}/movies/${encodeURIComponent(movieId)}/shows`;
  const params = new URLSearchParams({ limit: '100' });
  if (requested) params.set('date', requested);
  const [listing, detail] = await Promise.all([
    api(`${url}?${params}`),
    api(`/api/v1/movies/${encodeURIComponent(movieId)}`).catch(() => null),
  ]);
  const theatres = [...listing.items];
  let cursor = listing.next_cursor;
  while (cursor) {
    const more = await api(`${url}?${params}&cursor=${encodeURIComponent(cursor)}`);
    theatres.push(...more.items);
    cursor = more.next_cursor;
  }
  const { city, movie } = listing;
  const date = listing.date;
  const showsOf = (item) => item.shows.filter((s) => !language || s.language === language);
  const shown = theatres.filter((item) => showsOf(item).length);
  return h('div', { class: 'page' },
    h('p', { class: 'crumb' }, h('a', { href: `#/city/${encodeURIComponent(city.id)}?date=${date}`, text: t('movie.back', { city: city.name }) })),
    h('div', { class: 'movie-head' },
      poster(movie),
      h('div', {},
        heading(movie.title, { lang: titleLang(movie) }),
        movie.title !== movie.original_title ? h('p', { class: 'original', text: movie.original_title }) : null,
        h('p', { class: 'meta' },
          h('span', { class: 'cert', text: movie.certification }),
          h('span', { text: duration(movie.duration_minutes) }),
          h('span', { text: movie.genres.map(genreName).join(', ') })),
        detail?.synopsis ? h('p', { class: 'synopsis', text: detail.synopsis }) : null)),
    dateNav(city.timezone, date, (d) => `#/movie/${encodeURIComponent(movie.id)}?city=${encodeURIComponent(city.id)}&date=${d}${language ? `&language=${language}` : ''}`),
    h('h2', { text: t('movie.showtimes') }),
    shown.length ? null : h('p', { class: 'empty', text: t('movie.none') }),
    h('ul', { class: 'theatres' }, shown.map((item) => {
      const shows = showsOf(item);
      const cheapest = shows.flatMap((s) => s.prices).reduce((min, p) => (!min || p.price.amount < min.amount ? p.price : min), null);
      return h('li', {}, h('section', { class: 'theatre card', 'aria-labelledby': `thr-${item.theatre.id}` },
        h('h3', { id: `thr-${item.theatre.id}`, text: item.theatre.name }),
        h('p', { class: 'meta' }, h('span', { text: item.theatre.address }),
          cheapest ? h('span', { text: t('movie.from', { price: money(cheapest, { short: true }) }) }) : null),
        h('ul', { class: 'showtimes' }, shows.map((show) => h('li', {},
          h('a', { class: 'showtime', href: `#/show/${encodeURIComponent(show.id)}` },
            h('span', { class: 'time', text: showTime(show.starts_at_local) }),
            ' ',
            h('span', { class: 'fmt', text: `${show.format} · ${languageName(show.language)} · ${show.screen.name}` })))))));
    })));
}

// --- accounts ------------------------------------------------------------------------

function safeNext(query) {
  const next = query.get('next') || '/';
  return /^\/[A-Za-z0-9_\-/?=&%.]*$/.test(next) && !next.startsWith('//') && !/^\/(signin|register)/.test(next) ? next : '/';
}

function field(id, label, attrs, hint) {
  return h('div', { class: 'field' },
    h('label', { for: id, text: label }),
    h('input', { id, name: id, ...attrs, 'aria-describedby': hint ? `${id}-hint` : null }),
    hint ? h('p', { class: 'hint', id: `${id}-hint`, text: hint }) : null);
}

function signInPage(ctx, query) {
  const next = safeNext(query);
  const message = signInMessage;
  signInMessage = '';
  const alert = alertBox({ id: 'signin-error' });
  const submit = h('button', { type: 'submit', class: 'primary', text: t('auth.submitSignin') });
  const form = h('form', { class: 'auth card', 'aria-labelledby': 'signin-title', 'aria-describedby': 'signin-error' },
    field('email', t('auth.email'), { type: 'email', autocomplete: 'username', required: true }),
    field('password', t('auth.password'), { type: 'password', autocomplete: 'current-password', required: true }),
    alert,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    showError(alert, null);
    try {
      await signIn(form.elements.namedItem('email').value.trim(), form.elements.namedItem('password').value);
      const who = session.get();
      announce(t('auth.welcome', { name: who?.name || who?.email || '' }));
      nav.replace(next);
    } catch (error) {
      showError(alert, error);
      form.elements.namedItem('password').select();
    } finally {
      submit.disabled = false;
    }
  });
  return h('div', { class: 'page narrow-page' },
    heading(t('auth.signin'), { id: 'signin-title' }),
    message ? h('p', { class: 'notice', text: message }) : null,
    form,
    h('p', {}, `${t('auth.noAccount')} `, h('a', { href: `#/register?next=${encodeURIComponent(next)}`, text: t('auth.register') })));
}

function registerPage(ctx, query) {
  const next = safeNext(query);
  const alert = alertBox({ id: 'register-error' });
  const submit = h('button', { type: 'submit', class: 'primary', text: t('auth.submitRegister') });
  const form = h('form', { class: 'auth card', 'aria-labelledby': 'register-title', 'aria-describedby': 'register-error' },
    field('display_name', t('auth.name'), { type: 'text', autocomplete: 'name', required: true, maxlength: 100 }),
    field('email', t('auth.email'), { type: 'email', autocomplete: 'email', required: true }),
    field('password', t('auth.password'), { type: 'password', autocomplete: 'new-password', required: true, minlength: 10 }, t('auth.passwordHint')),
    alert,
    h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    submit.disabled = true;
    showError(alert, null);
    const value = (name) => form.elements.namedItem(name).value;
    try {
      const email = value('email').trim();
      await api('/api/v1/auth/register', {
        method: 'POST', body: { email, password: value('password'), display_name: value('display_name').trim() },
      });
      await signIn(email, value('password'));
      announce(t('auth.welcome', { name: value('display_name').trim() }));
      nav.replace(next);
    } catch (error) {
      showError(alert, error);
    } finally {
      submit.disabled = false;
    }
  });
  return h('div', { class: 'page narrow-page' },
    heading(t('auth.register'), { id: 'register-title' }),
    form,
    h('p', {}, `${t('auth.haveAccount')} `, h('a', { href: `#/signin?next=${encodeURIComponent(next)}`, text: t('auth.signin') })));
}

// --- start ---------------------------------------------------------------------------

function start() {
  document.documentElement.lang = lang;
  document.getElementById('skip-link').textContent = t('skip');
  document.getElementById('skip-link').addEventListener('click', (event) => {
    event.preventDefault();
    const title = main.querySelector('h1');
    (title || main).focus();
  });
  const picker = document.getElementById('ui-lang');
  document.getElementById('ui-lang-label').textContent = t('language');
  picker.value = lang;
  picker.addEventListener('change', () => {
    chooseLanguage(picker.value);
    location.reload();
  });
  session.onChange(() => renderNav(parseHash().path));
  window.addEventListener('hashchange', () => {
    if (location.hash === '' || location.hash.startsWith('#/')) render();
  });
  render();
}

start();

// For the browser tests and the curious: the locale in use.
document.documentElement.dataset.locale = locale;
