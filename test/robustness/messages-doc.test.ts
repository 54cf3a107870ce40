/**
 * docs/messages.md is the catalogue's own description of the wire: regenerated here in
 * memory and compared with the checked-in file, so a catalogue change without the doc fails.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../src/api/index.ts';
import { messagesDoc } from '../../src/api/messages-doc.ts';

describe('docs/messages.md', () => {
  it('is what `npm run docs:messages` generates from the catalogue', () => {
    const checkedIn = readFileSync(new URL('../../docs/messages.md', import.meta.url), 'utf8');
    const fresh = messagesDoc(catalogue);
    if (checkedIn !== fresh) {
      const lines = [checkedIn.split('\n'), fresh.split('\n')] as const;
      const at = lines[0].findIndex((l, i) => l !== lines[1][i]);
      expect.fail(
        `docs/messages.md is out of date (first difference at line ${at + 1}: ${JSON.stringify(lines[0][at])} vs ${JSON.stringify(lines[1][at])}); run \`npm run docs:messages\` and commit it`,
      );
    }
  });

  it('names every message of the catalogue with its exchange', () => {
    const doc = messagesDoc(catalogue);
    for (const def of catalogue.all()) {
      expect(doc).toContain(`### ${def.id}\n`);
      expect(doc).toMatch(
        new RegExp(
          `\\| \\[${def.id.replace('.', '\\.')}\\]\\([^)]*\\) \\| [^|]+ \\| ${def.route.exchange} \\|`,
        ),
      );
    }
  });
});
