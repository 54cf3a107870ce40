/**
 * Two registrars sharing one queue and one store, on the embedded bus (the suite:
 * two-registrars.suite.ts).
 */
import { twoRegistrarsSuite } from './two-registrars.suite.ts';

twoRegistrarsSuite();
