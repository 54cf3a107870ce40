/** callflow end to end on the embedded bus (see calls.suite.ts). */
import { describe } from 'vitest';
import { callflowSuite } from './calls.suite.ts';
import { startCfHarness } from './harness.ts';

describe('callflow calls on the embedded bus', () => callflowSuite((o) => startCfHarness(o)));
