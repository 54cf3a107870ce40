/** ecallmgr's switch commands on the embedded bus (see switch-commands.suite.ts). */
import { describe } from 'vitest';
import { switchCommandsSuite } from './switch-commands.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr switch commands on the embedded bus', () => switchCommandsSuite(() => startHarness()));
