// Building the page: elements from data (text is always text, never parsed as HTML), the
// status region that screen readers announce, and error boxes.

import { t } from './i18n.js';

/**
 * h('button', {class: 'primary', onclick: fn, 'aria-pressed': 'false'}, 'Text', child…)
 * Attributes: `class`, `text`, `on<event>` (listeners), `dataset`, booleans (true = present,
 * false/null/undefined = absent), anything else as an attribute.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

let clearTimer = null;

/** Says `message` in the page's polite status region (visible too, for a while). */
export function announce(message, { keep = false } = {}) {
  const region = document.getElementById('status');
  if (!region) return;
  clearTimeout(clearTimer);
  // Emptying first makes a repeated message count as a change for screen readers.
  region.textContent = '';
  region.classList.remove('shown');
  requestAnimationFrame(() => {
    region.textContent = message;
    region.classList.toggle('shown', Boolean(message));
  });
  if (!keep) {
    clearTimer = setTimeout(() => {
      region.textContent = '';
      region.classList.remove('shown');
    }, 10000);
  }
}

export function clearAnnouncement() {
  clearTimeout(clearTimer);
  const region = document.getElementById('status');
  if (region) {
    region.textContent = '';
    region.classList.remove('shown');
  }
}

/** An alert box with a problem's title and detail; empty when `error` is null. */
export function showError(box, error) {
  box.replaceChildren();
  if (!error) return;
  const title = error.title || t('error.title');
  const detail = error.detail ?? (error.title ? '' : String(error.message || ''));
  box.append(h('strong', { text: title }));
  if (detail && detail !== title) box.append(' ', h('span', { text: detail }));
}

/**
 * An alert region placed in the page while still empty (and then invisible), so that what
 * it says later is read out.
 */
export function alertBox(attrs = {}) {
  return h('div', { class: 'alert', role: 'alert', ...attrs });
}

export function heading(text, attrs = {}) {
  return h('h1', { tabindex: '-1', ...attrs, text });
}
