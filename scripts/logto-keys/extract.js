#!/usr/bin/env node
// Prints the log keys of an installed @logto/schemas as the JSON of
// catalog/sources/logto-schemas-log-keys.json. Run through run.sh, which installs the pinned
// package from the npm registry into target/ first.
//
//   node extract.js <node_modules directory>
//
// Where the keys come from. @logto/schemas types its log keys as TypeScript unions of template
// literals (lib/types/log/index.d.ts): `AuditLogKey` (every key written to Logto's `logs` table
// except webhook deliveries) and `WebhookLogKey` (`TriggerHook.<event>`). The TypeScript compiler
// expands each alias into its string literals; together they are every key Logto's code may log.
//
// Why the fixture narrows them. The unions over-approximate: they are built as products of enums,
// and Logto's code logs only part of two of those products. The fixture keeps the keys the code
// logs under `keys` (what the catalogue must hold) and the rest under `not_logged`. Two rules,
// read from Logto's source (logto-io/logto, packages/core/src), decide; every other key is kept.
//
// 1. `Interaction.<event>.Verification.<type>.<action>` is typed for every VerificationType and
//    every Action (Create, Update, Submit, Delete, End). The Experience API logs these keys only
//    from its verification routes (routes/experience/verification-routes/: each route names one
//    type and action through koaExperienceVerificationsAuditLog, and verification-code-helpers.ts
//    logs the code routes), under whatever event the interaction has. VERIFICATION_ACTIONS is
//    that table. Verification codes sent or checked as an MFA factor are logged under the
//    identifier's type (EmailVerificationCode / PhoneVerificationCode), so the Mfa*VerificationCode
//    types are never logged. IdpInitiatedSso.Create is logged by routes/authn.ts.
// 2. `DeprecatedInteractionLogKey` holds the keys of the legacy /api/interaction routes
//    (routes/interaction/), which current Logto still serves and logs, plus keys logged by helpers
//    both APIs share (libraries/verification-helpers/). LEGACY_LOGGED lists the keys those call
//    sites log, with the events each allows (several routes refuse ForgotPassword, the MFA
//    verification routes allow SignIn only, the legacy MFA payloads are Totp, WebAuthn and
//    BackupCode).
//
// The tables are facts about one Logto version. A verification type or action the tables do not
// know, or a table entry that is no longer in the union, stops the extraction: read Logto's
// routes for the new version and update the tables (and the catalogue) before the fixture.
'use strict';

const path = require('node:path');
const fs = require('node:fs');

const EVENTS = ['SignIn', 'Register', 'ForgotPassword'];

// VerificationType → the actions its Experience API routes log.
const VERIFICATION_ACTIONS = {
  Password: ['Submit'],
  EmailVerificationCode: ['Create', 'Submit'],
  PhoneVerificationCode: ['Create', 'Submit'],
  MfaEmailVerificationCode: [],
  MfaPhoneVerificationCode: [],
  Social: ['Create', 'Submit'],
  EnterpriseSso: ['Create', 'Submit'],
  Totp: ['Create', 'Submit'],
  WebAuthn: ['Create', 'Submit'],
  SignInPasskey: ['Create', 'Submit'],
  BackupCode: ['Create', 'Submit'],
  NewPasswordIdentity: ['Submit'],
  OneTimeToken: ['Submit'],
  // Not a VerificationType: routes/authn.ts logs it for IdP-initiated SAML sign-in.
  IdpInitiatedSso: ['Create'],
};
const ACTIONS = ['Create', 'Update', 'Submit', 'Delete', 'End'];

// Deprecated keys that some call site logs, in brace notation ({a,b} expands to both).
const LEGACY_LOGGED = [
  // routes/interaction/index.ts: PUT and DELETE /profile, any event.
  'Interaction.{SignIn,Register,ForgotPassword}.Profile.{Create,Delete}',
  // routes/interaction/utils/verification-code-validation.ts: send and check a code, any event.
  'Interaction.{SignIn,Register,ForgotPassword}.Identifier.VerificationCode.{Create,Submit}',
  // verifications/identifier-payload-verification.ts: password identifier, not ForgotPassword.
  'Interaction.{SignIn,Register}.Identifier.Password.Submit',
  // additional.ts: social authorization URL, not ForgotPassword.
  'Interaction.{SignIn,Register}.Identifier.Social.Create',
  // libraries/verification-helpers/social-verification.ts and identifier-payload-verification.ts.
  'Interaction.SignIn.Identifier.Social.Submit',
  // libraries/verification-helpers/single-sign-on.ts, shared with the Experience API.
  'Interaction.SignIn.Identifier.SingleSignOn.{Create,Submit}',
  // additional.ts: TOTP secret and WebAuthn registration options, not ForgotPassword.
  'Interaction.{SignIn,Register}.BindMfa.{Totp,WebAuthn}.Create',
  // additional.ts: WebAuthn authentication options, SignIn only.
  'Interaction.SignIn.Mfa.WebAuthn.Create',
  // mfa.ts: PUT /mfa, SignIn only, payload types of verifyMfaPayloadGuard.
  'Interaction.SignIn.Mfa.{Totp,WebAuthn,BackupCode}.Submit',
];

