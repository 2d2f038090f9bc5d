// The API key this tab sends once authentication is on. It is kept in sessionStorage: it lives
// as long as the tab, survives a reload, and no other tab or window sees it.

const STORAGE_KEY = 'micromailer.apiKey';
const listeners = new Set();
let unstored = null;  // where the browser refuses storage: kept until the page is left

/** The key this tab keeps, or null. */
export function currentKey() {
  try {
    return sessionStorage.getItem(STORAGE_KEY) || null;
  } catch {
    return unstored;
  }
}

/** Keep ``key`` for this tab. */
export function keepKey(key) {
  try {
    sessionStorage.setItem(STORAGE_KEY, key);
  } catch {
    unstored = key;
  }
}

/** Forget the key this tab keeps. */
export function forgetKey() {
  unstored = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch {
    // nothing was stored
  }
}

/** Call ``listener(sentence, sentKey)`` whenever the API refuses a request with 401. */
export function onKeyRefused(listener) {
  listeners.add(listener);
}

/** The API answered 401 to a request that carried ``sentKey`` (null: none). A kept key that
 * is refused (unknown, revoked) is forgotten, so the page asks again; an answer to a key the
 * tab no longer keeps (the visitor changed it meanwhile) is ignored. */
export function keyRefused(sentence, sentKey) {
  if (sentKey !== currentKey()) return;
  if (sentKey) forgetKey();
  for (const listener of listeners) listener(sentence, sentKey);
}
