/** ACDC ringing agents by originate, on the embedded bus (see originate.suite.ts). */
import { describe } from 'vitest';
import { startCfHarness } from '../callflow/harness.ts';
import { originateSuite } from './originate.suite.ts';

describe('acdc originate on the embedded bus', () => originateSuite(() => startCfHarness()));
