// The Ory Polis peer of `cargo bench --bench scim -- --polis benches/polis`: the directory-sync
// SCIM handler of `@boxyhq/saml-jackson` (Ory Polis's library) on its in-memory store, behind
// node's own http server, one process. It creates one directory at start and prints
//
//   POLIS_SCIM <base URL> <bearer token>
//
// on stdout once it listens, for the bench to read; then it serves `{base}/Users`,
// `{base}/Users/{id}`, `{base}/Groups` and `{base}/Groups/{id}` the way the Polis app's
// `pages/api/scim/v2.0/[...directory].ts` route does: path and bearer token become a
// `DirectorySyncRequest` handed to `directorySyncController.requests.handle`.
//
//   node server.mjs 8082

import http from 'node:http';

import jacksonModule from '@boxyhq/saml-jackson';

// The package is CommonJS with an `exports.default`; node's ESM import hands over module.exports.
const jackson = jacksonModule.default ?? jacksonModule;

const port = Number(process.argv[2] || 8082);
const externalUrl = `http://127.0.0.1:${port}`;
const scimPath = '/api/scim/v2.0';

const { directorySyncController } = await jackson({
  externalUrl,
  samlPath: '/api/oauth/saml',
  scimPath,
  db: { engine: 'mem' },
  noAnalytics: true,
  // Embedded mode: events go to our callback instead of webhook delivery, which with no webhook
  // configured would log an error line per event. Vestibule writes an audit row per change, so a
  // callback that does nothing only spares Polis work.
  dsync: { callback: async () => {} },
});

const { data: directory, error } = await directorySyncController.directories.create({
  name: 'bench',
  tenant: 'acme.test',
  product: 'vestibule-bench',
  type: 'generic-scim-v2',
});
if (error) {
  console.error(`cannot create the directory: ${error.message}`);
  process.exit(1);
}

function send(res, status, data) {
  const body = data === undefined ? '' : JSON.stringify(data);
  res.writeHead(status, {
    'content-type': 'application/scim+json',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const intOrUndefined = (v) => (v === null ? undefined : parseInt(v, 10));

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (chunk) => chunks.push(chunk));
  req.on('end', async () => {
    try {
      const url = new URL(req.url, externalUrl);
      // {scimPath}/{directoryId}/{Users|Groups}[/{id}], as the Polis app's catch-all route reads it.
      const rest = url.pathname.startsWith(`${scimPath}/`)
        ? url.pathname.slice(scimPath.length + 1).split('/')
        : [];
      const [directoryId, resource, resourceId] = rest;
      if (!directoryId || (resource !== 'Users' && resource !== 'Groups')) {
        send(res, 404, { detail: 'not found' });
        return;
      }
      const text = Buffer.concat(chunks).toString('utf8');
      const auth = req.headers.authorization || '';
      const { status, data } = await directorySyncController.requests.handle({
        method: req.method,
        body: text ? JSON.parse(text) : undefined,
        directoryId,
        resourceType: resource === 'Users' ? 'users' : 'groups',
        resourceId,
        apiSecret: auth.startsWith('Bearer ') ? auth.slice(7) : null,
        query: {
          count: intOrUndefined(url.searchParams.get('count')),
          startIndex: intOrUndefined(url.searchParams.get('startIndex')),
          filter: url.searchParams.get('filter') ?? undefined,
        },
      });
      send(res, status, data);
    } catch (e) {
      send(res, 500, { detail: String(e) });
    }
  });
});

server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => {
  console.log(`POLIS_SCIM ${directory.scim.endpoint} ${directory.scim.secret}`);
});
