// The peer's HTML, small and self-contained (no script, no font or style from elsewhere, so a
// headless browser in the tests never reaches past 127.0.0.1). Every form is the first and only
// one on its page, with double-quoted attributes: the Rust harness's `sign_in` reads it that way.
// Element ids: #username, #password, #sign-in, #next, #sign-out, #error.

export function escape(text) {
  return String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function layout(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>${escape(title)}</title></head>
<body>
<h1>${escape(title)}</h1>
${body}
</body>
</html>
`;
}

function errorLine(error) {
  return error ? `<p id="error" role="alert">${escape(error)}</p>\n` : '';
}

/** Username and password for one tenant, `username` pre-filled (login_hint). */
export function loginPage({ action, tenantName, username, error }) {
  return layout('Sign in', `<p id="tenant">${escape(tenantName)}</p>
${errorLine(error)}<form method="post" action="${escape(action)}">
<label for="username">Email, phone, or Skype</label>
<input id="username" name="username" type="email" autocomplete="username" value="${escape(username)}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" value="">
<button id="sign-in" type="submit">Sign in</button>
</form>`);
}

/** The tenant-independent first step: the account name only, to find its tenant. */
export function accountPage({ action, fields, username, error }) {
  const hidden = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escape(name)}" value="${escape(value)}">`)
    .join('\n');
  return layout('Sign in', `${errorLine(error)}<form method="post" action="${escape(action)}">
${hidden}
<label for="username">Email, phone, or Skype</label>
<input id="username" name="username" type="email" autocomplete="username" value="${escape(username)}">
<button id="next" type="submit">Next</button>
</form>`);
}

/** oidc-provider's end-session confirmation; `form` is its own hidden form (id op.logoutForm). */
export function logoutPage(form) {
  return layout('Sign out', `${form}
<button id="sign-out" type="submit" form="op.logoutForm" value="yes" name="logout">Sign out</button>`);
}

export function signedOutPage() {
  return layout('You signed out of your account', '<p>It\'s a good idea to close all browser windows.</p>');
}

export function errorPage(out) {
  const lines = Object.entries(out)
    .map(([key, value]) => `<p><strong>${escape(key)}</strong>: <span id="${escape(key)}">${escape(value)}</span></p>`)
    .join('\n');
  return layout('Sorry, but we\'re having trouble signing you in', lines);
}
