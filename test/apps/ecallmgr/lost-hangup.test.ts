/** A call's end no call_events saw (lost-hangup.suite.ts), on the embedded bus. */
import { describe } from 'vitest';
import { lostHangupSuite } from './lost-hangup.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr: a hang-up no call_events saw, on the embedded bus', () =>
  lostHangupSuite((settings) => startHarness({ settings })));
