/** crossbar's behaviour suites (crossbar.suite.ts, resources.suite.ts) on the embedded store. */
import { describeCrossbar } from './crossbar.suite.ts';
import { describeResources } from './resources.suite.ts';

describeCrossbar('embedded store');
describeResources('embedded store');
