// A second, independent implementation of docs/canonical-encoding.md (ECMAScript, no packages):
// recomputes every test vector of that page and fails if a byte differs.
//   node crates/formats/tools/crosscheck-vectors.js docs/canonical-encoding.md
const fs = require('fs');
const crypto = require('crypto');

// RFC 8785: JSON.stringify already writes strings and numbers as JCS wants; sort() compares
// UTF-16 code units, as JCS orders members.
function canon(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return '[' + v.map(canon).join(',') + ']';
  return '{' + Object.keys(v).sort().map(k => JSON.stringify(k) + ':' + canon(v[k])).join(',') + '}';
}

const doc = fs.readFileSync(process.argv[2], 'utf8');
const block = tag => [...doc.matchAll(new RegExp('```\\w+ ' + tag + '\\n([^\\n]*)\\n```', 'g'))].map(m => m[1]);
const [inputs, canonicals, hashes] = ['vector-input', 'vector-canonical', 'vector-sha256'].map(block);
let bad = 0;
inputs.forEach((raw, i) => {
  const row = JSON.parse(raw);
  // The row's int64 members are read as text: JSON.parse would round them through a double.
  const int = name => raw.match(new RegExp('^\\{[^{]*"' + name + '":(-?\\d+)'))[1];
  const form = {
    format: 'authtrail.activity.v1', tenant: row.tenant, uniqueQualifier: int('uniqueQualifier'),
    timeUs: int('timeUs'), receivedUs: int('receivedUs'), application: row.application, body: row.body,
  };
  const c = canon(form);
  const h = crypto.createHash('sha256').update(Buffer.from(c, 'utf8')).digest('hex');
  const ok = c === canonicals[i] && h === hashes[i];
  bad += ok ? 0 : 1;
  console.log(`vector ${i + 1}: ${ok ? 'ok' : 'DIFFERS\n  ' + c + '\n  ' + h}`);
});
if (inputs.length === 0) { console.log('no vectors found'); bad = 1; }
process.exit(bad ? 1 : 0);
