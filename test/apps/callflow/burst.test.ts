/** The routing burst (burst.suite.ts) on the embedded bus. */
import { describe } from 'vitest';
import { burstSuite } from './burst.suite.ts';
import { startCfHarness } from './harness.ts';

describe('callflow: a burst of calls at routing (embedded bus)', () =>
  burstSuite(() => startCfHarness(), 100));
