// What the Node peers share: arguments, one printed line per check, and reading Vestibule's
// server-rendered forms over plain HTTP (no browser).
import { parseArgs } from 'node:util';

/** `--name value` options; every one in `names` is required, those in `optional` are not. */
export function options(names, optional = []) {
  const { values } = parseArgs({
    options: Object.fromEntries([...names, ...optional].map((n) => [n, { type: 'string' }])),
  });
  const missing = names.filter((n) => values[n] === undefined);
  if (missing.length) {
    console.error(`missing options: ${missing.map((n) => `--${n}`).join(' ')}`);
    process.exit(2);
  }
  return values;
}

/** Runs named checks in order, prints `ok`/`FAIL` per check and a summary, sets the exit code. */
export class Checks {
  constructor(peer) {
    this.peer = peer;
    this.passed = 0;
    this.failed = 0;
  }

  async run(name, body) {
    try {
      const detail = await body();
      this.passed += 1;
      console.log(`ok   ${name}${detail ? ` — ${detail}` : ''}`);
    } catch (error) {
      this.failed += 1;
      const cause = error?.cause ? ` (cause: ${JSON.stringify(error.cause)})` : '';
      console.log(`FAIL ${name}: ${error?.code ? `${error.code}: ` : ''}${error?.message ?? error}${cause}`);
    }
  }

  finish() {
    console.log(`${this.peer}: ${this.passed} passed, ${this.failed} failed`);
    process.exitCode = this.failed === 0 ? 0 : 1;
  }
}

/** Throws unless `condition`, with `message` and the values that disagreed. */
export function expect(condition, message) {
  if (!condition) throw new Error(message);
}

/** A value an earlier check produced, or a failure naming that check. */
export function need(value, what) {
  if (value === undefined || value === null) throw new Error(`not run: needs ${what}`);
  return value;
}

const entities = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

function unescapeHtml(text) {
  return text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (whole, ref) => {
    if (ref[0] !== '#') return entities[ref.toLowerCase()] ?? whole;
    const code = ref[1] === 'x' || ref[1] === 'X' ? parseInt(ref.slice(2), 16) : parseInt(ref.slice(1), 10);
    return String.fromCodePoint(code);
  });
}

function attributes(tag) {
  const found = {};
  for (const m of tag.matchAll(/([a-zA-Z_:-]+)\s*=\s*"([^"]*)"/g)) found[m[1].toLowerCase()] = unescapeHtml(m[2]);
  return found;
}

/**
 * The first form of a page: its absolute action URL and its named inputs with their values, as a
 * browser would submit them. `ids` lists element ids the page also has (`error`, `username`, ...).
 */
export function readForm(html, pageUrl) {
  const form = html.match(/<form\b[^>]*>/i);
  expect(form, `no <form> on the page:\n${html}`);
  const action = new URL(attributes(form[0]).action ?? '', pageUrl);
  const fields = {};
  for (const input of html.matchAll(/<input\b[^>]*>/gi)) {
    const a = attributes(input[0]);
    if (a.name) fields[a.name] = a.value ?? '';
  }
  const ids = [...html.matchAll(/\bid="([^"]*)"/g)].map((m) => m[1]);
  const error = html.match(/<[^>]*\bid="error"[^>]*>([^<]*)</);
  const h1 = html.match(/<h1[^>]*>([^<]*)</);
  return {
    action,
    fields,
    ids,
    error: error ? unescapeHtml(error[1]).trim() : null,
    heading: h1 ? unescapeHtml(h1[1]).trim() : null,
  };
}

/** A cookie jar just big enough for one origin: name=value pairs from Set-Cookie. */
export class Cookies {
  constructor() {
    this.jar = new Map();
  }

  take(response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      if (value === '' || /max-age=0\b/i.test(line)) this.jar.delete(name);
      else this.jar.set(name, value);
    }
  }

  header() {
    return [...this.jar].map(([n, v]) => `${n}=${v}`).join('; ');
  }

  has(name) {
    return this.jar.has(name);
  }
}

/** A request as a browser makes it: cookies sent and kept, redirects not followed. */
export async function browse(cookies, url, init = {}) {
  const headers = new Headers(init.headers ?? {});
  if (cookies.header()) headers.set('cookie', cookies.header());
  const response = await fetch(url, { ...init, headers, redirect: 'manual' });
  cookies.take(response);
  return response;
}

/**
 * Signs in through Vestibule's login form over plain HTTP: fetches the authorization URL,
 * submits the form with the credentials, and returns the redirect back to the client.
 */
export async function signInOverHttp(cookies, authorizationUrl, username, password) {
  const page = await browse(cookies, authorizationUrl);
  const html = await page.text();
  expect(page.status === 200, `GET ${authorizationUrl} answered ${page.status}:\n${html}`);
  const form = readForm(html, authorizationUrl);
  for (const id of ['username', 'password', 'sign-in']) {
    expect(form.ids.includes(id), `the login page has no #${id}:\n${html}`);
  }
  expect('request' in form.fields && 'csrf' in form.fields, `the login form lacks request/csrf:\n${html}`);
  const body = new URLSearchParams({ ...form.fields, username, password });
  const answer = await browse(cookies, form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  const location = answer.headers.get('location');
  expect(
    answer.status === 302 || answer.status === 303,
    `POST ${form.action} answered ${answer.status} (location ${location}):\n${await answer.text()}`,
  );
  return { callback: new URL(location, form.action), form };
}
