/** ecallmgr's unbridge and hangup Other-Leg-Only on the embedded bus (see unbridge.suite.ts). */
import { describe } from 'vitest';
import { unbridgeSuite } from './unbridge.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr unbridge on the embedded bus', () => unbridgeSuite(() => startHarness()));
