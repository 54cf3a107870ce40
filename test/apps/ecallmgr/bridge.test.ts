/** ecallmgr's bridge on the embedded bus (see bridge.suite.ts). */
import { describe } from 'vitest';
import { bridgeSuite } from './bridge.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr bridge on the embedded bus', () => bridgeSuite(() => startHarness()));
