/** ecallmgr's call behaviour on the embedded bus (see calls.suite.ts). */
import { describe } from 'vitest';
import { callsSuite } from './calls.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr calls on the embedded bus', () => callsSuite(() => startHarness()));
