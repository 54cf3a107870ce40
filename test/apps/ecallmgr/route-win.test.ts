/** ecallmgr's route_win to a gone winner on the embedded bus (see route-win.suite.ts). */
import { describe } from 'vitest';
import { routeWinSuite } from './route-win.suite.ts';
import { startHarness } from './harness.ts';

describe('ecallmgr route_win to a gone winner on the embedded bus', () =>
  routeWinSuite(() => startHarness()));
