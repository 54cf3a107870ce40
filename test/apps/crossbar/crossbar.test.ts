/** crossbar's behaviour suites (crossbar.suite.ts, resources.suite.ts, extras.suite.ts) on the embedded store. */
import { describeCrossbar } from './crossbar.suite.ts';
import { describeExtras } from './extras.suite.ts';
import { describeResources } from './resources.suite.ts';

describeCrossbar('embedded store');
describeResources('embedded store');
describeExtras('embedded store');
