// Validates an AsyncAPI document with @asyncapi/parser (its Spectral rules and the AsyncAPI
// JSON Schema), resolving the `$ref`s to the published JSON Schema files relative to the
// document. Usage: node validate.mjs <document> [--allow-warnings]
// Exit 0: valid (prints a one-line JSON summary); 1: diagnostics (printed, one JSON per line);
// 2: usage or unreadable file. tests/contract/test_asyncapi.py runs it in `make test`.
import { Parser, fromFile, DiagnosticSeverity } from '@asyncapi/parser';
import fs from 'node:fs';
import path from 'node:path';

const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--'));
const allowWarnings = args.includes('--allow-warnings');
if (!file || !fs.existsSync(file)) {
  console.error(`usage: node validate.mjs <asyncapi document> [--allow-warnings] (got ${file})`);
  process.exit(2);
}

const counted = allowWarnings ? [DiagnosticSeverity.Error] : [DiagnosticSeverity.Error, DiagnosticSeverity.Warning];
const parser = new Parser();
const { document, diagnostics } = await fromFile(parser, path.resolve(file)).parse();
const failures = diagnostics.filter((d) => counted.includes(d.severity));
for (const d of failures) {
  console.error(JSON.stringify({ severity: d.severity, code: d.code, message: d.message,
                                 path: d.path.join('/'), source: d.source }));
}
if (!document || failures.length > 0) {
  console.error(`${file}: ${failures.length} diagnostic(s)${document ? '' : ', no document'}`);
  process.exit(1);
}

// Every message's payload must be resolved down to the published schema's properties.
const unresolved = [];
for (const message of document.allMessages()) {
  const text = JSON.stringify(message.payload()?.json() ?? null);
  if (text.includes('"$ref"')) unresolved.push(message.id());
}
if (unresolved.length > 0) {
  console.error(JSON.stringify({ severity: 0, code: 'unresolved-ref', message: 'payload keeps a $ref', messages: unresolved }));
  process.exit(1);
}
console.log(JSON.stringify({
  valid: true, version: document.version(),
  channels: document.allChannels().all().map((c) => c.id()),
  operations: document.allOperations().length,
  messages: document.allMessages().all().map((m) => m.id()),
}));
