// The send form: POST /email, per-field errors from the API, and the Markdown preview.
// Without files the form goes as JSON; with files, as multipart/form-data.

import { api, ApiError, fileSize, h, replace, showAlert } from './dom.js';

/** Sent every time, as typed. */
const FIELDS = ['to', 'to_name', 'subject', 'content'];
/** Sent when filled: several addresses separated by commas. */
const ADDRESS_LISTS = ['cc', 'bcc'];
/** Every field the API's per-field errors may name. */
const ERROR_FIELDS = [...FIELDS, ...ADDRESS_LISTS, 'attachments'];
const PREVIEW_STYLESHEET = '/static/preview.css';

/** Wire the form; ``onAccepted(emailId)`` is called after each 202. */
export function initSendForm(form, { onAccepted }) {
  const formError = document.getElementById('form-error');
  const button = document.getElementById('send-button');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form, formError);
    const body = requestBody(form);
    button.disabled = true;
    button.textContent = 'Sending…';
    try {
      const accepted = await api('/email', { method: 'POST', body });
      onAccepted(accepted.emailId);
    } catch (error) {
      showErrors(form, formError, error);
    } finally {
      button.disabled = false;
      button.textContent = 'Send email';
    }
  });

  for (const name of ERROR_FIELDS) {
    form.elements[name].addEventListener('input', () => clearField(form, name));
  }
  form.elements.attachments.addEventListener('change', () => listFiles(form));
  form.elements.content.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  initTabs(form);
}

/** The form as the API takes it: JSON (cc and bcc as lists), or, when files are chosen, a
 * multipart form with the same fields as text (cc and bcc comma-separated) and one
 * ``attachments`` part per file. */
function requestBody(form) {
  const files = [...form.elements.attachments.files];
  const lists = {};
  for (const name of ADDRESS_LISTS) {
    const value = form.elements[name].value.trim();
    if (value) lists[name] = value;
  }
  if (files.length === 0) {
    const body = {};
    for (const name of FIELDS) body[name] = form.elements[name].value;
    for (const [name, value] of Object.entries(lists)) body[name] = splitAddresses(value);
    return body;
  }
  const data = new FormData();
  for (const name of FIELDS) data.append(name, form.elements[name].value);
  for (const [name, value] of Object.entries(lists)) data.append(name, value);
  for (const file of files) data.append('attachments', file, file.name);
  return data;
}

/** ``'"Doe, Jane" <jane@example.com>, bob@example.com'`` → one string per address: a comma
 * inside quotes or angle brackets does not separate. */
export function splitAddresses(text) {
  const parts = [];
  let current = '';
  let quoted = false;
  let angled = false;
  for (const char of text) {
    if (char === '"') quoted = !quoted;
    else if (char === '<' && !quoted) angled = true;
    else if (char === '>' && !quoted) angled = false;
    if (char === ',' && !quoted && !angled) {
      parts.push(current);
      current = '';
    } else {
      current += char;
    }
  }
  parts.push(current);
  return parts.map((part) => part.trim()).filter(Boolean);
}

/** The chosen files under the input, each with its size. */
function listFiles(form) {
  const items = [...form.elements.attachments.files].map((file) => h('li', {},
    h('span', { class: 'file-name' }, file.name),
    h('span', { class: 'file-size' }, fileSize(file.size))));
  replace(document.getElementById('attachments-list'), items);
}

function showErrors(form, formError, error) {
  if (!(error instanceof ApiError)) {
    showAlert(formError, `Something went wrong in the page: ${error}`);
    return;
  }
  if (error.status === 401) {  // the key form is shown: send again once a key is entered
    showAlert(formError, 'Not sent: enter an API key above, then send again.');
    document.getElementById('api-key').focus();
    return;
  }
  showAlert(formError, error.details.length > 1
    ? `${error.message} Fix the marked fields and send again.` : error.message);
  let first = null;
  for (const detail of error.details) {
    // "cc", "cc.1" or "attachments[0].filename": the form field is the first name.
    const name = String(detail.field || '').split(/[.[]/)[0];
    if (!ERROR_FIELDS.includes(name)) continue;
    const input = form.elements[name];
    const message = document.getElementById(`${name}-error`);
    input.setAttribute('aria-invalid', 'true');
    if (message.hidden) showAlert(message, String(detail.message));
    first = first || input;
  }
  if (first && first.name === 'content') selectTab(form, 'write');
  (first || formError).focus?.();
}

function clearField(form, name) {
  form.elements[name].removeAttribute('aria-invalid');
  showAlert(document.getElementById(`${name}-error`), '');
}

function clearErrors(form, formError) {
  showAlert(formError, '');
  for (const name of ERROR_FIELDS) clearField(form, name);
}

// -- Write / Preview tabs (the WAI-ARIA tabs pattern: arrows move, Enter or Space or click) --

function initTabs(form) {
  const tabs = [document.getElementById('tab-write'), document.getElementById('tab-preview')];
  for (const tab of tabs) {
    tab.addEventListener('click', () => selectTab(form, tab.id.slice(4)));
    tab.addEventListener('keydown', (event) => {
      if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(event.key)) return;
      event.preventDefault();
      const other = tabs.find((candidate) => candidate !== tab);
      const target = event.key === 'Home' ? tabs[0] : event.key === 'End' ? tabs[1] : other;
      selectTab(form, target.id.slice(4));
      target.focus();
    });
  }
}

function selectTab(form, which) {
  for (const name of ['write', 'preview']) {
    const tab = document.getElementById(`tab-${name}`);
    const selected = name === which;
    tab.setAttribute('aria-selected', String(selected));
    tab.tabIndex = selected ? 0 : -1;
    document.getElementById(`pane-${name}`).hidden = !selected;
  }
  if (which === 'preview') renderPreview(form.elements.content.value);
}

async function renderPreview(content) {
  const frame = document.getElementById('preview-frame');
  const note = document.getElementById('preview-note');
  try {
    const preview = await api('/preview', { method: 'POST', body: { content } });
    frame.srcdoc = withStylesheet(preview.html);
    note.classList.remove('error-text');
    note.textContent = 'Rendered by the server exactly as it will be sent; shown in a '
      + 'sandboxed frame that runs no script.';
  } catch (error) {
    frame.srcdoc = '';
    note.classList.add('error-text');
    note.textContent = `No preview: ${error.message}`;
  }
}

/** The rendered document with the preview's stylesheet linked in, through the DOM. */
function withStylesheet(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const link = doc.createElement('link');
  link.rel = 'stylesheet';
  link.href = new URL(PREVIEW_STYLESHEET, window.location.href).href;
  doc.head.append(link);
  return `<!doctype html>\n${doc.documentElement.outerHTML}`;
}
