// Plain node:http answers shared by the peer's own routes (those oidc-provider does not serve).

const LIMIT = 64 * 1024;

/** The whole request body as a string (at most 64 KiB). */
export async function readBody(req) {
  const chunks = [];
  let size = 0;
  for await (const chunk of req) {
    size += chunk.length;
    if (size > LIMIT) throw new Error('request body too large');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** An application/x-www-form-urlencoded body as a plain object. */
export async function readForm(req) {
  return Object.fromEntries(new URLSearchParams(await readBody(req)));
}

/** A JSON body as an object; an empty body is `{}`. */
export async function readJson(req) {
  const text = await readBody(req);
  return text.trim() === '' ? {} : JSON.parse(text);
}

export function sendJson(res, status, body, contentType = 'application/json; charset=utf-8') {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
}

export function sendHtml(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
  });
  res.end(html);
}

export function redirect(res, location) {
  res.writeHead(303, { location, 'content-length': 0, 'cache-control': 'no-store' });
  res.end();
}
