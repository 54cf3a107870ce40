/** tones, say, set, playseek and store on the embedded bus (see dialplan-commands.suite.ts). */
import { describe } from 'vitest';
import { dialplanCommandsSuite } from './dialplan-commands.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr dialplan commands on the embedded bus', () => dialplanCommandsSuite(() => startHarness()));
