// The send form: POST /email, per-field errors from the API, and the Markdown preview.

import { api, ApiError, showAlert } from './dom.js';

const FIELDS = ['to', 'to_name', 'subject', 'content'];
const PREVIEW_STYLESHEET = '/static/preview.css';

/** Wire the form; ``onAccepted(emailId)`` is called after each 202. */
export function initSendForm(form, { onAccepted }) {
  const formError = document.getElementById('form-error');
  const button = document.getElementById('send-button');

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form, formError);
    const body = {};
    for (const name of FIELDS) body[name] = form.elements[name].value;
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

  for (const name of FIELDS) {
    form.elements[name].addEventListener('input', () => clearField(form, name));
  }
  form.elements.content.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  initTabs(form);
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
    const name = String(detail.field || '');
    if (!FIELDS.includes(name)) continue;
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
  for (const name of FIELDS) clearField(form, name);
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
