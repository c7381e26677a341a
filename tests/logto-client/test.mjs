// Logto's own Management API SDK against a real authtrail server: createManagementApi gets an
// access token with the client-credentials grant at {baseUrl}/oidc/token, then lists logs with
// it exactly as it would from Logto. Run by run.sh, which starts the server and passes
// AUTHTRAIL_URL, AUTHTRAIL_CLIENT_ID and AUTHTRAIL_CLIENT_SECRET.
import assert from 'node:assert/strict';
import { createManagementApi } from '@logto/api/management';

const baseUrl = process.env.AUTHTRAIL_URL;
const clientId = process.env.AUTHTRAIL_CLIENT_ID;
const clientSecret = process.env.AUTHTRAIL_CLIENT_SECRET;

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

assert.deepEqual(warnings, [], 'the SDK had nothing to warn about');

// A wrong secret is refused at the token endpoint, as Logto would refuse it.
const { apiClient: bad } = createManagementApi('default', {
  clientId,
  clientSecret: 'atr_wrong',
  baseUrl,
  apiIndicator: 'https://default.logto.app/api',
});
await assert.rejects(bad.GET('/api/logs'), /Failed to fetch access token: 401/);

console.log('@logto/api: token, list, paging, get by id, filter by key and a refused secret: ok');