function expandBraces(pattern) {
  const m = /\{([^}]*)\}/.exec(pattern);
  if (!m) return [pattern];
  return m[1]
    .split(',')
    .flatMap((alt) => expandBraces(pattern.slice(0, m.index) + alt + pattern.slice(m.index + m[0].length)));
}

// The string literals of a type alias declared in `file`.
function literals(ts, checker, sourceFile, alias) {
  const decl = sourceFile.statements.find((s) => ts.isTypeAliasDeclaration(s) && s.name.text === alias);
  if (!decl) throw new Error(`${alias} is not declared in ${sourceFile.fileName}`);
  const type = checker.getTypeAtLocation(decl.name);
  const members = type.isUnion() ? type.types : [type];
  return members.map((t) => {
    // A member that is not a string literal means an import failed to resolve (it would read
    // as `any` or `string`) or the package changed shape: the key list would be wrong.
    if (!t.isStringLiteral()) throw new Error(`${alias}: member ${checker.typeToString(t)} is not a string literal`);
    return t.value;
  });
}

function classifyVerification(key) {
  const m = /^Interaction\.(\w+)\.Verification\.(\w+)\.(\w+)$/.exec(key);
  if (!m) return null;
  const [, event, type, action] = m;
  if (!EVENTS.includes(event)) throw new Error(`${key}: unknown interaction event ${event}`);
  if (!ACTIONS.includes(action)) throw new Error(`${key}: unknown action ${action}; read Logto's routes`);
  if (!(type in VERIFICATION_ACTIONS)) throw new Error(`${key}: unknown verification type ${type}; read Logto's verification routes and add it to VERIFICATION_ACTIONS`);
  return VERIFICATION_ACTIONS[type].includes(action);
}

function main() {
  const nodeModules = path.resolve(process.argv[2] || 'node_modules');
  const ts = require(path.join(nodeModules, 'typescript'));
  const pkgDir = path.join(nodeModules, '@logto', 'schemas');
  const { name, version } = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8'));
  const logDir = path.join(pkgDir, 'lib', 'types', 'log');
  const indexFile = path.join(logDir, 'index.d.ts');
  const interactionFile = path.join(logDir, 'interaction.d.ts');

  const program = ts.createProgram([indexFile, interactionFile], {
    noEmit: true,
    strict: true,
    skipLibCheck: true,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
  });
  const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diagnostics.length > 0) {
    throw new Error(ts.formatDiagnostics(diagnostics, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => '', getNewLine: () => '\n' }));
  }
  const checker = program.getTypeChecker();
  const index = program.getSourceFile(indexFile);
  const interaction = program.getSourceFile(interactionFile);

  const all = [...literals(ts, checker, index, 'AuditLogKey'), ...literals(ts, checker, index, 'WebhookLogKey')];
  const union = new Set(all);
  if (union.size !== all.length) throw new Error('a key is both an audit and a webhook log key');
  const deprecated = new Set(literals(ts, checker, interaction, 'DeprecatedInteractionLogKey'));
  const legacy = new Set(LEGACY_LOGGED.flatMap(expandBraces));
  for (const key of legacy) {
    if (!deprecated.has(key)) throw new Error(`LEGACY_LOGGED: ${key} is no longer a deprecated key of ${name}@${version}`);
  }

  const keys = [];
  const notLogged = [];
  for (const key of union) {
    const verification = classifyVerification(key);
    const logged = verification !== null ? verification : !deprecated.has(key) || legacy.has(key);
    (logged ? keys : notLogged).push(key);
  }
  const sorted = (xs) => xs.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const out = {
    package: name,
    version,
    source: 'lib/types/log/index.d.ts: AuditLogKey | WebhookLogKey',
    generated_by: 'scripts/logto-keys/run.sh --write (rules in scripts/logto-keys/extract.js)',
    keys: sorted(keys),
    not_logged: sorted(notLogged),
  };
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

main();
