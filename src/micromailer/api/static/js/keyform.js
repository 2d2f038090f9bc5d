// Asking for the API key: a form in the page (never prompt()) shown when the API answers 401,
// and a line in the header while the tab keeps a key, with a button to forget it.

import { currentKey, forgetKey, keepKey, onKeyRefused } from './apikey.js';
import { api, ApiError, showAlert } from './dom.js';

/** What ``keys list`` shows of a key: enough to tell keys apart, not to use one. */
const PREFIX_LENGTH = 12;
/** Any keyed route answers whether a key is good; this one reads nothing but memory. */
const CHECK_PATH = '/providers/history?seconds=1';
/** A key as ``keys create`` prints it: one word of visible ASCII (a header value). */
const KEY_SHAPE = /^[\x21-\x7e]+$/;

export class KeyForm {
  /** ``onKey()`` is called once a key was accepted and kept. */
  constructor({ onKey }) {
    this.onKey = onKey;
    this.card = document.getElementById('key-card');
    this.form = document.getElementById('key-form');
    this.input = document.getElementById('api-key');
    this.button = document.getElementById('key-button');
    this.error = document.getElementById('key-error');
    this.status = document.getElementById('key-status');
    this.form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    document.getElementById('forget-key').addEventListener('click', () => this.forget());
    onKeyRefused((sentence, sentKey) => this.ask(sentKey ? sentence : ''));
    this.showKept();
  }

  /** True while the page has no key the API accepts: nothing keyed is worth polling. */
  get waiting() {
    return !this.card.hidden;
  }

  /** Show the form, with ``sentence`` (why the last key was refused) if any. */
  ask(sentence) {
    const first = this.card.hidden;
    this.card.hidden = false;
    this.showKept();
    if (sentence) showAlert(this.error, sentence);
    if (first && (document.activeElement === document.body || sentence)) this.input.focus();
  }

  async submit() {
    const key = this.input.value.trim();
    if (!key) {
      this.refuse('Enter the API key, as “micromailer keys create” printed it.');
      return;
    }
    if (!KEY_SHAPE.test(key)) {
      this.refuse('An API key is one word of letters, digits and signs, with no space: paste it '
        + 'as “micromailer keys create” printed it.');
      return;
    }
    this.button.disabled = true;
    try {
      await api(CHECK_PATH, { key });
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        this.refuse(error.message);
        return;
      }
      // Anything else (a 429, the service down) says nothing against the key: keep it.
    } finally {
      this.button.disabled = false;
    }
    keepKey(key);
    this.input.value = '';
    showAlert(this.error, '');
    this.input.removeAttribute('aria-invalid');
    this.card.hidden = true;
    this.showKept();
    this.onKey();
  }

  refuse(sentence) {
    this.input.setAttribute('aria-invalid', 'true');
    showAlert(this.error, sentence);
    this.input.focus();
  }

  /** Forget the key and start again: a reload also clears everything read with it. */
  forget() {
    forgetKey();
    window.location.reload();
  }

  showKept() {
    const key = currentKey();
    this.status.hidden = !key;
    document.getElementById('key-prefix').textContent = key ? `${key.slice(0, PREFIX_LENGTH)}…` : '';
  }
}
