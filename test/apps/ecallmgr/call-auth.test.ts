/** Calls from registered phones authenticated through ecallmgr and the registrar, on the embedded bus (see call-auth.suite.ts). */
import { describe } from 'vitest';
import { callAuthSuite } from './call-auth.suite.ts';
import { startHarness } from './harness.ts';

describe('call authentication on the embedded bus', () => callAuthSuite((o) => startHarness(o)));
