// A real browser (Debian's Chromium, driven by playwright-core) through Vestibule's login pages,
// with a tiny local HTTP server playing the application's callback:
//   (a) a wrong password shows #error and goes nowhere;
//   (b) the right password lands on the callback with a code (exchanged with openid-client);
//   (c) a client with organization_prompt asks for the organization slug first: an unknown slug
//       shows #error (404), the right one leads to a login form named after the organization;
//   (d) a screenshot of the login page, saved to a temporary directory.
//
//   node browser_check.mjs --issuer URL --client-id ID --client-secret SECRET --redirect-uri URI \
//     --organization-client-id ID --organization-redirect-uri URI --organization ALIAS \
//     --organization-name NAME --username NAME --password PASSWORD
// Both redirect URIs must share one http://127.0.0.1:PORT origin: the callback server listens there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHROMIUM, callbackServer, exchange, launchChromium, startLogin, submitAndLand } from './browser.mjs';
import { Checks, expect, need, options } from './checks.mjs';

const args = options([
  'issuer',
  'client-id',
  'client-secret',
  'redirect-uri',
  'organization-client-id',
  'organization-redirect-uri',
  'organization',
  'organization-name',
  'username',
  'password',
]);
const callbackOrigin = new URL(args['redirect-uri']).origin;
expect(
  new URL(args['organization-redirect-uri']).origin === callbackOrigin,
  'both redirect URIs must share one origin',
);

// The application's side: every request it gets is recorded and answered with a plain page.
const app = await callbackServer(callbackOrigin);
const { arrivals } = app;

const checks = new Checks('browser');
const workDir = mkdtempSync(join(tmpdir(), 'vestibule-browser-'));
const userDataDir = join(workDir, 'profile');
let context;
let page;
let demo;
let org;

/** An authorization request as an application would start it, through openid-client. */
function start(clientId, clientSecret, redirectUri) {
  return startLogin(args.issuer, clientId, clientSecret, redirectUri);
}

/** Clicks `selector` and waits for the document that the resulting form POST loads. */
async function submit(selector) {
  const [response] = await Promise.all([page.waitForNavigation(), page.click(selector)]);
  return response;
}

try {
  await checks.run('Chromium starts (fresh profile)', async () => {
    ({ context, page } = await launchChromium(userDataDir));
    return `${CHROMIUM}, profile ${userDataDir}`;
  });

  await checks.run('(d) screenshot of the login page', async () => {
    need(page, 'Chromium');
    demo = await start(args['client-id'], args['client-secret'], args['redirect-uri']);
    const response = await page.goto(demo.url.href);
    expect(response.status() === 200, `GET ${demo.url} answered ${response.status()}`);
    for (const id of ['username', 'password', 'sign-in']) {
      expect(await page.locator(`#${id}`).isVisible(), `no visible #${id} on the login page`);
    }
    const path = join(workDir, 'login.png');
    await page.screenshot({ path, fullPage: true });
    console.log(`screenshot: ${path}`);
    return path;
  });

  await checks.run('(a) a wrong password shows #error and no redirect', async () => {
    need(demo, 'the login page');
    await page.fill('#username', args.username);
    await page.fill('#password', `${args.password}-wrong`);
    const response = await submit('#sign-in');
    expect(response.status() === 401, `the refused login answered ${response.status()}`);
    const error = page.locator('#error');
    expect(await error.isVisible(), 'no visible #error');
    const text = (await error.textContent()).trim();
    expect(/invalid username or password/i.test(text), `#error says "${text}"`);
    expect(new URL(page.url()).origin === new URL(args.issuer).origin, `the browser left for ${page.url()}`);
    expect(arrivals.length === 0, `the application was called: ${arrivals.join(', ')}`);
    expect((await page.inputValue('#username')) === args.username, 'the username was not kept');
    return `"${text}"`;
  });

  await checks.run('(b) the right password lands on the callback with a code', async () => {
    need(demo, 'the login page');
    await page.fill('#password', args.password);
    const landed = await submitAndLand(page, '#sign-in', demo, args.issuer);
    expect(arrivals.some((u) => u.href === landed.href), 'the callback server did not see the redirect');
    expect(await page.locator('#callback').isVisible(), 'the callback page did not render');
    const cookies = await context.cookies(`${args.issuer}/protocol/openid-connect/auth`);
    expect(cookies.some((c) => c.name === 'VESTIBULE_SESSION' && c.httpOnly), 'no HttpOnly VESTIBULE_SESSION cookie');
    const claims = (await exchange(demo, landed)).claims();
    return `code exchanged, ID token for ${claims.preferred_username ?? claims.sub}`;
  });

  await checks.run('(c) organization slug page: unknown slug shows #error', async () => {
    need(page, 'Chromium');
    // A new person at the same browser: no single sign-on session from (b).
    await context.clearCookies();
    org = await start(args['organization-client-id'], undefined, args['organization-redirect-uri']);
    const response = await page.goto(org.url.href);
    expect(response.status() === 200, `GET ${org.url} answered ${response.status()}`);
    expect(await page.locator('#organization').isVisible(), `no #organization on ${page.url()}`);
    expect(!(await page.locator('#password').count()), 'the login form came before the organization');
    await page.fill('#organization', 'no-such-organization');
    const refused = await submit('#continue');
    expect(refused.status() === 404, `an unknown slug answered ${refused.status()}`);
    const error = page.locator('#error');
    expect(await error.isVisible(), 'no visible #error for an unknown slug');
    expect(await page.locator('#organization').isVisible(), 'the slug page was not shown again');
    return `404, "${(await error.textContent()).trim()}"`;
  });

  await checks.run('(c) organization slug page: the right slug leads to its login form', async () => {
    need(org, 'the organization page');
    await page.fill('#organization', args.organization);
    const response = await submit('#continue');
    expect(response.status() === 200, `slug ${args.organization} answered ${response.status()}`);
    const heading = (await page.locator('h1').textContent()).trim();
    expect(heading.includes(args['organization-name']), `the login form is headed "${heading}"`);
    expect(await page.locator('#password').isVisible(), 'no #password after the organization');
    return `"${heading}"`;
  });

  await checks.run('(c) organization login succeeds', async () => {
    need(org, 'the organization page');
    await page.fill('#username', args.username);
    await page.fill('#password', args.password);
    const landed = await submitAndLand(page, '#sign-in', org, args.issuer);
    const claims = (await exchange(org, landed)).claims();
    return `code exchanged (public client, PKCE), ID token for ${claims.preferred_username ?? claims.sub}`;
  });
} finally {
  await context?.close().catch(() => {});
  app.close();
  // The screenshot stays for a person to look at; the profile goes.
  rmSync(userDataDir, { recursive: true, force: true });
}

checks.finish();
