// Logto's own Management API SDK against a real authtrail server: createManagementApi gets an
// access token with the client-credentials grant at {baseUrl}/oidc/token, then lists logs with
// it exactly as it would from Logto. Run by run.sh, which starts the server and passes
// AUTHTRAIL_URL, AUTHTRAIL_CLIENT_ID and AUTHTRAIL_CLIENT_SECRET.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createManagementApi } from '@logto/api/management';
import { UAParser } from 'ua-parser-js';

const baseUrl = process.env.AUTHTRAIL_URL;
const clientId = process.env.AUTHTRAIL_CLIENT_ID;
const clientSecret = process.env.AUTHTRAIL_CLIENT_SECRET;
const ingestToken = process.env.AUTHTRAIL_INGEST_TOKEN;

// Sign-ins from common user agents, as Google events (not Logto's): their logs must come back
// with userAgentParsed all the same.
const agents = readFileSync(new URL('./user-agents.txt', import.meta.url), 'utf8').trim().split('\n');
const posted = await fetch(`${baseUrl}/v1/activities`, {
  method: 'POST',
  headers: { authorization: `Bearer ${ingestToken}`, 'content-type': 'application/json' },
  body: JSON.stringify(
    agents.map((ua, i) => ({
      id: { applicationName: 'login' },
      actor: { email: `ua${i}@example.com` },
      events: [{ name: 'login_success' }],
      userAgent: ua,
    }))
  ),
});
assert.equal(posted.status, 200, await posted.text());

const warnings = [];
console.warn = (...args) => warnings.push(args.join(' '));

const { apiClient, clientCredentials } = createManagementApi('default', {
  clientId,
  clientSecret,
  baseUrl,
  apiIndicator: 'https://default.logto.app/api',
});

// The token: short-lived, and the scope Logto's clients expect.
const token = await clientCredentials.getAccessToken();
assert.ok(token.value.startsWith('atr_'), 'an authtrail token');
assert.equal(token.scope, 'all');
assert.ok(token.expiresAt > Date.now() / 1000 + 3000, 'valid for about an hour');

// Logs, as Logto serves them.
const all = await apiClient.GET('/api/logs', { params: { query: { page_size: 100 } } });
assert.equal(all.response.status, 200);
const ids = all.data.map((l) => l.id);
// The three stored above, beside authtrail's own admin events (the credentials' creation).
const ours = all.data.filter((l) => ['Interaction.SignIn.Submit', 'RevokeToken'].includes(l.key));
assert.equal(ours.length, 3, JSON.stringify(all.data.map((l) => l.key)));
assert.equal(ours[0].payload.result, 'Error', 'newest first');
assert.equal(all.response.headers.get('total-number'), String(ids.length));
for (const log of all.data) {
  assert.equal(typeof log.id, 'string');
  assert.equal(typeof log.key, 'string');
  assert.equal(typeof log.createdAt, 'number');
  assert.equal(typeof log.payload, 'object');
}
// Paged two at a time, following rel="next" as Logto's clients do: every log once, in order.
const walked = [];
for (let page = 1; ; page += 1) {
  const r = await apiClient.GET('/api/logs', { params: { query: { page, page_size: 2 } } });
  assert.equal(r.response.status, 200);
  walked.push(...r.data.map((l) => l.id));
  if (!/rel="next"/.test(r.response.headers.get('link'))) break;
  assert.ok(page < 100, 'the walk ends');
}
assert.deepEqual(walked, ids);

// One log by id, and a filter by key.
const one = await apiClient.GET('/api/logs/{id}', { params: { path: { id: all.data[0].id } } });
assert.equal(one.response.status, 200);
assert.equal(one.data.key, all.data[0].key);
const byKey = await apiClient.GET('/api/logs', { params: { query: { logKey: 'RevokeToken' } } });
assert.ok(byKey.data.length >= 1);
assert.ok(byKey.data.every((l) => l.key === 'RevokeToken'));

// A key the catalogue lacks (run.sh posts one a newer Logto would send): given back, and found,
// under the key it arrived with.
const future = 'Interaction.SignIn.Verification.FutureFactor.Submit';
const byUnknown = await apiClient.GET('/api/logs', { params: { query: { logKey: future } } });
assert.equal(byUnknown.response.status, 200);
assert.deepEqual(byUnknown.data.map((l) => l.key), [future]);
assert.equal(byUnknown.data[0].payload.key, future);
assert.ok(ids.includes(byUnknown.data[0].id), 'listed with the rest');

// userAgentParsed, against ua-parser-js (the parser Logto itself runs) on the same agents. The
// names that differ between uap-core and ua-parser-js are the ones docs/logto.md lists; any
// other difference fails.
const asLogto = {
  browser: { 'Chrome Mobile': 'Chrome', 'Chrome Mobile iOS': 'Chrome', 'Firefox Mobile': 'Firefox' },
  os: { 'Mac OS X': 'Mac OS' },
  model: { Mac: 'Macintosh' },
};
const logins = await apiClient.GET('/api/logs', {
  params: { query: { logKey: 'login_success', page_size: 100 } },
});
assert.equal(logins.data.length, agents.length);
for (const log of logins.data) {
  const ours = log.payload.userAgentParsed;
  assert.equal(ours.ua, log.payload.userAgent);
  const theirs = new UAParser(ours.ua).getResult();
  const known = theirs.browser.name !== undefined;
  // uap-core also names HTTP libraries (okhttp, curl), which ua-parser-js leaves blank.
  if (known) {
    const name = asLogto.browser[ours.browser.name] ?? ours.browser.name;
    assert.equal(name, theirs.browser.name, ours.ua);
    assert.equal(ours.browser.major, theirs.browser.major, ours.ua);
  }
  assert.equal(asLogto.os[ours.os.name] ?? ours.os.name, theirs.os.name, ours.ua);
  assert.equal(ours.os.version, theirs.os.version, ours.ua);
  assert.equal(ours.engine.name, theirs.engine.name, ours.ua);
  assert.equal(ours.cpu.architecture, theirs.cpu.architecture, ours.ua);
  // uap-core's "Generic Smartphone" is a class, not a vendor; ua-parser-js leaves both blank.
  if (ours.device.vendor !== 'Generic') {
    assert.equal(ours.device.vendor, theirs.device.vendor, ours.ua);
    assert.equal(asLogto.model[ours.device.model] ?? ours.device.model, theirs.device.model, ours.ua);
  }
}

assert.deepEqual(warnings, [], 'the SDK had nothing to warn about');

// A wrong secret is refused at the token endpoint, as Logto would refuse it.
const { apiClient: bad } = createManagementApi('default', {
  clientId,
  clientSecret: 'atr_wrong',
  baseUrl,
  apiIndicator: 'https://default.logto.app/api',
});
await assert.rejects(bad.GET('/api/logs'), /Failed to fetch access token: 401/);

console.log(`@logto/api: token, list, paging, get by id, filter by key, an unknown key by its own name, userAgentParsed of ${agents.length} agents against ua-parser-js, and a refused secret: ok`);
