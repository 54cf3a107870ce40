/** crossbar's behaviour suite (crossbar.suite.ts) on the embedded store. */
import { describeCrossbar } from './crossbar.suite.ts';

describeCrossbar('embedded store');
