/** ecallmgr originate on the embedded bus (see originate.suite.ts). */
import { describe } from 'vitest';
import { originateSuite } from './originate.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr originate on the embedded bus', () => originateSuite(() => startHarness()));
