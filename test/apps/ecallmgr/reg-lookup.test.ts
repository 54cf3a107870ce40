/** ecallmgr's reg_lookup and the registrations it hears, on the embedded bus (see reg-lookup.suite.ts). */
import { describe } from 'vitest';
import { regLookupSuite } from './reg-lookup.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr reg_lookup on the embedded bus', () => regLookupSuite(() => startHarness()));
