/**
 * `npm run docs:messages`: writes docs/messages.md from the catalogue (src/api/messages-doc.ts).
 * With `--check`, writes nothing and exits 1 when the checked-in file is out of date.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { catalogue } from '../src/api/index.ts';
import { messagesDoc } from '../src/api/messages-doc.ts';

const path = new URL('../docs/messages.md', import.meta.url);
const text = messagesDoc(catalogue);
if (process.argv.includes('--check')) {
  let current = '';
  try {
    current = readFileSync(path, 'utf8');
  } catch {
    // absent: out of date
  }
  if (current !== text) {
    process.stderr.write('docs/messages.md is out of date: run `npm run docs:messages`\n');
    process.exit(1);
  }
} else {
  writeFileSync(path, text);
  process.stdout.write(`wrote docs/messages.md (${catalogue.all().length} messages)\n`);
}
