/**
 * reg_store on the embedded store (the suite: reg-store.suite.ts).
 */
import { regStoreSuite } from './reg-store.suite.ts';
import { startHarness } from './support.ts';

regStoreSuite(() => startHarness());
