/** channel_status_req answered by ecallmgr, on the embedded bus (see channel-status.suite.ts). */
import { describe } from 'vitest';
import { channelStatusSuite } from './channel-status.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr channel status on the embedded bus', () => channelStatusSuite(() => startHarness()));
