// Small DOM and HTTP helpers. Data only ever becomes text nodes or attribute values set
// through the DOM: nothing here parses a string as HTML.

import { currentKey, keyRefused } from './apikey.js';

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An HTML element; string children become text nodes. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  setProps(element, props);
  append(element, children);
  return element;
}

/** An SVG element with attributes; string children become text nodes. */
export function svg(tag, attrs = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  setProps(element, attrs);
  append(element, children);
  return element;
}

function setProps(element, props) {
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') element.setAttribute('class', value);
    else if (key === 'text') element.textContent = String(value);
    else if (key.startsWith('on')) element.addEventListener(key.slice(2), value);
    else element.setAttribute(key, value === true ? '' : String(value));
  }
}

function append(element, children) {
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replace an element's children. */
export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

/** Show ``message`` in an alert element, or hide it when ``message`` is empty. */
export function showAlert(element, message) {
  element.textContent = message || '';
  element.hidden = !message;
}

/** A failed call to the API, with its one-sentence message and per-field details. */
export class ApiError extends Error {
  constructor(message, status, details = []) {
    super(message);
    this.status = status;
    this.details = details;
  }
}

/** Call the API; resolve to the JSON body, or throw an ApiError carrying its sentence.
 * ``body`` is sent as JSON, or as ``multipart/form-data`` when it is a ``FormData``.
 *
 * Every call carries the tab's API key, if it keeps one, as ``Authorization: Bearer``; a 401
 * tells apikey.js, which asks for a key. ``key`` tries another key instead, telling no one. */
export async function api(path, { method = 'GET', body, key } = {}) {
  const init = { method, cache: 'no-store', headers: { accept: 'application/json' } };
  const sentKey = key === undefined ? currentKey() : key;
  if (sentKey) init.headers.authorization = `Bearer ${sentKey}`;
  if (body instanceof FormData) {
    init.body = body;  // multipart/form-data: the browser writes the type and its boundary
  } else if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    throw new ApiError(`Could not reach micromailer (${error.message}); is it still running?`, 0);
  }
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const sentence = data && typeof data.error === 'string'
      ? data.error : `micromailer answered ${response.status} ${response.statusText}.`;
    if (response.status === 401 && key === undefined) keyRefused(sentence, sentKey);
    throw new ApiError(sentence, response.status, Array.isArray(data?.details) ? data.details : []);
  }
  return data;
}

/** "14:03:07" in local time. */
export function clock(value) {
  const date = typeof value === 'number' ? new Date(value * 1000) : new Date(value);
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit',
    hour12: false });
}

/** "820 B", "12.5 KB", "3.2 MB" (binary multiples, as the API's size limit counts). */
export function fileSize(bytes) {
  const size = Number(bytes) || 0;
  if (size < 1024) return `${size} B`;
  if (size < 1024 * 1024) return `${(size / 1024).toFixed(1)} KB`;
  return `${(size / (1024 * 1024)).toFixed(1)} MB`;
}

const DISPLAY_NAMES = { sendgrid: 'SendGrid', mandrill: 'Mandrill' };

/** A provider's name as people write it. */
export function providerName(name) {
  return DISPLAY_NAMES[name] || (name ? name[0].toUpperCase() + name.slice(1) : '—');
}

/** One colour per provider, in configured order. */
export const PALETTE = ['#2563eb', '#d97706', '#059669', '#db2777', '#7c3aed'];

/** A status pill: the status word itself, coloured by a class. */
export function pill(status) {
  return h('span', { class: `pill pill-${status}` }, status);
}
